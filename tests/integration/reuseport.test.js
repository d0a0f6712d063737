'use strict';
/* --reuseport: two edges of one host listen on the same port (SO_REUSEPORT,
 * their own listening socket handed to lws). The kernel spreads new
 * connections over both; subscribers on both get every publish exactly
 * once, whichever edge the HTTP API request lands on; after one edge stops,
 * the port keeps serving through the other. Without --reuseport a second
 * edge on a taken port still fails to start. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { Cluster, uniqueId, bin } = require('../lib/cluster');
const { Ledger, waitDeliveryWorks } = require('../lib/deliveries');
const { waitFor } = require('../lib/wait');

const c = new Cluster('reuseport');
const CONNS = 40; /* all on one edge by chance: 2^-39 */
let host;
let edges;
let subs;
const CH = uniqueId('rp');

const edgeOf = (client) => client.socketId.split('.')[0];

before(async () => {
  host = await c.addHost('a', { redis: 'none' });
  const first = await c.addEdge(host, { args: ['--reuseport'] });
  const second = await c.addEdge(host, { args: ['--reuseport'], port: first.port });
  edges = [first, second];
  subs = [];
  for (let i = 0; i < CONNS; i++) {
    const s = await c.connect(first, { name: `sub${i}` });
    await s.subscribe(CH);
    subs.push(s);
  }
  await waitDeliveryWorks((body) => c.publish(first, body), CH, subs);
});

after(() => c.stop());

c.test('both edges accept connections on the shared port', async () => {
  const ids = new Set(subs.map(edgeOf));
  assert.equal(ids.size, 2, `socket ids ${subs.map((s) => s.socketId).join(' ')}`);
  const st = await c.status(host);
  assert.equal(st.edges.length, 2);
});

c.test('subscribers on both edges get every publish exactly once', async () => {
  const ledger = new Ledger(subs);
  for (let k = 0; k < 20; k++) {
    const id = uniqueId('rp');
    const r = await c.request(edges[0], { body: { name: 'rp', channels: [CH], data: JSON.stringify({ id }) } });
    assert.equal(r.status, 200, r.text);
    ledger.expect(id, subs, { event: 'rp', channels: [CH] });
  }
  await ledger.waitAll();
  await Promise.all(subs.map((s) => s.ping()));
  ledger.assertExact();
});

c.test('without --reuseport a taken port is refused', async () => {
  /* (its readiness cannot be probed on the port: the other edges answer) */
  const argv = ['--runtime-dir', host.dir, '--listen', `127.0.0.1:${edges[0].port}`, ...c.appArgs()];
  const res = await new Promise((resolve) => {
    execFile(bin('swb-edge'), argv, { timeout: 10000 }, (err, stdout, stderr) => resolve({ err, stderr }));
  });
  assert.ok(res.err && res.err.code === 1, `exit ${res.err && res.err.code}: ${res.stderr}`);
  assert.match(res.stderr, /cannot listen on/);
});

c.test('after one edge stops, the port is served by the other', async () => {
  const gone = edges[1].proc;
  const goneId = subs.find((s) => edgeOf(s) !== edgeOf(subs[0]));
  await gone.stop();
  await waitFor(async () => (await c.status(host)).edges.length === 1, { what: 'one edge left' });
  const fresh = [];
  for (let i = 0; i < 10; i++) {
    const s = await c.connect(edges[0], { name: `late${i}` });
    await s.subscribe(CH);
    fresh.push(s);
  }
  const ids = new Set(fresh.map(edgeOf));
  assert.equal(ids.size, 1);
  assert.ok(goneId && !ids.has(edgeOf(goneId)), 'new connections land on the edge that is still up');
  const ledger = new Ledger(fresh);
  const id = uniqueId('rp');
  const r = await c.request(edges[0], { body: { name: 'rp', channels: [CH], data: JSON.stringify({ id }) } });
  assert.equal(r.status, 200, r.text);
  ledger.expect(id, fresh, { event: 'rp', channels: [CH] });
  await ledger.waitAll();
  ledger.assertExact();
});
