'use strict';
/* Issue #2: interest, not broadcast. A channel with subscribers only on
 * host B is not subscribed on Redis by host A's bridge (PUBSUB and
 * `swbctl --json status`), and it disappears from PUBSUB CHANNELS when its
 * last subscriber leaves (by unsubscribe or by disconnecting). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, clientList, waitFor } = require('../lib/cluster');
const { waitDeliveryWorks } = require('../lib/deliveries');

const c = new Cluster('interest');
let a;
let b;
let a1;
let a2;
let b1;

before(async () => {
  await c.startRedis();
  a = await c.addHost('a');
  b = await c.addHost('b');
  a1 = await c.addEdge(a);
  a2 = await c.addEdge(a);
  b1 = await c.addEdge(b);
});

after(() => c.stop());

async function subCount(host) {
  const me = (await clientList(c.redisUrl)).find((x) => x.name === `swb-${host.hostId}-sub`);
  assert.ok(me, `no swb-${host.hostId}-sub connection in CLIENT LIST`);
  return c.channelSubs(me);
}

const inStatus = async (host, ch) => (await c.status(host)).channels.includes(c.redisChannel(ch));
const inPubsub = async (ch) => (await c.pubsubChannels()).includes(c.redisChannel(ch));

c.test('a channel with subscribers only on host B is subscribed by B\'s bridge only', async () => {
  const ch = uniqueId('only-b');
  const cb = await c.connect(b1, { name: 'b-sub' });
  await cb.subscribe(ch);
  await waitFor(() => inStatus(b, ch), { what: `host B status lists ${ch}` });
  await c.waitNumsub(ch, 1);
  assert.equal(await inStatus(a, ch), false, 'host A\'s bridge must not subscribe to a channel only B cares about');
  assert.equal(await c.numsub(ch), 1, 'exactly one bridge (B) is subscribed');
  assert.equal(await subCount(a), 0, 'host A\'s subscribe connection holds no subscription');
  assert.equal(await subCount(b), 1);
  /* A publish on host A still reaches B's subscriber through Redis. */
  await waitDeliveryWorks((body) => c.publish(a1, body), ch, [cb]);
  assert.equal(await inStatus(a, ch), false, 'publishing on A does not make A subscribe');

  /* A subscriber on A now: both bridges subscribe. */
  const ca = await c.connect(a2, { name: 'a-sub' });
  await ca.subscribe(ch);
  await c.waitNumsub(ch, 2);
  await waitFor(() => inStatus(a, ch), { what: `host A status lists ${ch}` });
  ca.unsubscribe(ch);
  await c.waitNumsub(ch, 1);
  await waitFor(async () => !(await inStatus(a, ch)), { what: `host A status drops ${ch}` });
  assert.equal(await inStatus(b, ch), true);

  /* The last subscriber leaves by unsubscribing. */
  cb.unsubscribe(ch);
  await waitFor(async () => !(await inPubsub(ch)), { what: `${ch} gone from PUBSUB CHANNELS` });
  await waitFor(async () => !(await inStatus(b, ch)), { what: `host B status drops ${ch}` });
  assert.equal(await subCount(b), 0);
});

c.test('two subscribers on two edges of one host: the channel stays until the last one leaves', async () => {
  const ch = uniqueId('two-edges');
  const c1 = await c.connect(a1, { name: 'a1-sub' });
  const c2 = await c.connect(a2, { name: 'a2-sub' });
  await c1.subscribe(ch);
  await c2.subscribe(ch);
  await c.waitNumsub(ch, 1);
  await waitDeliveryWorks((body) => c.publish(b1, body), ch, [c1, c2]);

  /* First leaves by unsubscribing: the other still gets events. */
  c1.unsubscribe(ch);
  await c1.ping();
  const before1 = c1.events({ channel: ch }).length;
  await waitDeliveryWorks((body) => c.publish(b1, body), ch, [c2]);
  await c1.ping();
  assert.equal(c1.events({ channel: ch }).length, before1, 'an unsubscribed client got an event');
  assert.equal(await c.numsub(ch), 1);
  assert.equal(await inStatus(a, ch), true);

  /* Last leaves by closing its connection. */
  await c2.close();
  await waitFor(async () => !(await inPubsub(ch)), { what: `${ch} gone from PUBSUB CHANNELS after disconnect` });
  await waitFor(async () => !(await inStatus(a, ch)), { what: `host A status drops ${ch}` });
});

c.test('a host whose last subscriber disconnects abruptly (TCP reset) drops the channel too', async () => {
  const ch = uniqueId('abrupt');
  const cl = await c.connect(b1, { name: 'abrupt' });
  await cl.subscribe(ch);
  await c.waitNumsub(ch, 1);
  cl.terminate();
  await waitFor(async () => !(await inPubsub(ch)), { what: `${ch} gone from PUBSUB CHANNELS after reset` });
});

c.test('an edge killed with -9: its bridge drops that edge\'s interests', async () => {
  const b2 = await c.addEdge(b);
  const ch = uniqueId('edge-dies');
  const cl = await c.connect(b2, { name: 'on-doomed-edge' });
  await cl.subscribe(ch);
  await c.waitNumsub(ch, 1);
  await waitFor(() => inStatus(b, ch), { what: `host B status lists ${ch}` });
  await b2.proc.kill9();
  await waitFor(async () => !(await inPubsub(ch)), { what: `${ch} gone from PUBSUB CHANNELS after its edge died` });
  await waitFor(async () => (await c.status(b)).edges.length === 1, { what: 'host B lists one edge again' });
  await cl.waitClose();
});

c.test('status shows the edges of each host and no channel of the other', async () => {
  const sa = await c.status(a);
  const sb = await c.status(b);
  assert.equal(sa.edges.length, 2);
  assert.equal(sb.edges.length, 1);
  assert.equal(sa.host_id, a.hostId);
  assert.equal(sb.host_id, b.hostId);
  for (const x of [...sa.channels, ...sb.channels]) {
    assert.ok(x.startsWith(`${c.prefix}:`), `channel ${x} outside this test's prefix`);
  }
});
