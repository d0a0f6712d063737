'use strict';
/* `swb-bridge --redis none`: one host without Redis. Edges of that host
 * still meet through the bridge (publish on one edge, deliver on another),
 * and swbctl reports redis mode/state "none". */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId } = require('../lib/cluster');
const { Ledger, waitDeliveryWorks } = require('../lib/deliveries');

const c = new Cluster('single_host');
let host;
let edges;
let subs;
let others;
const CH = uniqueId('solo');

before(async () => {
  host = await c.addHost('a', { redis: 'none' });
  edges = [await c.addEdge(host), await c.addEdge(host)];
  subs = [];
  others = [];
  for (const e of edges) {
    const s1 = await c.connect(e, { name: `${e.name}/sub` });
    await s1.subscribe(CH);
    subs.push(s1);
    const o = await c.connect(e, { name: `${e.name}/other` });
    await o.subscribe(uniqueId('elsewhere'));
    others.push(o);
  }
  for (const e of edges) await waitDeliveryWorks((body) => c.publish(e, body), CH, subs);
});

after(() => c.stop());

c.test('swbctl status: redis mode and state are "none"', async () => {
  const st = await c.status(host);
  assert.equal(st.redis.mode, 'none');
  assert.equal(st.redis.state, 'none');
  assert.equal(st.edges.length, 2);
});

c.test('a publish on either edge reaches the subscribers of both, exactly once, and nobody else', async () => {
  const all = [...subs, ...others];
  const ledger = new Ledger(all);
  for (const e of edges) {
    for (let k = 0; k < 5; k++) {
      const id = uniqueId('solo');
      const r = await c.request(e, { body: { name: 'solo', channels: [CH], data: JSON.stringify({ id }) } });
      assert.equal(r.status, 200, r.text);
      ledger.expect(id, subs, { event: 'solo', channels: [CH] });
    }
  }
  await ledger.waitAll();
  await Promise.all(all.map((cl) => cl.ping()));
  ledger.assertExact();
});

c.test('socket_id exclusion on a single host', async () => {
  const ledger = new Ledger(subs);
  const id = uniqueId('excl');
  await c.publish(edges[0], { name: 'excl', channels: [CH], data: JSON.stringify({ id }), socket_id: subs[1].socketId });
  ledger.expect(id, [subs[0]]);
  const fence = uniqueId('fence');
  await c.publish(edges[0], { name: 'fence', channels: [CH], data: JSON.stringify({ id: fence }) });
  ledger.expect(fence, subs);
  await ledger.waitAll();
  await Promise.all(subs.map((cl) => cl.ping()));
  ledger.assertExact();
});
