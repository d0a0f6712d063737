'use strict';
/* Issue #2: Redis restart (kill -9 redis-server, start it again on the same
 * port) and kill -9 + restart of a bridge: delivery resumes within a few
 * seconds without restarting edges or clients: the same edge processes and
 * the same WebSocket connections keep receiving. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');
const { Ledger, waitDeliveryWorks } = require('../lib/deliveries');

const c = new Cluster('faults', { ownRedis: true });
const CH = uniqueId('faults');
let a;
let b;
let edges;
let clients;
let pids;
let socketIds;
/* "Within a few seconds": a bounded wait for the condition, never a timing assertion. */
const RESUME = { timeout: 20000 };

before(async () => {
  await c.startRedis();
  a = await c.addHost('a');
  b = await c.addHost('b');
  edges = [await c.addEdge(a), await c.addEdge(a), await c.addEdge(b)];
  clients = [];
  for (const e of edges) {
    for (const k of [1, 2]) {
      const cl = await c.connect(e, { name: `${e.name}/${k}` });
      await cl.subscribe(CH);
      clients.push(cl);
    }
  }
  await c.waitNumsub(CH, 2);
  for (const e of edges) await waitDeliveryWorks((body) => c.publish(e, body), CH, clients);
  pids = edges.map((e) => e.proc.pid);
  socketIds = clients.map((cl) => cl.socketId);
});

after(() => c.stop());

function assertUntouched(what) {
  edges.forEach((e, i) => {
    assert.ok(e.proc.alive, `${what}: ${e.name} died: ${JSON.stringify(e.proc.exit)}`);
    assert.equal(e.proc.pid, pids[i], `${what}: ${e.name} was restarted`);
  });
  clients.forEach((cl, i) => {
    assert.equal(cl.closeInfo, null, `${what}: ${cl.name} was disconnected: ${JSON.stringify(cl.closeInfo)}`);
    assert.equal(cl.socketId, socketIds[i]);
  });
}

/* After a fault: delivery from every edge reaches every client, then a
 * counted round shows exactly-once again. */
async function assertDeliveryResumed(what, since) {
  for (const e of edges) await waitDeliveryWorks((body) => c.publish(e, body), CH, clients, RESUME);
  /* Reported for the record, never asserted. */
  if (since) process.stderr.write(`# ${what}: delivery from every edge to every client resumed ${Date.now() - since} ms after the fault\n`);
  const ledger = new Ledger(clients);
  for (const e of edges) {
    const id = uniqueId('after');
    await c.publish(e, { name: 'after', channels: [CH], data: JSON.stringify({ id }) });
    ledger.expect(id, clients, { event: 'after', channels: [CH] });
  }
  await ledger.waitAll();
  await Promise.all(clients.map((cl) => cl.ping()));
  ledger.assertExact();
  assertUntouched(what);
}

async function assertTwoConnectionsEach(what) {
  for (const h of [a, b]) {
    await waitFor(async () => (await c.bridgeConnections(h)).length === 2,
      { timeout: 10000, what: `${what}: bridge ${h.hostId} back to exactly 2 Redis connections` });
  }
}

c.test('redis-server killed and started again on the same port: delivery resumes, nothing else restarts', async () => {
  const t0 = Date.now();
  await c.restartRedis();
  /* The new redis-server has no subscriptions until the bridges re-subscribe. */
  await c.waitNumsub(CH, 2, RESUME);
  await assertDeliveryResumed('after redis restart', t0);
  await assertTwoConnectionsEach('after redis restart');
  for (const h of [a, b]) {
    await waitFor(async () => (await c.status(h)).redis.state === 'connected', { what: `${h.hostId} connected` });
    const st = await c.status(h);
    assert.ok(st.redis.reconnects >= 1, `${h.hostId}: redis.reconnects should count the reconnect: ${JSON.stringify(st.redis)}`);
  }
});

c.test('redis-server down for a while: publishes fail cleanly (503), then delivery resumes', async () => {
  await c.stopRedis();
  const r = await waitFor(async () => {
    const x = await c.request(edges[0], { body: { name: 'down', channels: [CH], data: '{}' } });
    return x.status !== 200 && x;
  }, { timeout: 10000, what: 'a publish to be refused while Redis is down' });
  assert.equal(r.status, 503, `publish while Redis is down: ${r.status} ${r.text}`);
  await c.startRedis();
  await c.waitNumsub(CH, 2, RESUME);
  await assertDeliveryResumed('after redis outage');
});

c.test('kill -9 of host A\'s bridge, then start it again: delivery resumes, edges and clients untouched', async () => {
  const old = a.bridge.pid;
  await c.kill9Bridge(a);
  /* While A's bridge is gone, host B still delivers to its own clients, and
   * A's edges refuse publishes (503) instead of losing them. */
  const bClients = clients.filter((cl) => cl.name.startsWith(edges[2].name));
  await waitDeliveryWorks((body) => c.publish(edges[2], body), CH, bClients, RESUME);
  const r = await waitFor(async () => {
    const x = await c.request(edges[0], { body: { name: 'nobridge', channels: [CH], data: '{}' } });
    return x.status !== 200 && x;
  }, { timeout: 10000, what: 'a publish on host A to be refused while its bridge is down' });
  assert.equal(r.status, 503, `publish with no bridge: ${r.status} ${r.text}`);
  await waitFor(async () => (await api.get(edges[0].port, '/readyz')).status === 503,
    { what: 'host A edge /readyz 503 while its bridge is down' });
  const t0 = Date.now();
  await c.startBridge(a);
  assert.notEqual(a.bridge.pid, old);
  await c.waitNumsub(CH, 2, RESUME);
  await waitFor(async () => (await c.status(a)).edges.length === 2, { ...RESUME, what: 'both edges back on A\'s bridge' });
  await assertDeliveryResumed('after kill -9 of bridge A', t0);
  await assertTwoConnectionsEach('after kill -9 of bridge A');
});

c.test('kill -9 of host B\'s bridge, then start it again: delivery resumes', async () => {
  const t0 = Date.now();
  await c.restartBridge(b, { kill9: true });
  await c.waitNumsub(CH, 2, RESUME);
  await assertDeliveryResumed('after kill -9 of bridge B', t0);
  await assertTwoConnectionsEach('after kill -9 of bridge B');
});
