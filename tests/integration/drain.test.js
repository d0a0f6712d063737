'use strict';
/* Issue #5: graceful drain. An edge that gets SIGTERM stops taking
 * WebSockets (upgrades answered 503, /readyz 503), tells its clients to
 * reconnect (pusher:error 4200, then close 4200) spread at --drain-rate,
 * and exits 0 once they are gone. Its clients reconnect to another edge of
 * the same host (here: another port; SO_REUSEPORT would make it the same
 * port) and keep receiving. Subscribers on the other edges, of this host
 * and of another host, see a steady publish stream without a gap or a
 * duplicate while it happens. A second SIGTERM during a drain stops the
 * edge at once. (The DrainCmd path shares swb_edge_drain_start with
 * SIGTERM; its scheduler is unit-tested in tests/unit/test_edge_drain.c.) */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const WebSocket = require('ws');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');

const c = new Cluster('drain');
let hostA;
let edgeB; /* host a, stays */
let edgeC; /* host b */

before(async () => {
  await c.startRedis();
  hostA = await c.addHost('a');
  const hostB = await c.addHost('b');
  edgeB = await c.addEdge(hostA);
  edgeC = await c.addEdge(hostB);
});

after(() => c.stop());

/* Sequence numbers of the `tick` events a client received on channel. */
function seqs(client, channel) {
  return client.events({ channel, event: 'tick' }).map((m) => JSON.parse(m.data).seq);
}

/* A client of the draining edge that moves to `target` when told to. */
class Mover {
  constructor(client, channel, target) {
    this.first = client;
    this.channel = channel;
    this.target = target;
    this.closed = null; /* {t, code, errorFirst} */
    this.moved = null;  /* the client on target, once subscribed */
    this.moveError = null;
    client.ws.on('close', (code) => {
      const err = client.find((m) => m.event === 'pusher:error');
      this.closed = { t: Date.now(), code, errorCode: err ? err.data.code : null };
      this.reconnect().catch((e) => { this.moveError = e; });
    });
  }

  async reconnect() {
    const n = await c.connect(this.target, { name: `moved-${this.first.socketId}` });
    await n.subscribe(this.channel);
    this.moved = n;
  }
}

/* Publishes tick seq=0,1,2,... on channel through edge, one after the
 * other, until stop() is called; resolves with the number sent. */
function publishStream(edge, channel) {
  let stopping = false;
  let sent = 0;
  const done = (async () => {
    while (!stopping) {
      await c.publish(edge, { name: 'tick', channel, data: { seq: sent } });
      sent++;
    }
    return sent;
  })();
  return { stop: () => { stopping = true; return done; } };
}

/* A WebSocket upgrade to port: resolves with the HTTP status it got
 * (101 when it opened). */
function upgradeStatus(port) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${c.app.key}?protocol=7`);
    ws.on('open', () => { ws.terminate(); resolve(101); });
    ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
    ws.on('error', () => resolve('error'));
  });
}

c.test('SIGTERM drains: 4200 spread at --drain-rate, clients move and keep receiving, no gap elsewhere, exit 0', async () => {
  const N = 60;
  const RATE = 20;
  const ch = uniqueId('drain');
  const edgeA = await c.addEdge(hostA, { args: ['--drain-rate', String(RATE), '--drain-deadline', '30'] });

  const movers = [];
  for (let i = 0; i < N; i++) {
    const cl = await c.connect(edgeA, { name: `a${i}` });
    await cl.subscribe(ch);
    movers.push(new Mover(cl, ch, edgeB));
  }
  const watchers = [];
  for (const e of [edgeB, edgeB, edgeC, edgeC]) {
    const w = await c.connect(e, { name: `watch-${e.name}` });
    await w.subscribe(ch);
    watchers.push(w);
  }
  await c.waitNumsub(ch, 2);

  const stream = publishStream(edgeC, ch);
  await waitFor(() => watchers.every((w) => seqs(w, ch).length >= 5), { what: 'the stream flowing' });

  edgeA.proc.child.kill('SIGTERM');
  await waitFor(async () => (await api.get(edgeA.port, '/readyz')).status === 503,
    { what: 'draining edge /readyz 503' });
  assert.equal(await upgradeStatus(edgeA.port), 503, 'a draining edge refuses new WebSockets with 503');
  const m = (await api.get(edgeA.port, '/metrics')).text;
  assert.match(m, /^swb_edge_draining 1$/m);
  assert.match(m, /^swb_edge_ready 0$/m);
  assert.equal(await upgradeStatus(edgeB.port), 101, 'the other edge takes them');

  const exit = await waitFor(() => edgeA.proc.exit, { timeout: 40000, what: 'the drained edge to exit' });
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null });
  await waitFor(() => {
    const bad = movers.find((m) => m.moveError);
    if (bad) throw bad.moveError;
    return movers.every((m) => m.moved);
  }, { timeout: 20000, what: 'every client of the drained edge resubscribed on the other edge' });

  /* Every client was told with pusher:error 4200, then closed with 4200. */
  for (const m of movers) {
    assert.equal(m.closed.code, 4200, `${m.first.name} close code`);
    assert.equal(m.closed.errorCode, 4200, `${m.first.name} got pusher:error 4200 before the close`);
  }
  /* Spread over time, not all at once: at 20/s, 60 closes take ~3 s. */
  const times = movers.map((m) => m.closed.t).sort((x, y) => x - y);
  const spread = times[times.length - 1] - times[0];
  assert.ok(spread >= 1000, `closes spread over ${spread} ms; with --drain-rate ${RATE} and ${N} clients they must not come all at once`);

  /* The moved clients keep receiving: the stream reaches every one of them. */
  const last = Math.max(...watchers.map((w) => seqs(w, ch).slice(-1)[0]));
  await waitFor(() => movers.every((m) => seqs(m.moved, ch).some((s) => s > last + 3)),
    { timeout: 20000, what: 'the stream on every moved client' });
  const sent = await stream.stop();

  /* Subscribers elsewhere saw every message once, in order, no gap. */
  const expected = Array.from({ length: sent }, (_, i) => i);
  for (const w of watchers) {
    await waitFor(() => seqs(w, ch).length >= sent, { what: `${w.name}: all ${sent} ticks` });
    assert.deepEqual(seqs(w, ch), expected, `${w.name}: every tick once, in order`);
  }
  /* And a moved client has no duplicate or gap after it arrived. */
  for (const m of movers) {
    const s = seqs(m.moved, ch);
    assert.deepEqual(s, Array.from({ length: s.length }, (_, i) => s[0] + i), `${m.moved.name}: contiguous ticks`);
  }
});

c.test('a second SIGTERM during a drain stops the edge at once, exit 0', async () => {
  const ch = uniqueId('drain2');
  const edgeD = await c.addEdge(hostA, { args: ['--drain-rate', '1', '--drain-deadline', '600'] });
  const clients = [];
  for (let i = 0; i < 5; i++) {
    const cl = await c.connect(edgeD, { name: `d${i}` });
    await cl.subscribe(ch);
    clients.push(cl);
  }
  edgeD.proc.child.kill('SIGTERM');
  await waitFor(() => clients.some((cl) => cl.closeInfo), { what: 'the first client told to go' });
  assert.ok(clients.some((cl) => !cl.closeInfo), 'at 1/s the drain is still going');
  edgeD.proc.child.kill('SIGTERM');
  /* Bounded well below the 600 s drain deadline. */
  const exit = await waitFor(() => edgeD.proc.exit, { timeout: 15000, what: 'exit after the second SIGTERM' });
  assert.equal(exit.code, 0);
  await waitFor(() => clients.every((cl) => cl.closeInfo), { what: 'every client closed' });
  for (const cl of clients) assert.equal(cl.closeInfo.code, 4200, `${cl.name} close code`);
});

c.test('--drain-deadline: what is left when it passes is closed with 4200, exit 0', async () => {
  const ch = uniqueId('drain3');
  const edgeE = await c.addEdge(hostA, { args: ['--drain-rate', '1', '--drain-deadline', '2'] });
  const clients = [];
  for (let i = 0; i < 8; i++) {
    const cl = await c.connect(edgeE, { name: `e${i}` });
    await cl.subscribe(ch);
    clients.push(cl);
  }
  edgeE.proc.child.kill('SIGTERM');
  const exit = await waitFor(() => edgeE.proc.exit, { timeout: 20000, what: 'exit at the drain deadline' });
  assert.equal(exit.code, 0);
  await waitFor(() => clients.every((cl) => cl.closeInfo), { what: 'every client closed' });
  for (const cl of clients) assert.equal(cl.closeInfo.code, 4200, `${cl.name} close code`);
  /* at 1/s only some were told within 2 s; the rest went at the deadline */
  const told = clients.filter((cl) => cl.find((m) => m.event === 'pusher:error')).length;
  assert.ok(told >= 1 && told < clients.length, `${told} of ${clients.length} told before the deadline`);
  assert.match(fs.readFileSync(edgeE.proc.logPath, 'utf8'), /drain deadline \(2000 ms\) reached with \d+ connection\(s\)/);
});

c.test('--reuseport: a draining edge closes its listener, its clients reconnect to the same port and land on the other edge', async () => {
  const ch = uniqueId('drain-rp');
  const r1 = await c.addEdge(hostA, { args: ['--reuseport', '--drain-rate', '20'] });
  const r2 = await c.addEdge(hostA, { args: ['--reuseport'], port: r1.port });
  /* /readyz on the shared port may be answered by r1: wait for r2's own start line. */
  const idOf = (edge) => waitFor(() => {
    const m = fs.readFileSync(edge.proc.logPath, 'utf8').match(/edge id (\d+)/);
    return m && /bridge welcomed us/.test(fs.readFileSync(edge.proc.logPath, 'utf8')) && m[1];
  }, { what: `${edge.name} started and linked` });
  const [id1, id2] = [await idOf(r1), await idOf(r2)];
  /* The kernel spreads connections over both: keep connecting until r1 has 10. */
  const onR1 = [];
  for (let i = 0; i < 200 && onR1.length < 10; i++) {
    const cl = await c.connect(r1, { name: `rp${i}` });
    if (cl.socketId.startsWith(`${id1}.`)) {
      await cl.subscribe(ch);
      onR1.push(new Mover(cl, ch, r1)); /* same port */
    }
  }
  assert.equal(onR1.length, 10, 'the kernel sent connections to both edges');
  r1.proc.child.kill('SIGTERM');
  const exit = await waitFor(() => r1.proc.exit, { timeout: 30000, what: 'the drained edge to exit' });
  assert.equal(exit.code, 0);
  await waitFor(() => {
    const bad = onR1.find((m) => m.moveError);
    if (bad) throw bad.moveError;
    return onR1.every((m) => m.moved);
  }, { timeout: 20000, what: 'every client of r1 back on the port' });
  for (const m of onR1) {
    assert.equal(m.closed.code, 4200);
    assert.ok(m.moved.socketId.startsWith(`${id2}.`), `${m.moved.socketId} is on the other edge`);
  }
  await c.publish(r2, { name: 'tick', channel: ch, data: { seq: 0 } });
  await waitFor(() => onR1.every((m) => seqs(m.moved, ch).length === 1), { what: 'delivery on the moved clients' });
});
