'use strict';
/* Deliveries written through io_uring (edge/uring.c, the default) and with
 * --no-io-uring carry the same bytes: every subscriber gets every event
 * once, intact and in publish order, over the three WebSocket header sizes
 * (payloads under 126 bytes, up to 64 KiB); the io_uring counters move on
 * the default edge and stay 0 on the other. A client that stops reading
 * until its socket is full (sends answered -EAGAIN, or taken in part)
 * gets the rest in order once it reads again. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');
const prom = require('../lib/prom');

const c = new Cluster('uring_writes');
const CH = uniqueId('uring');
const SUBS = 12;
let host;
let uring;
let plain;

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  uring = await c.addEdge(host, { args: ['--max-queue', String(64 << 20)] });
  plain = await c.addEdge(host, { args: ['--no-io-uring'] });
});

after(() => c.stop());

async function metric(edge, name) {
  const r = await api.get(edge.port, '/metrics');
  assert.equal(r.status, 200);
  const x = prom.value(prom.parse(r.text), name);
  assert.notEqual(x, undefined, `${name} missing on ${edge.name}`);
  return x;
}

async function subscribers(edge, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const ws = c.rawWs(edge, `/app/${c.app.key}?protocol=7`);
    await ws.open();
    await ws.subscribe(CH);
    out.push(ws);
  }
  return out;
}

/* The ids of the test events a raw client got, in order. */
const idsOf = (ws) => ws.texts().filter((m) => m.event === 'ev' && m.channel === CH).map((m) => JSON.parse(m.data).id);

async function publishAll(ids, sizeOf) {
  for (const [i, id] of ids.entries()) {
    const r = await c.publish(uring, { name: 'ev', channels: [CH], data: JSON.stringify({ id, pad: 'x'.repeat(sizeOf(i)) }) });
    assert.equal(r.status, 200, r.text);
  }
}

c.test('io_uring and plain send() deliver the same frames, once each, in order; only the default edge counts io_uring sends', async () => {
  const onUring = await subscribers(uring, SUBS);
  const onPlain = await subscribers(plain, SUBS);
  const before0 = {
    us: await metric(uring, 'swb_edge_uring_sends_total'),
    ps: await metric(plain, 'swb_edge_uring_sends_total'),
    uo: await metric(uring, 'swb_edge_messages_out_total'),
    po: await metric(plain, 'swb_edge_messages_out_total'),
  };
  /* sizes around the 126-byte and 64 KiB header boundaries (payloads are
   * capped at 10 KB, so 2- and 4-byte headers) */
  const sizes = [0, 60, 100, 120, 130, 500, 3000, 9000];
  const ids = Array.from({ length: 40 }, (_, i) => `${uniqueId('u')}-${i}`);
  await publishAll(ids, (i) => sizes[i % sizes.length]);
  for (const ws of [...onUring, ...onPlain]) {
    await waitFor(() => idsOf(ws).length >= ids.length, { what: `all ${ids.length} events on one client` });
  }
  for (const ws of [...onUring, ...onPlain]) assert.deepEqual(idsOf(ws), ids);
  const n = ids.length * SUBS;
  assert.equal(await metric(uring, 'swb_edge_messages_out_total') - before0.uo, n, 'messages out, io_uring edge');
  assert.equal(await metric(plain, 'swb_edge_messages_out_total') - before0.po, n, 'messages out, plain edge');
  const us = await metric(uring, 'swb_edge_uring_sends_total') - before0.us;
  assert.ok(us > 0 && us <= n, `io_uring sends on the default edge: ${us} of ${n} deliveries`);
  assert.equal(await metric(plain, 'swb_edge_uring_sends_total') - before0.ps, 0, '--no-io-uring sends nothing through io_uring');
  assert.ok(await metric(uring, 'swb_edge_uring_submits_total') > 0);
  for (const ws of [...onUring, ...onPlain]) ws.destroy();
});

c.test('a client whose socket fills up gets everything in order once it reads again; a reading client never waits for it', async () => {
  const [slow] = await subscribers(uring, 1);
  const [fast] = await subscribers(uring, 1);
  slow.pause();
  const partial0 = await metric(uring, 'swb_edge_uring_partial_sends_total');
  const ids = [];
  /* 9 KB events until the paused socket stopped taking bytes: the edge then
   * holds frames in its own queue (--max-queue 64 MiB here, so no 4100).
   * Loopback buffers take a few MB; cap at 3,000 events (27 MB). */
  let queued = false;
  while (!queued && ids.length < 3000) {
    const round = Array.from({ length: 50 }, (_, i) => `${uniqueId('s')}-${ids.length + i}`);
    await publishAll(round, () => 9000);
    ids.push(...round);
    await waitFor(() => idsOf(fast).length >= ids.length, { what: 'the reading client keeps up' });
    queued = (await metric(uring, 'swb_edge_send_queue_bytes')) > 0;
  }
  assert.ok(queued, `the paused client's frames never queued on the edge after ${ids.length} events`);
  slow.resume();
  await waitFor(() => idsOf(slow).length >= ids.length, { timeout: 60000, what: `all ${ids.length} events on the resumed client` });
  assert.deepEqual(idsOf(slow), ids);
  assert.deepEqual(idsOf(fast), ids);
  assert.equal(slow.closeCode, null);
  /* the gauge is a running sum (conn.c): back at 0 once everything is written */
  await waitFor(async () => (await metric(uring, 'swb_edge_send_queue_bytes')) === 0, { what: 'swb_edge_send_queue_bytes back at 0' });
  console.log(`# ${ids.length} events of 9 KB; partial io_uring sends: ${await metric(uring, 'swb_edge_uring_partial_sends_total') - partial0}`);
});

c.test('the send-queue gauge forgets the frames of a client that goes away with frames queued', async () => {
  const [gone] = await subscribers(uring, 1);
  gone.pause();
  let queued = 0;
  for (let n = 0; queued === 0 && n < 3000; n += 50) {
    await publishAll(Array.from({ length: 50 }, (_, i) => `${uniqueId('g')}-${n + i}`), () => 9000);
    queued = await metric(uring, 'swb_edge_send_queue_bytes');
  }
  assert.ok(queued > 0, 'the paused client never had frames queued on the edge');
  gone.destroy();
  await waitFor(async () => (await metric(uring, 'swb_edge_send_queue_bytes')) === 0,
    { what: `swb_edge_send_queue_bytes back at 0 after the close (was ${queued})` });
});
