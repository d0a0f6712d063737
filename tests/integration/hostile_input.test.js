'use strict';
/* Hostile input against one edge (issue #6, docs/security.md). Each attack
 * checks: a clear error or close code to the attacker, a counter in the
 * edge's /metrics, the edge still running, and a bystander on the same
 * edge that keeps receiving a steady stream of events (published every
 * ~20 ms through the same edge's HTTP API) exactly once and in order.
 * What edge_protocol.test.js and http_api.test.js already cover (status
 * codes of each API refusal, invalid channel names, the 100-subscription
 * cap, 4201) is not repeated; here the same inputs come in floods and with
 * the counters and the bystander. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const crypto = require('node:crypto');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');
const { authorize, authenticate, forge } = require('../lib/backend');
const { idOf } = require('../lib/deliveries');

const HANDSHAKE_TIMEOUT = 2;
const MAX_MESSAGE = 65536;
const c = new Cluster('hostile_input');
let edge;
let bystander;
let stream;

/* Publishes {id: n} on a channel every ~20 ms until stopped. */
class Stream {
  constructor(channel) {
    this.channel = channel;
    this.sent = [];
    this.failures = [];
    this.running = false;
  }

  start() {
    this.running = true;
    this.done = (async () => {
      let n = 0;
      while (this.running) {
        const id = `${this.channel}-${n++}`;
        try {
          await c.publish(edge, { name: 'tick', channels: [this.channel], data: JSON.stringify({ id }) });
          this.sent.push(id);
        } catch (e) {
          this.failures.push(`${id}: ${e.message}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  }

  async stop() { this.running = false; await this.done; }
}

/* The bystander got every event published so far, once each and in order,
 * and is still connected; the edge is still running. */
async function bystanderOk(what) {
  assert.ok(edge.proc.alive, `${what}: the edge died: ${JSON.stringify(edge.proc.exit)}`);
  const sent = [...stream.sent];
  assert.ok(sent.length > 0, 'the stream published nothing');
  await waitFor(() => {
    const got = new Set(bystander.events({ event: 'tick' }).map(idOf));
    return sent.every((id) => got.has(id));
  }, { timeout: 15000, what: `${what}: the bystander has all ${sent.length} events` });
  const ids = bystander.events({ event: 'tick' }).map(idOf);
  assert.equal(new Set(ids).size, ids.length, `${what}: the bystander got an event twice`);
  const order = ids.map((id) => Number(id.split('-').pop()));
  assert.ok(order.every((x, i) => i === 0 || x > order[i - 1]), `${what}: the bystander's events are out of order`);
  assert.equal(bystander.closeInfo, null, `${what}: the bystander was disconnected`);
  assert.deepEqual(stream.failures, [], `${what}: publishes failed`);
}

async function metrics() {
  const r = await api.get(edge.port, '/metrics');
  const out = {};
  for (const m of r.text.matchAll(/^(swb_edge_\w+) (\d+)$/gm)) out[m[1]] = Number(m[2]);
  /* labelled: swb_edge_auth_failures_total{source="websocket"|"http_api"} */
  for (const m of r.text.matchAll(/^swb_edge_auth_failures_total\{source="(\w+)"\} (\d+)$/gm)) {
    out[`swb_edge_auth_failures_${m[1]}`] = Number(m[2]);
  }
  return out;
}

/* Waits until counter grew by at least `by` since `before`. */
async function counterGrew(name, before, by = 1) {
  await waitFor(async () => (await metrics())[name] >= before[name] + by,
    { timeout: 10000, what: `${name} to grow by ${by} from ${before[name]}` });
}

/* A raw WebSocket frame from a client (masked), with the FIN bit given. */
function frame(opcode, payload, fin = true) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  let hdr;
  if (p.length < 126) {
    hdr = Buffer.from([0, 0x80 | p.length]);
  } else if (p.length < 65536) {
    hdr = Buffer.alloc(4);
    hdr[1] = 0x80 | 126;
    hdr.writeUInt16BE(p.length, 2);
  } else {
    hdr = Buffer.alloc(10);
    hdr[1] = 0x80 | 127;
    hdr.writeBigUInt64BE(BigInt(p.length), 2);
  }
  hdr[0] = (fin ? 0x80 : 0) | opcode;
  const key = crypto.randomBytes(4);
  const body = Buffer.from(p.map((x, i) => x ^ key[i & 3]));
  return Buffer.concat([hdr, key, body]);
}

async function rawOpen() {
  const r = c.rawWs(edge, `/app/${c.app.key}?protocol=7`);
  await r.open();
  return r;
}

async function rawClosed(r, what) {
  await waitFor(() => r.closeCode !== null || r.ended, { timeout: 15000, what: `${what}: the server closes` });
  return r.closeCode;
}

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  edge = await c.addEdge(a, { args: ['--handshake-timeout', String(HANDSHAKE_TIMEOUT), '--max-message', String(MAX_MESSAGE), '--max-queue', '262144'] });
  bystander = await c.connect(edge, { name: 'bystander' });
  const ch = uniqueId('bystander');
  await bystander.subscribe(ch);
  stream = new Stream(ch);
  stream.start();
  await waitFor(() => bystander.events({ event: 'tick' }).length >= 3, { what: 'the stream reaches the bystander' });
});

after(async () => {
  if (stream) await stream.stop();
  await c.stop();
});

c.test('malformed JSON, wrong shapes and unknown events: pusher:error each, counted, connection usable', async () => {
  const m0 = await metrics();
  const cl = await c.connect(edge, { name: 'junk' });
  const junk = ['{not json', '[]', 'null', '"str"', '{"event":42}', '{"event":"pusher:subscribe","data":42}',
    '{"event":"no-such-event"}', '{"event":"pusher:nope","data":{}}', '{"event":"pusher_internal:subscription_succeeded"}',
    `{"event":"${'x'.repeat(5000)}"}`];
  for (const j of junk) {
    const from = cl.messages.length;
    cl.send(j);
    const e = await cl.waitMessage((m) => m.event === 'pusher:error', { from, what: `pusher:error for ${j.slice(0, 40)}` });
    assert.equal(typeof e.data.message, 'string');
  }
  assert.match(cl.find((m) => m.event === 'pusher:error' && /Unsupported event/.test(m.data.message)).data.message,
    /Unsupported event 'no-such-event'/);
  await counterGrew('swb_edge_bad_frames_total', m0, junk.length);
  await cl.ping();
  assert.equal(cl.closeInfo, null);
  await bystanderOk('junk');
});

c.test('invalid UTF-8 in a text frame: close 1007, counted', async () => {
  const m0 = await metrics();
  const r = await rawOpen();
  r.sock.write(frame(1, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])));
  assert.equal(await rawClosed(r, 'invalid UTF-8'), 1007);
  /* Split across fragments: a 2-byte sequence cut in half, then garbage. */
  const r2 = await rawOpen();
  r2.sock.write(Buffer.concat([frame(1, Buffer.from([0x7b, 0xc3]), false), frame(0, Buffer.from([0x28, 0x7d]), true)]));
  assert.equal(await rawClosed(r2, 'invalid UTF-8 across fragments'), 1007);
  await counterGrew('swb_edge_bad_frames_total', m0, 2);
  await bystanderOk('invalid utf-8');
});

c.test('binary frames: close 1003, counted', async () => {
  const m0 = await metrics();
  const r = await rawOpen();
  r.sock.write(frame(2, Buffer.from('{"event":"pusher:ping","data":{}}')));
  assert.equal(await rawClosed(r, 'binary frame'), 1003);
  await counterGrew('swb_edge_bad_frames_total', m0, 1);
  await bystanderOk('binary');
});

c.test('frames over --max-message, in one frame or a never-ending fragmented message: close 1009', async () => {
  const m0 = await metrics();
  const r = await rawOpen();
  r.sock.write(frame(1, `{"event":"client-x","data":"${'x'.repeat(MAX_MESSAGE)}"}`));
  assert.equal(await rawClosed(r, 'one big frame'), 1009);
  /* 1 KiB fragments that never end: closed once the message passes the limit. */
  const r2 = await rawOpen();
  r2.sock.write(frame(1, 'x'.repeat(1024), false));
  let sent = 1;
  while (r2.closeCode === null && !r2.ended && sent < 1000) {
    r2.sock.write(frame(0, 'x'.repeat(1024), false));
    sent++;
    if (sent % 16 === 0) await new Promise((res) => setImmediate(res));
  }
  assert.equal(await rawClosed(r2, 'endless fragments'), 1009);
  assert.ok(sent * 1024 > MAX_MESSAGE, 'closed before the limit was reached');
  await counterGrew('swb_edge_bad_frames_total', m0, 2);
  await bystanderOk('oversized');
});

c.test('fragment flood (empty continuation frames, no FIN): close 1008 after 1024 frames, counted', async () => {
  const m0 = await metrics();
  const r = await rawOpen();
  const parts = [frame(1, '', false)];
  for (let i = 0; i < 5000; i++) parts.push(frame(0, '', false));
  r.sock.write(Buffer.concat(parts));
  assert.equal(await rawClosed(r, 'fragment flood'), 1008);
  await counterGrew('swb_edge_fragment_floods_total', m0, 1);
  /* A message in a few fragments is fine. */
  const ok = await rawOpen();
  ok.sock.write(Buffer.concat([frame(1, '{"event":"pusher:', false), frame(0, 'ping","da', false), frame(0, 'ta":{}}', true)]));
  await ok.waitText((m) => m.event === 'pusher:pong', { what: 'pong to a fragmented ping' });
  await bystanderOk('fragment flood');
});

c.test('ping floods: answered and counted; a flooder that does not read is cut off (4100); others unaffected', async () => {
  const m0 = await metrics();
  /* A reading client: 5000 WebSocket pings and 2000 pusher:ping. lws keeps at
   * most one pong pending per connection (extra WebSocket pings are dropped
   * while one waits), so memory stays flat. */
  const r = await rawOpen();
  r.sock.write(Buffer.concat(Array.from({ length: 5000 }, () => frame(9, 'p'))));
  const ping = frame(1, '{"event":"pusher:ping","data":{}}');
  r.sock.write(Buffer.concat(Array.from({ length: 2000 }, () => ping)));
  await waitFor(() => r.texts().filter((m) => m.event === 'pusher:pong').length === 2000,
    { timeout: 20000, what: '2000 pusher:pong' });
  assert.ok(r.frames.some((f) => f.opcode === 10), 'WebSocket pings were answered');
  assert.equal(r.closeCode, null);
  await counterGrew('swb_edge_pings_total', m0, 2000);
  /* A client that floods pusher:ping and never reads its pongs. */
  const m1 = await metrics();
  const f = await rawOpen();
  f.pause();
  const burst = Buffer.concat(Array.from({ length: 4000 }, () => ping));
  let bursts = 0;
  while (!f.ended && bursts < 200) {
    if (!f.sock.write(burst)) await new Promise((res) => { f.sock.once('drain', res); setTimeout(res, 200); });
    bursts++;
    if ((await metrics()).swb_edge_slow_disconnects_total > m1.swb_edge_slow_disconnects_total) break;
  }
  await counterGrew('swb_edge_slow_disconnects_total', m1, 1);
  f.resume();
  await waitFor(() => f.ended, { what: 'the non-reading flooder is closed' });
  if (f.closeCode !== null) assert.equal(f.closeCode, 4100);
  process.stderr.write(`# ping flood: non-reader cut off after ${bursts * 4000} pusher:ping (close ${f.closeCode})\n`);
  await bystanderOk('ping flood');
});

c.test('subscribe flood: 3000 subscribes on one connection, 100 accepted, the rest refused with a documented error', async () => {
  const m0 = await metrics();
  const cl = await c.connect(edge, { name: 'subflood' });
  const chans = Array.from({ length: 3000 }, (_, i) => `flood-${c.uid}-${i}`);
  for (const ch of chans) cl.send({ event: 'pusher:subscribe', data: { auth: '', channel: ch } });
  const isRefusal = (m) => m.event === 'pusher:error' && /Too many subscriptions on this connection \(limit 100\)/.test(m.data.message);
  await waitFor(() => cl.framesOf('pusher_internal:subscription_succeeded').length + cl.messages.filter(isRefusal).length === 3000,
    { timeout: 30000, what: '3000 answers' });
  assert.equal(cl.framesOf('pusher_internal:subscription_succeeded').length, 100);
  assert.equal(cl.messages.filter(isRefusal).length, 2900);
  await counterGrew('swb_edge_subscribe_refused_total', m0, 2900);
  /* The first 100 work, and after an unsubscribe there is room again. */
  const id = uniqueId('subflood');
  await c.publish(edge, { name: 'ev', channels: [chans[0]], data: JSON.stringify({ id }) });
  await cl.waitMessage((m) => m.event === 'ev' && idOf(m) === id, { what: 'delivery on the first channel' });
  cl.unsubscribe(chans[0]);
  await cl.subscribe(chans[2999]);
  await bystanderOk('subscribe flood');
});

c.test('forged and replayed channel auth (a valid signature for another socket_id): AuthError 401, counted', async () => {
  const m0 = await metrics();
  const alice = await c.connect(edge, { name: 'alice' });
  const mallory = await c.connect(edge, { name: 'mallory' });
  const ch = `private-${uniqueId('secret')}`;
  const good = authorize(c.app, alice.socketId, ch);
  const attempts = [
    good.auth,                                   /* replay of alice's auth on mallory's socket */
    forge(authorize(c.app, mallory.socketId, ch).auth), /* forged signature */
    `${c.app.key}:${'0'.repeat(64)}`,
    `not-the-key:${authorize(c.app, mallory.socketId, ch).auth.split(':')[1]}`,
    '',
  ];
  for (const auth of attempts) {
    const from = mallory.subscribeNoWait(ch, { auth });
    const e = await mallory.waitMessage((m) => m.event === 'pusher:subscription_error' && m.channel === ch,
      { from, what: `subscription_error for auth ${auth.slice(0, 20)}` });
    assert.equal(JSON.parse(typeof e.data === 'string' ? e.data : JSON.stringify(e.data)).status, 401);
  }
  await counterGrew('swb_edge_auth_failures_websocket', m0, attempts.length);
  /* Replayed sign-in (alice's user auth on mallory's socket): 4009. */
  const signin = authenticate(c.app, alice.socketId, 'alice');
  mallory.send({ event: 'pusher:signin', data: signin });
  await mallory.waitClose();
  assert.equal(mallory.closeInfo.code, 4009);
  /* Alice's own auth still works, and mallory got nothing of the channel. */
  await alice.subscribe(ch, { auth: good.auth });
  await bystanderOk('forged auth');
});

c.test('hostile channel names never reach Redis outside the app\'s key space', async () => {
  const m0 = await metrics();
  const mark = `zq${c.uid}`;
  const names = [`${mark}:ch:x`, `x:${mark}`, `{${mark}}`, `${mark}*`, `${mark}?`, `[${mark}]`, `${mark}\nPING`,
    `${mark}\r\nFLUSHALL`, `${mark} x`, `#server-to-user-${mark}:x`, `presence-${mark}:x`, `${mark}\u00e9`, `${mark}\\x`];
  const cl = await c.connect(edge, { name: 'hostile-names' });
  for (const n of names) {
    await assert.rejects(cl.subscribe(n), /failed/, `subscribe ${JSON.stringify(n)} must fail`);
    const r = await api.request({ port: edge.port, app: c.app, body: { name: 'x', channels: [n], data: '{}' } });
    assert.equal(r.status, 400, `publish to ${JSON.stringify(n)}: ${r.status} ${r.text}`);
  }
  await counterGrew('swb_edge_bad_frames_total', m0, names.length);
  assert.deepEqual(await c.redis('KEYS', `*${mark}*`), [], 'a key with a hostile name exists');
  assert.deepEqual(await c.redis('PUBSUB', 'CHANNELS', `*${mark}*`), [], 'a Redis channel with a hostile name exists');
  await bystanderOk('hostile names');
});

c.test('Pusher limits at their boundaries: channel name 164, event name 200, data 10 KiB (API and client events)', async () => {
  const m0 = await metrics();
  const a1 = await c.connect(edge, { name: 'lim-a' });
  const a2 = await c.connect(edge, { name: 'lim-b' });
  /* channel names: 164 bytes in, 165 out (subscribe and API) */
  const base = `private-${c.uid}-`;
  const ch164 = base + 'c'.repeat(164 - base.length);
  for (const cl of [a1, a2]) await cl.subscribe(ch164, { auth: authorize(c.app, cl.socketId, ch164).auth });
  const ch165 = `${ch164}c`;
  await assert.rejects(a1.subscribe(ch165, { auth: authorize(c.app, a1.socketId, ch165).auth }), /failed/);
  /* API: event name 200 and data of 10,240 bytes are delivered; 201 / 10,241 are not */
  const data10k = JSON.stringify({ id: uniqueId('lim'), pad: '' });
  const exact = data10k.replace('"pad":""', `"pad":"${'p'.repeat(10240 - data10k.length)}"`);
  assert.equal(Buffer.byteLength(exact), 10240);
  const ok = await api.request({ port: edge.port, app: c.app, body: { name: 'e'.repeat(200), channels: [ch164], data: exact } });
  assert.equal(ok.status, 200, ok.text);
  await a2.waitMessage((m) => m.event === 'e'.repeat(200) && m.data === exact, { what: 'the 10,240-byte event' });
  const over = await api.request({ port: edge.port, app: c.app, body: { name: 'x', channels: [ch164], data: `${exact}x` } });
  assert.equal(over.status, 413, over.text);
  const longName = await api.request({ port: edge.port, app: c.app, body: { name: 'e'.repeat(201), channels: [ch164], data: '{}' } });
  assert.equal(longName.status, 400, longName.text);
  const longCh = await api.request({ port: edge.port, app: c.app, body: { name: 'x', channels: [ch165], data: '{}' } });
  assert.equal(longCh.status, 400, longCh.text);
  /* client events: the same limits, refused with pusher:error (4301 only for the rate) */
  const cname = `client-${'e'.repeat(193)}`;
  assert.equal(cname.length, 200);
  a1.send({ event: cname, channel: ch164, data: exact });
  await a2.waitMessage((m) => m.event === cname && m.data === exact, { what: 'a 10,240-byte client event with a 200-byte name' });
  for (const [ev, d, re] of [[`${cname}e`, '{}', /at most 200/], ['client-big', `${exact}x`, /too large \(limit 10240 bytes\)/]]) {
    const from = a1.messages.length;
    a1.send({ event: ev, channel: ch164, data: d });
    const e = await a1.waitMessage((m) => m.event === 'pusher:error', { from, what: `refusal of ${ev.slice(0, 20)}` });
    assert.match(e.data.message, re);
  }
  await counterGrew('swb_edge_client_events_rejected_total', m0, 2);
  await a1.ping();
  assert.equal(a1.closeInfo, null);
  await bystanderOk('limits');
});

c.test('allowed_origins: an upgrade from another Origin gets pusher:error 4009 and close 4009, counted', async () => {
  const file = c.writeAppsFile([{ ...c.app, allowed_origins: ['https://a.example', '*.example.org'] }], 'origins.json');
  const oe = await c.addEdge(edge.host, { appsFile: file });
  const WebSocket = require('ws');
  const open = (origin) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${oe.port}/app/${c.app.key}?protocol=7`, origin ? { origin } : {});
    const r = { msgs: [], code: null };
    ws.on('message', (d) => {
      r.msgs.push(JSON.parse(d.toString()));
      if (r.msgs[0].event === 'pusher:connection_established') { ws.close(); resolve(r); }
    });
    ws.on('close', (code) => { r.code = code; resolve(r); });
    ws.on('error', () => {});
  });
  const before = Number((await api.get(oe.port, '/metrics')).text.match(/^swb_edge_origin_rejected_total (\d+)$/m)[1]);
  for (const bad of ['https://evil.example', 'http://a.example', 'https://example.org', 'https://a.example.evil.org.com', 'null']) {
    const r = await open(bad);
    assert.equal(r.code, 4009, `${bad}: close ${r.code}`);
    assert.equal(r.msgs[0].event, 'pusher:error', `${bad}: ${JSON.stringify(r.msgs)}`);
    assert.equal(r.msgs[0].data.code, 4009);
  }
  for (const good of ['https://a.example', 'https://x.example.org', undefined]) {
    const r = await open(good);
    assert.equal(r.msgs[0].event, 'pusher:connection_established', `${good}: ${JSON.stringify(r.msgs)} close ${r.code}`);
  }
  const after = Number((await api.get(oe.port, '/metrics')).text.match(/^swb_edge_origin_rejected_total (\d+)$/m)[1]);
  assert.equal(after - before, 5);
  await bystanderOk('origins');
});

/* One HTTP request over a bare socket; resolves {status, closed} once the
 * server answered or closed. */
function rawHttp(text) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: edge.port });
    let got = '';
    s.on('connect', () => s.write(text));
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => resolve({ status: Number((got.match(/^HTTP\/1\.1 (\d+)/) || [])[1]) || null, text: got }));
    s.setTimeout(20000, () => s.destroy());
  });
}

c.test('HTTP API: expired timestamps and a wrong body_md5 are 401, a huge body 413, all counted', async () => {
  const m0 = await metrics();
  const body = { name: 'x', channels: [stream.channel], data: JSON.stringify({ id: 'never' }) };
  const now = Math.floor(Date.now() / 1000);
  for (const o of [{ timestamp: now - 602 }, { timestamp: now - 3600 }, { timestamp: now + 602 }, { bodyMd5: api.md5('{}') }]) {
    const r = await api.request({ port: edge.port, app: c.app, body, ...o });
    assert.equal(r.status, 401, `${JSON.stringify(o)}: ${r.status} ${r.text}`);
  }
  const big = await rawHttp(`POST /apps/${c.app.id}/events?auth_key=${c.app.key} HTTP/1.1\r\nHost: x\r\n` +
    'Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n{"name":');
  assert.equal(big.status, 413, big.text.slice(0, 200));
  await counterGrew('swb_edge_auth_failures_http_api', m0, 4);
  await counterGrew('swb_edge_api_bad_requests_total', m0, 1);
  await bystanderOk('http api');
  assert.ok(!bystander.events({ event: 'x' }).length, 'a refused publish was delivered');
});

c.test('header floods (one huge header, thousands of headers, a huge URL): connection dropped, counted, others served', async () => {
  const m0 = await metrics();
  const up = `GET /app/${c.app.key}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
  let many = '';
  for (let i = 0; i < 5000; i++) many += `X-H${i}: v\r\n`;
  const floods = [
    `${up}X-Big: ${'a'.repeat(100000)}\r\n\r\n`,
    `${up}${many}\r\n`,
    `GET /app/${c.app.key}?protocol=7&x=${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    `POST /apps/${c.app.id}/events HTTP/1.1\r\nHost: x\r\nCookie: ${'c'.repeat(60000)}\r\n\r\n`,
  ];
  for (const f of floods) {
    const r = await rawHttp(f);
    assert.ok(r.status === null || r.status >= 400, `a header flood was served: ${r.text.slice(0, 80)}`);
  }
  await counterGrew('swb_edge_heads_dropped_total', m0, floods.length);
  const h = await api.get(edge.port, '/healthz');
  assert.equal(h.status, 200);
  await c.connect(edge, { name: 'after-header-flood' }).then((x) => x.ping());
  await bystanderOk('header flood');
});

c.test(`slowloris: upgrades and API bodies sent a byte at a time are dropped after --handshake-timeout (${HANDSHAKE_TIMEOUT} s) and block nobody`, async () => {
  const m0 = await metrics();
  const head = `GET /app/${c.app.key}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  /* Sends `now` at once, then `text` one byte every 250 ms. */
  const slow = (text, now = '') => {
    const s = net.connect({ host: '127.0.0.1', port: edge.port });
    const st = { sent: 0, closed: false, got: '', t0: Date.now(), ms: null };
    if (now) s.write(now);
    const timer = setInterval(() => { if (st.sent < text.length) s.write(text[st.sent++]); }, 250);
    s.on('data', (d) => { st.got += d.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { st.closed = true; st.ms = Date.now() - st.t0; clearInterval(timer); });
    c.track({ destroy: () => { clearInterval(timer); s.destroy(); } });
    return st;
  };
  const lorises = Array.from({ length: 30 }, () => slow(head));
  /* A POST whose body trickles in: lws restarts its own timer per piece,
   * the edge's deadline does not. */
  const bodyText = JSON.stringify({ name: 'x', channels: [stream.channel], data: '{}' });
  const slowBody = slow(bodyText, `POST /apps/${c.app.id}/events?auth_key=${c.app.key} HTTP/1.1\r\nHost: x\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${bodyText.length}\r\n\r\n`);
  /* Meanwhile others connect and are served. */
  const newcomer = await c.connect(edge, { name: 'newcomer' });
  await newcomer.subscribe(uniqueId('newcomer'));
  await waitFor(() => lorises.every((l) => l.closed), { timeout: 20000, what: 'every slowloris connection dropped' });
  for (const l of lorises) {
    assert.ok(l.sent < head.length, `a slowloris connection finished its request (${l.sent} bytes) before being dropped`);
    assert.equal(l.got, '', 'a slowloris connection got an answer');
  }
  await waitFor(() => slowBody.closed, { timeout: 20000, what: 'the slow body dropped' });
  assert.match(slowBody.got, /^HTTP\/1\.1 408/, `slow body: ${slowBody.got.slice(0, 80)}`);
  assert.ok(slowBody.sent < bodyText.length, 'the slow body was complete');
  await counterGrew('swb_edge_heads_dropped_total', m0, 30);
  await counterGrew('swb_edge_http_timeouts_total', m0, 1);
  const ms = lorises.map((l) => l.ms).sort((a, b) => a - b);
  process.stderr.write(`# slowloris: 30 upgrades dropped after ${ms[0]}..${ms[ms.length - 1]} ms; slow body 408 after ${slowBody.ms} ms (--handshake-timeout ${HANDSHAKE_TIMEOUT})\n`);
  await newcomer.ping();
  await bystanderOk('slowloris');
});
