'use strict';
/* No event lost between pusher_internal:subscription_succeeded and this
 * host's Redis SUBSCRIBE (issues #3 / #6: no lost messages).
 *
 * A Pusher client may assume it receives everything published after its
 * subscription_succeeded (app backends do "client says subscribed ->
 * backend triggers"). For the first subscriber of a channel on a host the
 * events only reach the host once Redis confirmed its bridge's SUBSCRIBE,
 * so the edge answers only then (InterestReady, edge/sub_wait.c). Host A's
 * bridge reaches Redis through tests/lib/tcp_proxy.js, which forwards its
 * subscribe connection's commands 400 ms late; host B publishes the moment
 * a client on A sees subscription_succeeded: every event must arrive.
 * Also: unsubscribe (and close) while waiting, presence and cache channels
 * (exactly one subscription_succeeded, in order), the subscribe connection
 * lost or the bridge restarted while waiting, a second subscriber of a
 * ready channel (no wait), another edge of the host (no Redis round trip)
 * and `--redis none`. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor, api, clientList, redisCommand } = require('../lib/cluster');
const { TcpProxy } = require('../lib/tcp_proxy');
const { authorize } = require('../lib/backend');
const prom = require('../lib/prom');

const c = new Cluster('subscribe_ack', { ownRedis: true }); /* the proxy needs its port */
const SUCCEEDED = 'pusher_internal:subscription_succeeded';
const N = 20; /* events published right after subscription_succeeded */
let proxy;
let hostA;
let edgeA;
let edgeA2;
let edgeB;
let edgeSolo;

before(async () => {
  await c.startRedis();
  proxy = new TcpProxy(c.redisPort);
  await proxy.start();
  hostA = await c.addHost('a', { redis: proxy.url });
  const b = await c.addHost('b');
  const solo = await c.addHost('solo', { redis: 'none' });
  proxy.delayUp(`swb-${hostA.hostId}-sub`, 400);
  edgeA = await c.addEdge(hostA);
  edgeA2 = await c.addEdge(hostA);
  edgeB = await c.addEdge(b);
  edgeSolo = await c.addEdge(solo);
});

after(async () => {
  await c.stop();
  if (proxy) await proxy.close();
});

async function metric(edge, name) {
  const r = await api.get(edge.port, '/metrics');
  assert.equal(r.status, 200);
  return prom.value(prom.parse(r.text), name);
}

/* The moment s receives subscription_succeeded on ch, publish N events on
 * ch through pubEdge (one after the other). Returns () => the promise of
 * that publishing (null before it started) and a detach function. */
function publishOnSucceeded(s, ch, pubEdge) {
  let started = null;
  const publishAll = async () => {
    for (let i = 1; i <= N; i++) await c.publish(pubEdge, { name: 'v', channels: [ch], data: JSON.stringify({ seq: i }) });
  };
  const onMsg = (data) => {
    let m;
    try { m = JSON.parse(data.toString('utf8')); } catch (e) { return; }
    if (!started && m.event === SUCCEEDED && m.channel === ch) started = publishAll();
  };
  s.ws.on('message', onMsg);
  return { started: () => started, detach: () => s.ws.off('message', onMsg) };
}

/* After subscribeNoWait at index from: wait for subscription_succeeded and
 * for the publishing it started; resolves with the sequence numbers s
 * received on ch after it (once the last one arrived or 10 s passed), the
 * frames on ch before it and the number of subscription_succeeded. */
async function collect(s, ch, from, pub) {
  await s.waitMessage((m) => m.event === SUCCEEDED && m.channel === ch, { from, timeout: 20000, what: `${SUCCEEDED} on ${ch}` });
  await waitFor(() => pub.started() !== null, { what: 'publishing started' });
  await pub.started();
  pub.detach();
  const k = s.messages.findIndex((m, i) => i >= from && m.event === SUCCEEDED && m.channel === ch);
  const seqs = () => s.messages.slice(k + 1).filter((m) => m.channel === ch && m.event === 'v').map((m) => JSON.parse(m.data).seq);
  await waitFor(() => seqs().includes(N), { timeout: 10000, what: `event ${N} on ${ch}` }).catch(() => {});
  const before = s.messages.slice(from, k).filter((m) => m.channel === ch);
  return { seqs: seqs(), before, succeeded: s.messages.slice(from).filter((m) => m.event === SUCCEEDED && m.channel === ch).length };
}

async function subscribeThenPublish(s, ch, pubEdge, { auth, channelData } = {}) {
  const pub = publishOnSucceeded(s, ch, pubEdge);
  const t0 = Date.now();
  const from = s.subscribeNoWait(ch, { auth, channelData });
  await s.waitMessage((m) => m.event === SUCCEEDED && m.channel === ch, { from, what: `${SUCCEEDED} on ${ch}` });
  const ms = Date.now() - t0;
  return { ms, ...await collect(s, ch, from, pub) };
}

const ALL = Array.from({ length: N }, (_, i) => i + 1);

c.test('first subscriber on a host whose SUBSCRIBE is late: every event published after subscription_succeeded arrives', async (t) => {
  const problems = [];
  for (let r = 0; r < 3; r++) {
    const ch = uniqueId('fresh');
    const s = await c.connect(edgeA, { name: `fresh${r}` });
    const got = await subscribeThenPublish(s, ch, edgeB);
    t.diagnostic(`round ${r}: subscription_succeeded after ${got.ms} ms; got ${got.seqs.length}/${N} events`);
    if (got.before.length) problems.push(`round ${r}: frames before ${SUCCEEDED}: ${JSON.stringify(got.before)}`);
    if (got.succeeded !== 1) problems.push(`round ${r}: ${got.succeeded} x ${SUCCEEDED}`);
    if (JSON.stringify(got.seqs) !== JSON.stringify(ALL)) problems.push(`round ${r}: got [${got.seqs.join(',')}] of ${N}`);
    s.close();
  }
  assert.deepEqual(problems, []);
  assert.ok(await metric(edgeA, 'swb_edge_subscription_waits_total') >= 3);
});

c.test('presence and cache channels: exactly one subscription_succeeded, first, and no event lost after it', async () => {
  const s = await c.connect(edgeA, { name: 'pres' });
  const pres = `presence-${uniqueId('p')}`;
  const a = authorize(c.app, s.socketId, pres, { user: 'u1', userInfo: { n: 1 } });
  const got = await subscribeThenPublish(s, pres, edgeB, { auth: a.auth, channelData: a.channel_data });
  assert.deepEqual(got.before, []);
  assert.equal(got.succeeded, 1);
  assert.deepEqual(got.seqs, ALL);
  const m = s.find((x) => x.event === SUCCEEDED && x.channel === pres);
  assert.deepEqual(JSON.parse(m.data).presence.ids, ['u1']);

  const cache = `cache-${uniqueId('c')}`;
  const got2 = await subscribeThenPublish(s, cache, edgeB);
  assert.deepEqual(got2.before, []);
  assert.equal(got2.succeeded, 1);
  const k = s.messages.findIndex((x) => x.event === SUCCEEDED && x.channel === cache);
  /* the cache answer right after it: a miss, or a hit with the first
   * event published after it (then not delivered twice) */
  assert.ok(['pusher:cache_miss', 'v'].includes(s.messages[k + 1].event), JSON.stringify(s.messages[k + 1]));
  assert.deepEqual(got2.seqs, ALL);
});

c.test('unsubscribe or close while waiting: nothing is sent, the channel is left, the waiting gauge goes back to 0', async () => {
  const x = await c.connect(edgeA, { name: 'quitter' });
  const y = await c.connect(edgeA, { name: 'closer' });
  const ch = uniqueId('left');
  const ch2 = uniqueId('closed');
  const from = x.subscribeNoWait(ch);
  x.unsubscribe(ch);
  y.subscribeNoWait(ch2);
  await waitFor(async () => (await metric(edgeA, 'swb_edge_subscriptions_waiting')) === 1, { what: 'one waiting subscription' });
  await y.close();
  /* re-subscribing while the first add is still in flight: one answer */
  const again = uniqueId('again');
  const from2 = x.subscribeNoWait(again);
  x.unsubscribe(again);
  x.subscribeNoWait(again);
  /* a later subscriber on the same edge: by its answer, host A's sub
   * connection has handled the channels' SUBSCRIBE and UNSUBSCRIBE */
  const z = await c.connect(edgeA, { name: 'later' });
  await z.subscribe(uniqueId('later'));
  await x.waitMessage((m) => m.event === SUCCEEDED && m.channel === again, { from: from2, what: `${SUCCEEDED} on ${again}` });
  await c.publish(edgeB, { name: 'v', channels: [ch, ch2], data: '{}' });
  await c.publish(edgeB, { name: 'v', channels: [again], data: '{"last":1}' });
  await x.waitMessage((m) => m.channel === again && m.event === 'v', { from: from2, what: 'the event on the re-subscribed channel' });
  await x.ping();
  assert.deepEqual(x.messages.slice(from).filter((m) => m.channel === ch), [], 'nothing for the channel left while waiting');
  assert.equal(x.messages.filter((m) => m.event === SUCCEEDED && m.channel === again).length, 1);
  assert.equal(await metric(edgeA, 'swb_edge_subscriptions_waiting'), 0);
  await waitFor(async () => (await c.numsub(ch)) === 0 && (await c.numsub(ch2)) === 0, { what: 'host A left both channels' });
});

c.test('--redis none: subscription_succeeded at once, every event after it arrives', async () => {
  const s = await c.connect(edgeSolo, { name: 'solo' });
  const got = await subscribeThenPublish(s, uniqueId('solo'), edgeSolo);
  assert.deepEqual(got.before, []);
  assert.equal(got.succeeded, 1);
  assert.deepEqual(got.seqs, ALL);
});

c.test('subscribe connection lost while a subscription waits: answered once the reconnected one re-SUBSCRIBEd', async () => {
  const s = await c.connect(edgeA, { name: 'across-sub-loss' });
  const ch = uniqueId('subloss');
  const lost0 = (await c.status(hostA)).counters.redis_lost;
  const pub = publishOnSucceeded(s, ch, edgeB);
  const from = s.subscribeNoWait(ch);
  await waitFor(async () => (await metric(edgeA, 'swb_edge_subscriptions_waiting')) === 1, { what: 'the subscription waiting' });
  /* its SUBSCRIBE is still in the proxy: kill the connection it was sent on */
  const mine = (await clientList(c.redisUrl)).filter((x) => x.name === `swb-${hostA.hostId}-sub`);
  assert.equal(mine.length, 1);
  assert.equal(await redisCommand(c.redisUrl, ['CLIENT', 'KILL', 'ID', mine[0].id]), 1);
  const got = await collect(s, ch, from, pub);
  assert.ok((await c.status(hostA)).counters.redis_lost > lost0, 'the subscribe connection was lost');
  assert.deepEqual(got.before, []);
  assert.equal(got.succeeded, 1);
  assert.deepEqual(got.seqs, ALL);
});

c.test('bridge restarted while a subscription waits: it is answered once the new bridge\'s SUBSCRIBE is confirmed', async () => {
  const s = await c.connect(edgeA, { name: 'across-restart' });
  const ch = uniqueId('restart');
  const pub = publishOnSucceeded(s, ch, edgeB);
  const from = s.subscribeNoWait(ch);
  await waitFor(async () => (await metric(edgeA, 'swb_edge_subscriptions_waiting')) === 1, { what: 'the subscription waiting' });
  await c.kill9Bridge(hostA); /* its SUBSCRIBE is still in the proxy */
  assert.equal(s.find((m) => m.event === SUCCEEDED && m.channel === ch, from), undefined);
  await c.startBridge(hostA);
  const got = await collect(s, ch, from, pub);
  assert.deepEqual(got.before, []);
  assert.equal(got.succeeded, 1);
  assert.deepEqual(got.seqs, ALL);
  /* both edges back on the new bridge (bounded generously: a sanitizer
   * build on a loaded machine re-links slowly) */
  await c.waitEdgeReady(edgeA, { timeout: 30000 });
  await c.waitEdgeReady(edgeA2, { timeout: 30000 });
});

/* Last: it raises host A's delay (a lower one later could reorder). */
c.test('a channel the host is subscribed to: no wait on the same edge, no Redis round trip on another edge', async () => {
  const ch = uniqueId('shared');
  const p = await c.connect(edgeA, { name: 'first' });
  await p.subscribe(ch);
  const waits = await metric(edgeA, 'swb_edge_subscription_waits_total');
  const q = await c.connect(edgeA, { name: 'second' });
  await q.subscribe(ch);
  assert.equal(await metric(edgeA, 'swb_edge_subscription_waits_total'), waits, 'the second subscriber on the edge did not wait');
  /* Another edge of host A: answered from the bridge's state, while a fresh
   * channel subscribed just before waits for Redis (now 5 s late). */
  proxy.delayUp(`swb-${hostA.hostId}-sub`, 5000);
  const r = await c.connect(edgeA2, { name: 'other-edge' });
  const fresh = uniqueId('slow');
  const from = r.subscribeNoWait(fresh);
  r.subscribeNoWait(ch);
  await r.waitMessage((m) => m.event === SUCCEEDED && m.channel === ch, { from, what: `${SUCCEEDED} on ${ch}` });
  assert.equal(r.find((m) => m.event === SUCCEEDED && m.channel === fresh, from), undefined,
    'the subscribed channel was answered before the fresh one, which waits for Redis');
  await c.publish(edgeB, { name: 'v', channels: [ch], data: '{}' });
  for (const s of [p, q, r]) await s.waitMessage((m) => m.channel === ch && m.event === 'v', { what: `the event on ${ch}` });
  await r.waitMessage((m) => m.event === SUCCEEDED && m.channel === fresh, { from, timeout: 20000, what: `${SUCCEEDED} on ${fresh}` });
});
