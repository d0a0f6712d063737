'use strict';
/* Issue #5: the bridge's pub/sub probe. When Redis drops the bridge's
 * subscribe connection (CLIENT KILL), or keeps it open but nothing arrives
 * on it (a TCP proxy that stops forwarding Redis -> bridge bytes), the
 * bridge reports not ready (swbctl status, status --ready, its metrics,
 * the edges' /readyz), counts it, rebuilds the subscribe connection with
 * every subscription, and delivery comes back by itself.
 *
 * Host p's bridge reaches Redis through tests/lib/tcp_proxy.js with a
 * short probe (200 ms, timeout 1 s). While the proxy holds new connections
 * the bridge cannot prove its pub/sub path, so "not ready" is a state the
 * test can wait for, not a race; then the proxy lets them through. Host q
 * talks to Redis directly (CLIENT KILL without the proxy) and publishes. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor, freePort, api, clientList, redisCommand } = require('../lib/cluster');
const { waitDeliveryWorks } = require('../lib/deliveries');
const { TcpProxy } = require('../lib/tcp_proxy');
const prom = require('../lib/prom');

const c = new Cluster('probe', { ownRedis: true });
const X = uniqueId('probe-x');
let proxy;
let p;
let q;
let edgeP;
let edgeQ;
let subP;
let subQ;
let metricsPort;
const PROBE = ['--probe-interval', '200', '--probe-timeout', '1000'];

before(async () => {
  await c.startRedis();
  proxy = new TcpProxy(c.redisPort);
  await proxy.start();
  metricsPort = await freePort();
  p = await c.addHost('p', { redis: proxy.url, bridgeArgs: [...PROBE, '--metrics-listen', `127.0.0.1:${metricsPort}`] });
  q = await c.addHost('q', { bridgeArgs: PROBE });
  edgeP = await c.addEdge(p);
  edgeQ = await c.addEdge(q);
  subP = await c.connect(edgeP);
  await subP.subscribe(X);
  subQ = await c.connect(edgeQ);
  await subQ.subscribe(X);
  await c.waitNumsub(X, 2);
  await waitDeliveryWorks((body) => c.publish(edgeQ, body), X, [subP, subQ]);
});

after(async () => {
  await c.stop();
  if (proxy) await proxy.close();
});

const subName = (h) => `swb-${h.hostId}-sub`;

async function bridgeMetrics() {
  const r = await api.get(metricsPort, '/metrics');
  return prom.parse(r.text);
}

async function killSub(h) {
  const mine = (await clientList(c.redisUrl)).filter((x) => x.name === subName(h));
  assert.equal(mine.length, 1, `one ${subName(h)} in CLIENT LIST`);
  const n = await redisCommand(c.redisUrl, ['CLIENT', 'KILL', 'ID', mine[0].id]);
  assert.equal(n, 1);
}

/* Holds the proxy's new connections, runs fault(), waits until host p's
 * bridge, its metrics, status --ready and its edge all say "not ready",
 * then lets the connections through and waits for everything to recover. */
async function notReadyThenBack(fault, what) {
  const st0 = await c.status(p);
  assert.equal(st0.ready, true, st0.ready_reason);
  proxy.hold();
  try {
    await fault();
    const st = await waitFor(async () => {
      const s = await c.status(p);
      return !s.ready ? s : false;
    }, { timeout: 15000, what: `${what}: bridge p not ready` });
    assert.ok(st.ready_reason.length > 0);
    const r = await c.swbctl(['--runtime-dir', p.dir, 'status', '--ready']);
    assert.equal(r.code, 1, 'status --ready exits 1 when not ready');
    assert.match(r.stdout, /^not ready: /);
    const m = await bridgeMetrics();
    assert.equal(prom.value(m, 'swb_bridge_ready'), 0);
    assert.ok(prom.value(m, 'swb_bridge_unready_total') > st0.probe.unready);
    await waitFor(async () => (await api.get(edgeP.port, '/readyz')).status === 503,
      { what: `${what}: edge of p /readyz 503` });
    const rz = await api.get(edgeP.port, '/readyz');
    assert.deepEqual(JSON.parse(rz.text), { ok: false, bridge: true, redis: false });
    await waitFor(() => proxy.heldCount() >= 1, { what: `${what}: the bridge reconnecting` });
  } finally {
    proxy.release();
  }
  await waitFor(async () => (await c.status(p)).ready, { timeout: 15000, what: `${what}: bridge p ready again` });
  await waitFor(async () => (await api.get(edgeP.port, '/readyz')).status === 200,
    { what: `${what}: edge of p /readyz 200 again` });
  await waitDeliveryWorks((body) => c.publish(edgeQ, body), X, [subP, subQ]);
  return { st0, st1: await c.status(p) };
}

c.test('CLIENT KILL of the subscribe connection (direct): reconnect counted, delivery comes back by itself', async () => {
  const st0 = await c.status(q);
  await killSub(q);
  const st1 = await waitFor(async () => {
    const s = await c.status(q);
    return s.redis.reconnects > st0.redis.reconnects && s.probe.unready > st0.probe.unready && s.ready ? s : false;
  }, { timeout: 15000, what: 'bridge q: reconnect and unready counted, ready again' });
  assert.equal(st1.redis.subscribed, 1, 'X subscribed again');
  await waitDeliveryWorks((body) => c.publish(edgeP, body), X, [subP, subQ]);
});

c.test('CLIENT KILL through the proxy: not ready (status, --ready, metrics, edge /readyz) until it is back', async () => {
  const { st0, st1 } = await notReadyThenBack(() => killSub(p), 'CLIENT KILL');
  assert.ok(st1.redis.reconnects > st0.redis.reconnects);
  assert.equal(st1.redis.subscribed, 1);
});

c.test('subscribe connection open but silent (proxy stops forwarding): probe fails, connection rebuilt, delivery back', async () => {
  const m0 = await bridgeMetrics();
  let stalled;
  const { st0, st1 } = await notReadyThenBack(async () => {
    stalled = proxy.open(subName(p));
    assert.equal(proxy.stall(subName(p)), 1, 'the sub connection is stalled');
  }, 'stalled sub');
  assert.ok(st1.probe.failures > st0.probe.failures, 'probe failure counted');
  assert.ok(st1.probe.rebuilds > st0.probe.rebuilds, 'rebuild counted');
  assert.match(st1.ready_reason, /^$/);
  await waitFor(() => stalled.every((x) => x.closed), { what: 'the bridge closed the stalled connection' });
  const m1 = await bridgeMetrics();
  assert.ok(prom.value(m1, 'swb_bridge_probe_failures_total') > prom.value(m0, 'swb_bridge_probe_failures_total'));
  assert.ok(prom.value(m1, 'swb_bridge_redis_rebuilds_total') > prom.value(m0, 'swb_bridge_redis_rebuilds_total'));
  assert.equal(prom.value(m1, 'swb_bridge_ready'), 1);
  assert.equal(st1.redis.subscribed, 1, 'X subscribed again on the new connection');
});
