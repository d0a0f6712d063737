'use strict';
/* TLS on the edge listener (docs/security.md): wss:// and https:// with a
 * certificate from a test CA; plain ws:// to the TLS port fails cleanly;
 * bad files exit 2 at start-up; SIGHUP reloads the certificate for new
 * handshakes while open connections keep working; a bad reload changes
 * nothing; --tls-ca requires client certificates. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const https = require('node:https');
const { execFile } = require('node:child_process');
const WebSocket = require('ws');
const { Cluster, Proc, bin, freePort, uniqueId, waitFor, api } = require('../lib/cluster');
const { makeCa, makeCert } = require('../lib/certs');
const { GiveUp } = require('../lib/wait');

const c = new Cluster('tls');
let host;
let plain;     /* a plain edge on the same host, to publish through */
let ca;
let edge;      /* {port, proc, cert, key}: the TLS edge */
let CA_PEM;

before(async () => {
  ca = makeCa(path.join(c.tmp, 'pki'));
  CA_PEM = fs.readFileSync(ca.cert);
  await c.startRedis();
  host = await c.addHost('a');
  plain = await c.addEdge(host);
  const first = makeCert(ca, 'server1');
  /* The edge reads these two paths; reload tests overwrite them. */
  const live = { cert: path.join(c.tmp, 'pki', 'live.pem'), key: path.join(c.tmp, 'pki', 'live.key') };
  fs.copyFileSync(first.cert, live.cert);
  fs.copyFileSync(first.key, live.key);
  edge = await startTlsEdge(['--tls-cert', live.cert, '--tls-key', live.key]);
  edge.cert = live.cert;
  edge.key = live.key;
});

after(() => c.stop());

/* Starts a TLS edge of host and waits until https /readyz says 200. */
async function startTlsEdge(tlsArgs, { clientCert } = {}) {
  const port = await freePort();
  const n = c.procs.length + 1;
  const argv = ['--runtime-dir', host.dir, '--listen', `127.0.0.1:${port}`, ...c.appArgs(), ...tlsArgs];
  const proc = new Proc(`edge-tls${n}`, bin('swb-edge'), argv, path.join(c.tmp, `edge-tls${n}.log`));
  c.procs.push(proc);
  proc.start();
  const e = { port, proc, name: proc.name };
  await waitFor(async () => {
    if (!proc.alive) throw new Error(`TLS edge exited ${JSON.stringify(proc.exit)}:\n${proc.logTail(20)}`);
    return (await httpsGet(port, '/readyz', clientCert)).status === 200;
  }, { timeout: 30000, what: `TLS edge :${port} /readyz` });
  return e;
}

function httpsGet(port, p, clientCert) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: p, ca: CA_PEM, agent: false, ...(clientCert || {}) }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/* A signed HTTPS publish (the SDKs' signing, over TLS). */
function httpsPublish(port, body) {
  const text = JSON.stringify(body);
  const params = { auth_key: c.app.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0', body_md5: api.md5(text) };
  const p = `/apps/${c.app.id}/events`;
  params.auth_signature = api.sign(c.app.secret, 'POST', p, params);
  const qs = Object.entries(params).map(([k, v]) => `${k}=${v}`).join('&');
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method: 'POST', path: `${p}?${qs}`, ca: CA_PEM, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/* A wss:// Pusher client: resolves {ws, msgs, socketId, fingerprint} once
 * connection_established arrived. */
async function wss(port, opts = {}) {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/app/${c.app.key}?protocol=7`, { ca: CA_PEM, ...opts });
  const cl = { ws, msgs: [], closed: null, error: null };
  ws.on('message', (d) => cl.msgs.push(JSON.parse(d.toString())));
  ws.on('close', (code) => { cl.closed = code; });
  ws.on('error', (e) => { cl.error = e; });
  c.track({ destroy: () => ws.terminate() });
  await waitFor(() => {
    if (cl.error) throw new GiveUp(`wss: ${cl.error.message}`);
    if (cl.closed !== null) throw new GiveUp(`wss: closed ${cl.closed} before connection_established`);
    return cl.msgs.find((m) => m.event === 'pusher:connection_established');
  }, { what: 'wss connection_established' });
  cl.socketId = JSON.parse(cl.msgs[0].data).socket_id;
  cl.fingerprint = ws._socket.getPeerCertificate().fingerprint256;
  return cl;
}

async function wssSubscribe(cl, channel) {
  cl.ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
  await waitFor(() => cl.msgs.find((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === channel),
    { what: `wss subscribe ${channel}` });
}

/* Publishes through the plain edge until cl has the event. */
async function assertReceives(cl, channel) {
  const id = uniqueId('tlsev');
  await c.publish(plain, { name: 'ev', channels: [channel], data: JSON.stringify({ id }) });
  await waitFor(() => cl.msgs.find((m) => m.event === 'ev' && JSON.parse(m.data).id === id),
    { what: `event ${id} over wss` });
}

/* The certificate a fresh TLS handshake gets. */
function handshakeFingerprint(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: CA_PEM }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

function fingerprintOf(file) {
  return new (require('node:crypto').X509Certificate)(fs.readFileSync(file)).fingerprint256;
}

async function metric(name) {
  const r = await httpsGet(edge.port, '/metrics');
  const m = r.text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

function runEdge(args) {
  return new Promise((resolve) => {
    execFile(bin('swb-edge'), ['--runtime-dir', host.dir, '--listen', '127.0.0.1:1', ...c.appArgs(), ...args],
      { timeout: 10000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
  });
}

c.test('bad TLS files: exit 2 with a message that names the file', async () => {
  const good = makeCert(ca, 'server-good');
  const other = makeCert(ca, 'server-other');
  const garbage = path.join(c.tmp, 'garbage.pem');
  fs.writeFileSync(garbage, 'not a certificate\n');
  const cases = [
    [['--tls-cert', '/nonexistent/cert.pem', '--tls-key', good.key], /cannot read --tls-cert '\/nonexistent\/cert.pem': No such file/],
    [['--tls-cert', good.cert, '--tls-key', '/nonexistent/key.pem'], /cannot read --tls-key '\/nonexistent\/key.pem'/],
    [['--tls-cert', garbage, '--tls-key', good.key], /holds no PEM certificate/],
    [['--tls-cert', good.cert, '--tls-key', other.key], /does not match the certificate/],
    [['--tls-cert', good.cert], /--tls-cert and --tls-key go together/],
    [['--tls-cert', good.cert, '--tls-key', good.key, '--tls-ca', '/nonexistent/ca.pem'], /cannot read --tls-ca/],
  ];
  for (const [args, re] of cases) {
    const r = await runEdge(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
  }
});

c.test('wss:// and https:// work with the test CA; events published on another edge arrive', async () => {
  const cl = await wss(edge.port);
  assert.equal(cl.fingerprint, fingerprintOf(edge.cert));
  const ch = uniqueId('tls');
  await wssSubscribe(cl, ch);
  await assertReceives(cl, ch);
  const id = uniqueId('https');
  const r = await httpsPublish(edge.port, { name: 'ev', channels: [ch], data: JSON.stringify({ id }) });
  assert.equal(r.status, 200, r.text);
  await waitFor(() => cl.msgs.find((m) => m.event === 'ev' && JSON.parse(m.data).id === id), { what: 'https publish delivered' });
});

c.test('plain ws:// to the TLS port fails cleanly; TLS clients are unaffected', async () => {
  const dropped0 = await metric('swb_edge_heads_dropped_total');
  const bystander = await wss(edge.port);
  const ch = uniqueId('tls-plain');
  await wssSubscribe(bystander, ch);
  for (let i = 0; i < 5; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${edge.port}/app/${c.app.key}?protocol=7`);
    const r = { open: false, done: false };
    ws.on('open', () => { r.open = true; });
    ws.on('error', () => { r.done = true; });
    ws.on('close', () => { r.done = true; });
    await waitFor(() => r.done, { what: 'plain ws:// attempt to end' });
    assert.equal(r.open, false, 'a plain WebSocket must not open on the TLS port');
  }
  const plainHttp = await api.get(edge.port, '/healthz').then((x) => x.status, (e) => e.code || 'error');
  assert.notEqual(plainHttp, 200, 'plain HTTP must not be served on the TLS port');
  assert.ok(edge.proc.alive);
  await assertReceives(bystander, ch);
  /* Each failed handshake is counted (connections closed before a whole
   * request head). */
  await waitFor(async () => (await metric('swb_edge_heads_dropped_total')) >= dropped0 + 6,
    { timeout: 30000, what: '6 failed handshakes counted in swb_edge_heads_dropped_total' });
});

c.test('SIGHUP reloads the certificate: new handshakes get the new one, open connections keep working', async () => {
  const old = await wss(edge.port);
  const ch = uniqueId('tls-reload');
  await wssSubscribe(old, ch);
  const before = await metric('swb_edge_tls_reloads_total');
  const next = makeCert(ca, 'server2');
  fs.copyFileSync(next.cert, edge.cert);
  fs.copyFileSync(next.key, edge.key);
  const want = fingerprintOf(next.cert);
  assert.notEqual(want, old.fingerprint);
  edge.proc.child.kill('SIGHUP');
  await waitFor(async () => (await handshakeFingerprint(edge.port)) === want, { what: 'a new handshake to get the new certificate' });
  assert.equal(await metric('swb_edge_tls_reloads_total'), before + 1);
  assert.equal(old.closed, null, 'the connection opened before the reload was closed');
  await assertReceives(old, ch);
  const fresh = await wss(edge.port);
  assert.equal(fresh.fingerprint, want);
  await wssSubscribe(fresh, ch);
  await assertReceives(fresh, ch);
});

c.test('a reload with a bad key, a mismatched key or a changed key type changes nothing', async () => {
  const current = await handshakeFingerprint(edge.port);
  const certBefore = fs.readFileSync(edge.cert);
  const keyBefore = fs.readFileSync(edge.key);
  const other = makeCert(ca, 'server3');
  const ec = makeCert(ca, 'server-ec', { keyType: 'ec' });
  const attempts = [
    () => fs.writeFileSync(edge.key, 'garbage\n'),                                       /* unreadable key */
    () => { fs.copyFileSync(other.cert, edge.cert); fs.writeFileSync(edge.key, keyBefore); }, /* key of another cert */
    () => { fs.copyFileSync(ec.cert, edge.cert); fs.copyFileSync(ec.key, edge.key); },  /* RSA -> EC */
  ];
  for (const [i, breakFiles] of attempts.entries()) {
    const failures = await metric('swb_edge_tls_reload_failures_total');
    breakFiles();
    edge.proc.child.kill('SIGHUP');
    await waitFor(async () => (await metric('swb_edge_tls_reload_failures_total')) === failures + 1,
      { what: `reload attempt ${i} counted as failed` });
    assert.equal(await handshakeFingerprint(edge.port), current, `attempt ${i}: the certificate changed`);
    fs.writeFileSync(edge.cert, certBefore);
    fs.writeFileSync(edge.key, keyBefore);
  }
  assert.match(edge.proc.logTail(30), /TLS reload refused.*key type changed \(RSA -> EC\)/);
  const cl = await wss(edge.port);
  const ch = uniqueId('tls-after-bad');
  await wssSubscribe(cl, ch);
  await assertReceives(cl, ch);
});

c.test('--tls-ca: a client certificate signed by the CA is required', async () => {
  const srv = makeCert(ca, 'server-mtls');
  const client = makeCert(ca, 'client1', { client: true });
  const clientOpts = { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) };
  const m = await startTlsEdge(['--tls-cert', srv.cert, '--tls-key', srv.key, '--tls-ca', ca.cert], { clientCert: clientOpts });
  const withCert = await wss(m.port, clientOpts);
  const ch = uniqueId('mtls');
  await wssSubscribe(withCert, ch);
  await assertReceives(withCert, ch);
  /* Without a certificate the handshake fails (TLS 1.3 reports it after
   * the handshake, as an error or a close before any frame). */
  await assert.rejects(wss(m.port), 'a client without a certificate must not connect');
  const stranger = makeCa(path.join(c.tmp, 'pki2'), 'ca2');
  const foreign = makeCert(stranger, 'client2', { client: true });
  await assert.rejects(wss(m.port, { cert: fs.readFileSync(foreign.cert), key: fs.readFileSync(foreign.key) }),
    'a client certificate from another CA must not connect');
  assert.ok(m.proc.alive);
});

/* TLS on a --reuseport listener (accepted sockets are handed to lws, which
 * must still run the TLS handshake) and coalesced writes over TLS: a batch
 * of events reaches a wss:// client intact, once each, in order. */
c.test('TLS with --reuseport and coalesced writes: a batch arrives intact and in order over wss', async () => {
  const port = await freePort();
  const pair = [];
  for (let i = 0; i < 2; i++) {
    const argv = ['--runtime-dir', host.dir, '--listen', `127.0.0.1:${port}`, '--reuseport', ...c.appArgs(),
      '--tls-cert', edge.cert, '--tls-key', edge.key];
    const proc = new Proc(`edge-tls-rp${i}`, bin('swb-edge'), argv, path.join(c.tmp, `edge-tls-rp${i}.log`));
    c.procs.push(proc);
    proc.start();
    pair.push(proc);
  }
  await waitFor(async () => {
    for (const p of pair) if (!p.alive) throw new GiveUp(`reuseport TLS edge exited ${JSON.stringify(p.exit)}:\n${p.logTail(20)}`);
    return (await httpsGet(port, '/readyz').catch(() => ({ status: 0 }))).status === 200;
  }, { timeout: 30000, what: `reuseport TLS edges :${port} /readyz` });
  const clients = [];
  for (let i = 0; i < 4; i++) clients.push(await wss(port));
  const ch = uniqueId('tls-rp');
  for (const cl of clients) await wssSubscribe(cl, ch);
  const batch = [];
  const big = 'é'.repeat(3000);
  for (let i = 0; i < 10; i++) batch.push({ channel: ch, name: 'burst', data: JSON.stringify({ i, big }) });
  const r = await c.publishBatch(plain, batch);
  assert.equal(r.status, 200, r.text);
  for (const cl of clients) {
    await waitFor(() => cl.msgs.filter((m) => m.event === 'burst').length >= 10, { what: 'batch over wss' });
    const got = cl.msgs.filter((m) => m.event === 'burst').map((m) => JSON.parse(m.data));
    assert.deepEqual(got.map((d) => d.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const d of got) assert.equal(d.big, big);
  }
});
