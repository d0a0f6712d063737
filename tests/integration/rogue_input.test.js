'use strict';
/* Hostile input from the bridge's other neighbours (issue #6): a rogue local
 * process on the edge socket (ipc://RUNTIME/bridge.ipc) sending malformed
 * protobuf, garbage on the control socket, and a misbehaving Redis. Each
 * time the bridge answers what it can (control: an error reply), counts it
 * (swbctl status counters), drops the message / pipe / connection, keeps
 * serving everyone else (a real edge's subscriber still gets every event),
 * and never crashes (the harness also fails the file on any sanitizer or
 * valgrind report of the bridge). tests/tools/swb_rogue_nng.c speaks NNG
 * for this file. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { Cluster, BIN_DIR, freePort, uniqueId, waitFor } = require('../lib/cluster');
const { waitDeliveryWorks } = require('../lib/deliveries');
const { GiveUp } = require('../lib/wait');
const { parseUrl } = require('../lib/resp');

const ROGUE = path.join(BIN_DIR, '..', 'tests', 'swb-rogue-nng');

/* ---- protobuf by hand (field numbers: proto/switchboard.proto) ---- */
function varint(n) {
  const out = [];
  for (;;) {
    const b = n % 128;
    n = Math.floor(n / 128);
    if (n) out.push(b | 0x80); else { out.push(b); return Buffer.from(out); }
  }
}
const fInt = (num, v) => Buffer.concat([varint(num * 8), varint(v)]);
const fBytes = (num, v) => {
  const b = Buffer.isBuffer(v) ? v : Buffer.from(String(v));
  return Buffer.concat([varint(num * 8 + 2), varint(b.length), b]);
};
const interest = (app, ch) => fBytes(2, Buffer.concat([fBytes(1, app), fBytes(2, ch), fInt(3, 1)]));

function rogue(mode, url, msgs) {
  return new Promise((resolve, reject) => {
    execFile(ROGUE, [mode, url, ...msgs.map((m) => (Buffer.isBuffer(m) ? m.toString('hex') : m))],
      { timeout: 20000, env: { PATH: process.env.PATH, ASAN_OPTIONS: process.env.ASAN_OPTIONS || '' } },
      (err, stdout, stderr) => (err ? reject(new Error(`swb-rogue-nng ${mode}: ${err.message} ${stderr}`)) : resolve(stdout.trim())));
  });
}

/* ---- a Redis that misbehaves, then (mode 'proxy') forwards to a real one ---- */
class FakeRedis {
  constructor(realUrl) {
    this.real = parseUrl(realUrl);
    this.mode = 'garbage';
    this.accepted = {}; /* mode -> connections accepted in it */
    this.sockets = new Set();
    this.server = net.createServer((s) => this.onConn(s));
  }

  async listen() {
    this.port = await freePort();
    await new Promise((r) => this.server.listen(this.port, '127.0.0.1', r));
    return `redis://127.0.0.1:${this.port}`;
  }

  onConn(s) {
    const mode = this.mode;
    this.accepted[mode] = (this.accepted[mode] || 0) + 1;
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => {});
    if (mode === 'proxy') {
      const up = net.connect(this.real.port, this.real.host);
      up.on('error', () => s.destroy());
      s.on('close', () => up.destroy());
      up.on('close', () => s.destroy());
      s.pipe(up);
      up.pipe(s);
      return;
    }
    const bulk = (x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`;
    s.on('data', (d) => {
      const text = d.toString('latin1');
      switch (mode) {
        case 'garbage': s.write(Buffer.from([0, 0xff, 0x13, 0x37, 10, 13, 10])); break;
        case 'wrong_types': /* SUBSCRIBE answered with an integer, the rest with arrays of the wrong shape */
          s.write(/SUBSCRIBE/i.test(text) ? ':1\r\n' : `*2\r\n:1\r\n${bulk('x')}`);
          break;
        case 'huge': /* a 1 GB bulk string, streamed until the bridge gives up (64 MiB pending:
                        * redis_uv.c); once, to the subscribe connection (reading 64 MiB through
                        * hiredis' 1 MiB buffer steps is slow under ASan), plain +OK after that */
          if (this.hugeSent || !/-sub\b/.test(text)) {
            s.write('+OK\r\n');
          } else if (!s.huge) {
            this.hugeSent = true;
            s.huge = true;
            s.write('$1000000000\r\n');
            const chunk = Buffer.alloc(1 << 20, 0x61);
            let sent = 0;
            const more = () => {
              while (sent < 80 && !s.destroyed) {
                sent++;
                if (!s.write(chunk)) { s.once('drain', more); return; }
              }
            };
            more();
          }
          break;
        case 'bad_length': s.write('$9223372036854775808\r\nabc'); break;
        case 'mid_reply': s.end(`*3\r\n$7\r\nmess`); break;
        case 'unsolicited': /* answer, then once the client is quiet a reply to nothing (and on
                               * the subscribe connection a message that is no Envelope) */
          s.write('+OK\r\n'.repeat((text.match(/\*\d+\r\n/g) || ['']).length));
          clearTimeout(s.quiet);
          s.quiet = setTimeout(() => {
            if (!s.destroyed) s.write(`+OK\r\n*3\r\n${bulk('message')}${bulk('swb:x')}${bulk('boo')}`);
          }, 300);
          break;
        default: s.write('+OK\r\n');
      }
    });
  }

  dropAll() {
    this.hugeSent = false;
    for (const s of this.sockets) s.destroy();
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

const c = new Cluster('rogue_input');
let host;
let edge;
let sub;
let fake;
const CH = uniqueId('rogue');

async function counters(h = host) { return (await c.status(h)).counters; }

/* The real edge's subscriber still gets events published on the edge. */
async function deliveryWorks() {
  await waitDeliveryWorks((body) => c.publish(edge, body), CH, [sub]);
}

before(async () => {
  assert.ok(fs.existsSync(ROGUE), `${ROGUE} is built by tests/CMakeLists.txt`);
  await c.startRedis();
  host = await c.addHost('a');
  edge = await c.addEdge(host);
  sub = await c.connect(edge, { name: 'sub' });
  await sub.subscribe(CH);
  await deliveryWorks();
});

after(async () => {
  if (fake) await fake.close();
  await c.stop();
});

c.test('malformed protobuf on bridge.ipc: counted and dropped; the real edge keeps working', async () => {
  const url = `ipc://${path.join(host.dir, 'bridge.ipc')}`;
  const before0 = await counters();
  await rogue('pair', url, [
    'ff', /* not protobuf */
    '0a05', /* Hello claiming 5 bytes that are not there */
    '', /* empty: no body set */
    interest('app1', 'x'), /* a valid message before any Hello */
    '1a03ffffff', /* sync with a broken nested message */
  ]);
  await waitFor(async () => {
    const k = await counters();
    return k.edge_bad_msg >= before0.edge_bad_msg + 4 && k.edge_unknown >= before0.edge_unknown + 1;
  }, { what: 'edge_bad_msg +4 and edge_unknown +1' });
  await deliveryWorks();
});

c.test('a rogue Hello (bad deliver_url), then bad names and a 5 MiB message: counted, pipe dropped, no effect on others', async () => {
  const url = `ipc://${path.join(host.dir, 'bridge.ipc')}`;
  const before0 = await counters();
  const hello = (deliver) => fBytes(1, Buffer.concat([fInt(1, 1), fBytes(2, 'rogue'), fBytes(3, 'x'), fInt(4, 1),
    fBytes(5, 'app1'), fBytes(6, deliver)]));
  await rogue('pair', url, [hello('tcp://1.2.3.4:5')]);
  await waitFor(async () => (await counters()).edge_bad_msg >= before0.edge_bad_msg + 1,
    { what: 'a Hello with a non-ipc deliver_url counted as bad' });
  await rogue('pair', url, [
    hello(`ipc://${path.join(host.dir, 'nobody-listens.ipc')}`),
    interest('app1', 'bad channel name with spaces'),
    interest('../../etc', 'x'),
  ]);
  await waitFor(async () => (await counters()).edge_bad_name >= before0.edge_bad_name + 2,
    { what: 'edge_bad_name +2' });
  await rogue('pair', url, ['big:5242880']).catch(() => {}); /* over the 4 MiB receive limit: NNG drops the pipe */
  await waitFor(async () => (await c.status(host)).edges.every((e) => e.edge_id !== 'rogue'),
    { what: 'the rogue edge gone from swbctl status once its pipe closed' });
  const st = await c.status(host);
  assert.equal(st.edges.length, 1, 'only the real edge is registered');
  await deliveryWorks();
});

c.test('garbage on control.ipc: one clear error reply each, control_bad counts them, status still answers', async () => {
  const url = `ipc://${path.join(host.dir, 'control.ipc')}`;
  const before0 = await counters();
  const cases = [
    [Buffer.from([0xff, 0, 0x13, 0x37]), /malformed JSON/],
    [Buffer.from('{"cmd":'), /malformed JSON/],
    [Buffer.from('[1,2]'), /must be a JSON object/],
    [Buffer.from('{"cmd":42}'), /missing "cmd"/],
    [Buffer.from('{"cmd":"status"} trailing'), /malformed JSON/],
    [Buffer.from(`{"cmd":"${'x'.repeat(200)}"}`), /unknown command/],
    [Buffer.from(`{"cmd":"status","pad":"${'y'.repeat(70 * 1024)}"}`), /too large/],
  ];
  for (const [i, [req, want]] of cases.entries()) {
    const file = path.join(c.tmp, `ctl-req-${i}`); /* too long for an argv string, some of them */
    fs.writeFileSync(file, req);
    const out = await rogue('req', url, [`file:${file}`]);
    const r = JSON.parse(out);
    assert.equal(r.ok, false, `reply to ${req.toString('latin1').slice(0, 40)}: ${out}`);
    assert.match(r.error, want);
  }
  /* Over the 1 MiB receive limit: NNG drops the pipe, no reply; the bridge lives on. */
  assert.equal(await rogue('req', url, ['big:2000000']), 'NO-REPLY');
  const k = await counters();
  assert.ok(k.control_bad >= before0.control_bad + cases.length,
    `control_bad ${before0.control_bad} -> ${k.control_bad}`);
  assert.equal((await c.status(host)).ok, true);
  await deliveryWorks();
});

c.test('a misbehaving Redis: never a crash, each bad connection counted and dropped, backoff, recovery once Redis is sane', async () => {
  fake = new FakeRedis(c.redisUrl);
  const fakeUrl = await fake.listen();
  const h = await c.addHost('f', { bridge: false, redis: fakeUrl });
  await c.startBridge(h, { waitRedis: false });
  const e = await c.addEdge(h, { waitReady: false });
  const s = await c.connect(e, { name: 'f-sub' });
  /* answered once a sane Redis confirms this host's SUBSCRIBE (below) */
  const from = s.subscribeNoWait(CH);
  for (const mode of ['garbage', 'wrong_types', 'huge', 'bad_length', 'mid_reply', 'unsolicited']) {
    fake.mode = mode;
    fake.dropAll(); /* both connections come back to meet the new mode */
    const k0 = await counters(h);
    /* Each mode makes the bridge drop (or lose) a connection, so it keeps
     * coming back; all but a plain close count as a bad reply. */
    const n = mode === 'huge' ? 1 : 2; /* one huge reply, see FakeRedis */
    await waitFor(async () => {
      if (!h.bridge.alive) throw new GiveUp(`swb-bridge exited in mode ${mode}: ${JSON.stringify(h.bridge.exit)}`);
      const k = await counters(h);
      const counted = mode === 'mid_reply' ? k.redis_lost >= k0.redis_lost + n + 1
        : k.redis_bad_reply >= k0.redis_bad_reply + n;
      return (fake.accepted[mode] || 0) >= n + 1 && counted;
    }, { timeout: 60000, what: `mode ${mode}: reconnects and counted bad replies` });
  }
  /* Backoff: through all that misbehaviour the bridge did not hammer the server. */
  const total = Object.values(fake.accepted).reduce((a, b) => a + b, 0);
  assert.ok(total < 2000, `${total} connections: reconnects are not backed off`);
  fake.mode = 'proxy'; /* Redis is sane again (as after a restart): every new connection reaches a real one */
  fake.dropAll();
  await c.waitBridgeReady(h, { timeout: 30000 });
  await c.waitEdgeReady(e);
  await s.waitMessage((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === CH,
    { from, timeout: 20000, what: `subscription_succeeded on ${CH}` });
  /* Cross-host through the now sane Redis: host a's edge publishes, host f's subscriber gets it. */
  await waitDeliveryWorks((body) => c.publish(edge, body), CH, [sub, s], { timeout: 20000 });
});
