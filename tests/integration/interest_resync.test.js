'use strict';
/* An Interest the edge could not send is made good without a reconnect
 * (edge/interest_resync.c).
 *
 * The edge sends Interest add/remove to its bridge with a non-blocking
 * send (pair1, NNG_OPT_SENDBUF 1024). Here the bridge is SIGSTOPped (only
 * its pid), so nothing drains that queue; 3000 distinct channels are then
 * subscribed (30 clients x 100) and one channel that was live before is
 * unsubscribed: most of those Interests cannot be sent
 * (swb_edge_bridge_send_failures_total grows). After SIGCONT the edge
 * re-sends its whole interest set (an InterestSync in chunks: 3000 is more
 * than one chunk): every subscriber gets subscription_succeeded and then
 * an event published afterwards, and the unsubscribed channel's Redis
 * subscription goes away (the bridge dropped the edge's interest). Before
 * the fix the lost adds were never confirmed (subscribers waited until a
 * bridge reconnect) and the lost remove kept the channel subscribed. */

const assert = require('node:assert/strict');
const { before, after } = require('node:test');
const { Cluster, waitFor, api } = require('../lib/cluster');
const prom = require('../lib/prom');

const c = new Cluster('interest_resync');
const CLIENTS = 30;
const PER_CLIENT = 100; /* SWB_EDGE_MAX_SUBS */
const SUCCEEDED = 'pusher_internal:subscription_succeeded';
let host;
let edge;
let clients = [];
let goneClient;
let stayClient;

async function metric(name) {
  const r = await api.get(edge.port, '/metrics');
  assert.equal(r.status, 200);
  return prom.value(prom.parse(r.text), name) || 0;
}

const chan = (k, i) => `rs-${k}-${i}`;

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  edge = await c.addEdge(host);
  /* live before the stall: one to drop during it, one to keep */
  goneClient = await c.connect(edge, { name: 'gone' });
  stayClient = await c.connect(edge, { name: 'stay' });
  await goneClient.subscribe('rs-gone');
  await stayClient.subscribe('rs-stay');
  await c.waitNumsub('rs-gone', 1);
  for (let k = 0; k < CLIENTS; k++) clients.push(await c.connect(edge, { name: `flood${k}` }));
});

after(async () => {
  if (host && host.bridge && host.bridge.alive) {
    try { process.kill(host.bridge.pid, 'SIGCONT'); } catch (e) { /* gone */ }
  }
  await c.stop();
});

c.test('lost Interest adds and removes are re-sent once the bridge reads again', async () => {
  const fail0 = await metric('swb_edge_bridge_send_failures_total');
  process.kill(host.bridge.pid, 'SIGSTOP');
  let stopped = true;
  try {
    for (let k = 0; k < CLIENTS; k++) {
      for (let i = 0; i < PER_CLIENT; i++) clients[k].subscribeNoWait(chan(k, i));
    }
    await Promise.all(clients.map((cl) => cl.ping({ timeout: 20000 }))); /* every subscribe handled */
    await waitFor(async () => (await metric('swb_edge_bridge_send_failures_total')) > fail0,
      { what: 'the edge failing to send to the stopped bridge' });
    goneClient.unsubscribe('rs-gone');
    await goneClient.ping(); /* handled: its Interest(remove) met the full queue too */
    const failed = await metric('swb_edge_bridge_send_failures_total') - fail0;
    console.log(`# sends that failed while the bridge was stopped: ${failed}`);
    for (const cl of clients) {
      assert.equal(cl.framesOf(SUCCEEDED).length, 0, 'nobody is told before the bridge confirms');
    }
    process.kill(host.bridge.pid, 'SIGCONT');
    stopped = false;
  } finally {
    if (stopped) process.kill(host.bridge.pid, 'SIGCONT');
  }

  await Promise.all(clients.map((cl, k) => waitFor(() => cl.framesOf(SUCCEEDED).length === PER_CLIENT,
    { timeout: 30000, what: `client ${k}: ${PER_CLIENT} subscription_succeeded (has ${cl.framesOf(SUCCEEDED).length})` })));
  for (let k = 0; k < CLIENTS; k++) {
    const channels = Array.from({ length: PER_CLIENT }, (_, i) => chan(k, i));
    const r = await c.publish(edge, { name: 'after', channels, data: JSON.stringify({ k }) });
    assert.equal(r.status, 200, r.text);
  }
  await Promise.all(clients.map((cl, k) => waitFor(() => cl.events({ event: 'after' }).length === PER_CLIENT,
    { timeout: 30000, what: `client ${k}: ${PER_CLIENT} events published after subscription_succeeded` })));
  for (let k = 0; k < CLIENTS; k++) {
    const got = new Set(clients[k].events({ event: 'after' }).map((m) => m.channel));
    assert.equal(got.size, PER_CLIENT, `client ${k} got the event on each of its channels once`);
  }
  assert.ok(await metric('swb_edge_interest_resyncs_total') >= 1, 'the edge counted a resync');
});

c.test('a channel unsubscribed while the bridge stalled is dropped by the bridge', async () => {
  await c.waitNumsub('rs-gone', 0, { timeout: 20000 });
  assert.equal(await c.numsub('rs-stay'), 1, 'the channel still wanted stays subscribed');
  /* and it still delivers */
  const from = stayClient.messages.length;
  const r = await c.publish(edge, { name: 'still', channels: ['rs-stay'], data: '{}' });
  assert.equal(r.status, 200, r.text);
  await stayClient.waitMessage((m) => m.event === 'still', { from });
});
