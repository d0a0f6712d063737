'use strict';
/* A client that subscribes and then stops reading is disconnected once its
 * send queue passes --max-queue (close code 4100 when the close frame can
 * still be seen), and counted; a normal client on the same channel keeps
 * receiving every event. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { waitDeliveryWorks, countIds } = require('../lib/deliveries');

const c = new Cluster('slow_consumer');
const CH = uniqueId('slow');
let host;
let edge;

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  edge = await c.addEdge(host, { args: ['--max-queue', '65536'] });
});

after(() => c.stop());

c.test('a client that stops reading is disconnected; a reading client on the same channel gets everything', async () => {
  const normal = await c.connect(edge, { name: 'normal' });
  await normal.subscribe(CH);
  const slow = c.rawWs(edge, `/app/${c.app.key}?protocol=7`);
  await slow.open();
  await slow.subscribe(CH);
  await waitDeliveryWorks((body) => c.publish(edge, body), CH, [normal]);
  slow.pause(); /* never read again: the kernel buffers fill, then the edge's queue */

  const pad = 'p'.repeat(9000);
  const ids = [];
  const slowDisconnected = async () => {
    const st = await c.status(host);
    const me = st.edges.find((x) => x.listen === `127.0.0.1:${edge.port}`) || st.edges[0];
    return me && me.slow_disconnects > 0;
  };
  /* Publish 9 KB events until the edge reports the slow disconnect; kernel
   * socket buffers on loopback take several MB before the edge's queue
   * even starts to grow, hence the cap of 3,000 events (27 MB). */
  let seen = false;
  while (!seen && ids.length < 3000) {
    /* 40 events per round, 4 requests in flight at a time. */
    const round = Array.from({ length: 40 }, () => uniqueId('big'));
    ids.push(...round);
    const queue = [...round];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        await c.publish(edge, { name: 'big', channels: [CH], data: JSON.stringify({ id, pad }) });
      }
    }));
    /* Keep the reader draining so only the paused client falls behind. */
    await waitFor(() => countIds(normal).size >= ids.length, { timeout: 15000, what: 'normal client keeps up' });
    seen = await slowDisconnected();
  }
  assert.ok(seen, `no slow_disconnects reported by swbctl after ${ids.length} events of 9 KB with --max-queue 65536`);

  /* Now read what is left: the server must have closed the connection. */
  slow.resume();
  await waitFor(() => slow.ended, { timeout: 15000, what: 'the slow client\'s socket to be closed by the server' });
  if (slow.closeCode !== null) assert.equal(slow.closeCode, 4100, 'close code for a slow consumer');
  const slowGot = slow.texts().filter((m) => m.event === 'big').length;
  assert.ok(slowGot < ids.length, `the slow client got all ${ids.length} events, so it was not cut off`);

  /* The normal client got every event exactly once and is still open. */
  await normal.ping();
  const counts = countIds(normal);
  for (const id of ids) assert.equal(counts.get(id), 1, `normal client: event ${id} x${counts.get(id) || 0}`);
  assert.equal(normal.closeInfo, null);
  await waitDeliveryWorks((body) => c.publish(edge, body), CH, [normal]);
  process.stderr.write(`# slow consumer cut off after ${ids.length} events; it had read ${slowGot}; close code ${slow.closeCode}\n`);
});
