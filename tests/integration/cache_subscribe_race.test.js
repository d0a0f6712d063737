'use strict';
/* Cache channels, no gap when this host subscribes late (issue #3).
 *
 * A new subscriber of a cache channel gets the last event (read on the
 * bridge's cmd connection) and then every later event live (on its sub
 * connection). If Redis ran the read before this host's SUBSCRIBE, an
 * event published between the two would be lost for that subscriber. Here
 * host A's bridge reaches Redis through tests/lib/tcp_proxy.js, which
 * forwards its subscribe connection's commands 400 ms late, while host B
 * publishes one event after the other: every subscriber on A must see the
 * cached event and then each later event once, in order, with no gap. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { TcpProxy } = require('../lib/tcp_proxy');

const c = new Cluster('cache_subscribe_race', { ownRedis: true }); /* the proxy needs its port */
let proxy;
let edgeA;
let edgeB;

before(async () => {
  await c.startRedis();
  proxy = new TcpProxy(c.redisPort);
  await proxy.start();
  const a = await c.addHost('a', { redis: proxy.url });
  const b = await c.addHost('b');
  proxy.delayUp(`swb-${a.hostId}-sub`, 400);
  edgeA = await c.addEdge(a);
  edgeB = await c.addEdge(b);
});

after(async () => {
  await c.stop();
  if (proxy) await proxy.close();
});

c.test('a late SUBSCRIBE on the subscriber\'s host: cached event, then every later event, no gap', async () => {
  const problems = [];
  for (let r = 0; r < 3; r++) {
    const ch = `cache-${uniqueId('late')}`;
    let stop = false;
    let seq = 0;
    const pub = (async () => {
      while (!stop) await c.publish(edgeB, { name: 'v', channels: [ch], data: JSON.stringify({ seq: ++seq }) });
    })();
    await waitFor(() => seq >= 3, { what: 'the first events published' });
    const s = await c.connect(edgeA, { name: `late${r}` });
    await s.subscribe(ch); /* host A's first subscriber: its bridge SUBSCRIBEs now, 400 ms late */
    const from = seq;
    const k = s.messages.findIndex((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === ch);
    const seqs = () => s.messages.slice(k + 1).filter((m) => m.channel === ch && m.event === 'v').map((m) => JSON.parse(m.data).seq);
    /* Publish on until live events published after the subscribe arrive
     * (the delayed SUBSCRIBE took effect), then 10 more. */
    await waitFor(() => seqs().some((x) => x > from + 1), { timeout: 30000, what: `round ${r}: live events after subscribing` });
    const mark = seq;
    await waitFor(() => seq >= mark + 10, { timeout: 30000, what: '10 more events published' });
    stop = true;
    await pub;
    await waitFor(() => seqs().includes(seq), { timeout: 10000, what: `the last event (${seq})` }).catch(() => {});
    const got = seqs();
    if (!got.includes(seq)) problems.push(`round ${r}: the last event (${seq}) never arrived; got ${got.join(',')}`);
    for (let j = 1; j < got.length; j++) {
      if (got[j] !== got[j - 1] + 1) {
        problems.push(`round ${r}: ${got.slice(Math.max(0, j - 2), j + 3).join(',')} (first after subscribing: ${got[0]})`);
        break;
      }
    }
    s.close();
  }
  assert.deepEqual(problems, []);
});
