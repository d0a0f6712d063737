'use strict';
/* An Interest the edge could not send is made good without a reconnect
 * (edge/interest_resync.c).
 *
 * The edge sends Interest add/remove to its bridge with a non-blocking
 * send (pair1, NNG_OPT_SENDBUF 1024). Here 2100 channels are live first
 * (21 clients x 100, confirmed); then the bridge is SIGSTOPped (only its
 * pid), so nothing drains that queue; 3000 more distinct channels are
 * subscribed (30 clients x 100) and one live channel is unsubscribed: most
 * of those Interests cannot be sent (swb_edge_bridge_send_failures_total
 * grows). After SIGCONT the edge re-sends its whole interest set as an
 * InterestSync in chunks (5100 channels: more than one): every new
 * subscriber gets subscription_succeeded and then an event published
 * afterwards, the live ones keep receiving, the unsubscribed channel's
 * Redis subscription goes away (the bridge dropped the edge's interest),
 * and no other channel left Redis on the way (the set is replaced at the
 * last chunk, not chunk by chunk: INFO commandstats, hence its own Redis).
 * Before the fix the lost adds were never confirmed (subscribers waited
 * until a bridge reconnect) and the lost remove kept the channel
 * subscribed. */

const assert = require('node:assert/strict');
const { before, after } = require('node:test');
const { Cluster, waitFor, api } = require('../lib/cluster');
const prom = require('../lib/prom');

const c = new Cluster('interest_resync', { ownRedis: true });
const LIVE = 21;
const FLOOD = 30;
const PER_CLIENT = 100; /* SWB_EDGE_MAX_SUBS */
const SUCCEEDED = 'pusher_internal:subscription_succeeded';
let host;
let edge;
const live = [];
const flood = [];
let goneClient;
let unsub0;

async function metric(name) {
  const r = await api.get(edge.port, '/metrics');
  assert.equal(r.status, 200);
  return prom.value(prom.parse(r.text), name) || 0;
}

/* UNSUBSCRIBE commands Redis has served (the bridge sends one per channel). */
async function unsubscribes() {
  const info = String(await c.redis('INFO', 'commandstats'));
  const m = /cmdstat_unsubscribe:calls=(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}

const chan = (kind, k, i) => `rs-${kind}${k}-${i}`;

function subscribeAll(clients, kind) {
  clients.forEach((cl, k) => { for (let i = 0; i < PER_CLIENT; i++) cl.subscribeNoWait(chan(kind, k, i)); });
}

function waitSucceeded(clients, kind, timeout) {
  return Promise.all(clients.map((cl, k) => waitFor(() => cl.framesOf(SUCCEEDED).length === PER_CLIENT,
    { timeout, what: `${kind}${k}: ${PER_CLIENT} subscription_succeeded (has ${cl.framesOf(SUCCEEDED).length})` })));
}

/* Publishes one `name` event to each channel of each client and waits
 * until every client got it once on each of its channels. */
async function publishAndReceive(clients, kind, name) {
  for (let k = 0; k < clients.length; k++) {
    const channels = Array.from({ length: PER_CLIENT }, (_, i) => chan(kind, k, i));
    const r = await c.publish(edge, { name, channels, data: JSON.stringify({ k }) });
    assert.equal(r.status, 200, r.text);
  }
  await Promise.all(clients.map((cl, k) => waitFor(() => cl.events({ event: name }).length === PER_CLIENT,
    { timeout: 30000, what: `${kind}${k}: ${PER_CLIENT} '${name}' events (has ${cl.events({ event: name }).length})` })));
  clients.forEach((cl, k) => {
    const got = new Set(cl.events({ event: name }).map((m) => m.channel));
    assert.equal(got.size, PER_CLIENT, `${kind}${k} got '${name}' on each of its channels once`);
  });
}

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  edge = await c.addEdge(host);
  goneClient = await c.connect(edge, { name: 'gone' });
  await goneClient.subscribe('rs-gone');
  for (let k = 0; k < LIVE; k++) live.push(await c.connect(edge, { name: `live${k}` }));
  for (let k = 0; k < FLOOD; k++) flood.push(await c.connect(edge, { name: `flood${k}` }));
  subscribeAll(live, 'live');
  await waitSucceeded(live, 'live', 30000);
  await c.waitNumsub('rs-gone', 1);
});

after(async () => {
  if (host && host.bridge && host.bridge.alive) {
    try { process.kill(host.bridge.pid, 'SIGCONT'); } catch (e) { /* gone */ }
  }
  await c.stop();
});

c.test('lost Interest adds and removes are re-sent once the bridge reads again', async () => {
  const fail0 = await metric('swb_edge_bridge_send_failures_total');
  unsub0 = await unsubscribes();
  process.kill(host.bridge.pid, 'SIGSTOP');
  let stopped = true;
  try {
    subscribeAll(flood, 'flood');
    await Promise.all(flood.map((cl) => cl.ping({ timeout: 20000 }))); /* every subscribe handled */
    await waitFor(async () => (await metric('swb_edge_bridge_send_failures_total')) > fail0,
      { what: 'the edge failing to send to the stopped bridge' });
    goneClient.unsubscribe('rs-gone');
    await goneClient.ping(); /* handled: its Interest(remove) met the full queue too */
    const failed = await metric('swb_edge_bridge_send_failures_total') - fail0;
    console.log(`# sends that failed while the bridge was stopped: ${failed}`);
    for (const cl of flood) {
      assert.equal(cl.framesOf(SUCCEEDED).length, 0, 'nobody is told before the bridge confirms');
    }
    process.kill(host.bridge.pid, 'SIGCONT');
    stopped = false;
  } finally {
    if (stopped) process.kill(host.bridge.pid, 'SIGCONT');
  }

  await waitSucceeded(flood, 'flood', 30000);
  await publishAndReceive(flood, 'flood', 'after');
  await publishAndReceive(live, 'live', 'after');
  assert.ok(await metric('swb_edge_interest_resyncs_total') >= 1, 'the edge counted a resync');
});

c.test('a channel unsubscribed while the bridge stalled is dropped by the bridge, no other', async () => {
  await c.waitNumsub('rs-gone', 0, { timeout: 20000 });
  assert.equal(await c.numsub(chan('live', LIVE - 1, PER_CLIENT - 1)), 1, 'a channel still wanted stays subscribed');
  /* the resync replaced the set without dropping what it kept, even
   * between its chunks: rs-gone is the only channel that left Redis */
  assert.equal(await unsubscribes() - unsub0, 1, 'UNSUBSCRIBEs since the stall');
});
