'use strict';
/* The edge's Pusher HTTP API (pusher-protocol.md §7): request
 * authentication (signature, timestamp window, body_md5, key, app id) and
 * the limits, each answered with the right status; a good request gets
 * 200 {} and is delivered. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Cluster, uniqueId, api } = require('../lib/cluster');
const { waitDeliveryWorks, Ledger } = require('../lib/deliveries');

const c = new Cluster('http_api');
/* The credentials of the worked example in pusher-protocol.md §11. */
const app42 = { id: '42', key: 'k3y-demo', secret: 's3cr3t-demo' };
c.apps = [c.app, app42];
let edge;
let sub;
const CH = uniqueId('api');

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  edge = await c.addEdge(a);
  sub = await c.connect(edge, { name: 'sub' });
  await sub.subscribe(CH);
  await waitDeliveryWorks((body) => c.publish(edge, body), CH, [sub]);
});

after(() => c.stop());

const good = () => ({ name: 'ev', channels: [CH], data: JSON.stringify({ id: uniqueId('api') }) });
const req = (opts) => api.request({ port: edge.port, app: c.app, ...opts });

c.test('the test signer reproduces the worked example of pusher-protocol.md §11', () => {
  const body = '{"name":"order-shipped","channels":["private-orders"],"data":"{\\"id\\":9}"}';
  assert.equal(api.md5(body), 'ea0f8d29f5393fa92fffba9f5b5fd9d5');
  assert.equal(api.sign(app42.secret, 'POST', '/apps/42/events', {
    auth_key: 'k3y-demo', auth_timestamp: '1700000000', auth_version: '1.0', body_md5: api.md5(body),
  }), '6cd1769c9b3d04a348a74749d2fdfa1efa410fb3a25692aa24aaf80d64024252');
  assert.equal(api.sign(app42.secret, 'GET', '/apps/42/channels', {
    auth_key: 'k3y-demo', auth_timestamp: '1700000000', auth_version: '1.0', info: 'user_count', filter_by_prefix: 'presence-',
  }), '19ada47b0fca125ca6a45bb62b7857a7dd703eafdd0f58a235c4c1a321fb81cf');
});

c.test('the worked example request itself is refused only for its old timestamp (401)', async () => {
  const body = '{"name":"order-shipped","channels":["private-orders"],"data":"{\\"id\\":9}"}';
  const r = await api.request({ port: edge.port, app: app42, body, timestamp: 1700000000 });
  assert.equal(r.status, 401, r.text);
  /* The same request signed now is accepted (app 42 on the same edge). */
  const ok = await api.request({ port: edge.port, app: app42, body });
  assert.equal(ok.status, 200, ok.text);
});

c.test('success: 200 with a JSON body {} and the event is delivered unchanged', async () => {
  const ledger = new Ledger([sub]);
  const id = uniqueId('ok');
  const data = JSON.stringify({ id, s: 'ünïcödé \u2028 "q" \\' });
  const r = await req({ body: { name: 'ok-event', channels: [CH], data } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {});
  ledger.expect(id, [sub], { event: 'ok-event', channels: [CH], data });
  /* The single-channel form {"channel": "x"} works too. */
  const id2 = uniqueId('ok');
  const r2 = await req({ body: { name: 'ok-event', channel: CH, data: JSON.stringify({ id: id2 }) } });
  assert.equal(r2.status, 200, r2.text);
  ledger.expect(id2, [sub], { event: 'ok-event', channels: [CH] });
  await ledger.waitAll();
  await sub.ping();
  ledger.assertExact();
});

c.test('authentication failures: 401', async () => {
  const cases = {
    'missing signature': { signature: '' },
    'wrong signature': { signature: 'f'.repeat(64) },
    'signature of another path': { signPath: `/apps/${c.app.id}/batch_events` },
    /* 602, not 601: the test's clock and the edge's can straddle a second
     * boundary, so 601 here can be exactly 600 (accepted) there. */
    'timestamp 602 s old': { timestamp: Math.floor(Date.now() / 1000) - 602 },
    'timestamp 602 s ahead': { timestamp: Math.floor(Date.now() / 1000) + 602 },
    'wrong body_md5': { bodyMd5: '0'.repeat(32) },
    'wrong key': { key: 'not-the-key' },
  };
  for (const [what, o] of Object.entries(cases)) {
    const r = await req({ body: good(), ...o });
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.text}`);
  }
  const unsigned = await req({ body: good(), unsigned: true });
  assert.equal(unsigned.status, 401, `no auth parameters at all: ${unsigned.status} ${unsigned.text}`);
  /* A body that differs from the one signed (body_md5 and signature both
   * computed on the original). */
  const signedBody = JSON.stringify(good());
  const r = await req({ body: JSON.stringify(good()), bodyMd5: api.md5(signedBody) });
  assert.equal(r.status, 401, `tampered body: ${r.status}`);
});

c.test('unknown app id: 404', async () => {
  const r = await req({ path: '/apps/no-such-app/events', body: good() });
  assert.equal(r.status, 404, r.text);
});

c.test('bad requests: 400', async () => {
  const cases = {
    'bad JSON': '{"name":"x","channels":["a"],',
    'not an object': '[1,2]',
    'missing name': JSON.stringify({ channels: [CH], data: '{}' }),
    'missing channels': JSON.stringify({ name: 'x', data: '{}' }),
    '101 channels': JSON.stringify({ name: 'x', data: '{}', channels: Array.from({ length: 101 }, (_, i) => `c${i}`) }),
    'invalid channel name': JSON.stringify({ name: 'x', data: '{}', channels: ['bad channel'] }),
    'channel name of 165 bytes': JSON.stringify({ name: 'x', data: '{}', channels: ['c'.repeat(165)] }),
    'event name of 201 bytes': JSON.stringify({ name: 'e'.repeat(201), data: '{}', channels: [CH] }),
    'bad socket_id': JSON.stringify({ name: 'x', data: '{}', channels: [CH], socket_id: 'abc' }),
  };
  for (const [what, body] of Object.entries(cases)) {
    const r = await req({ body });
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.text}`);
  }
  const batch = Array.from({ length: 11 }, () => ({ channel: CH, name: 'b', data: '{}' }));
  const rb = await req({ path: `/apps/${c.app.id}/batch_events`, body: { batch } });
  assert.equal(rb.status, 400, `batch of 11: ${rb.status} ${rb.text}`);
  /* 100 channels is fine. */
  const r100 = await req({ body: { name: 'x', data: '{}', channels: Array.from({ length: 100 }, (_, i) => `c${i}`) } });
  assert.equal(r100.status, 200, `100 channels: ${r100.status} ${r100.text}`);
});

c.test('too large: data over 10 KB and body over the limit: 413', async () => {
  const big = await req({ body: { name: 'x', channels: [CH], data: 'x'.repeat(10241) } });
  assert.equal(big.status, 413, `data of 10241 bytes: ${big.status} ${big.text}`);
  const fits = await req({ body: { name: 'x', channels: [CH], data: JSON.stringify({ id: uniqueId('fits'), pad: 'x'.repeat(9000) }) } });
  assert.equal(fits.status, 200, `data of ~9 KB: ${fits.status} ${fits.text}`);
  /* A server may answer 413 as soon as it knows and close without reading
   * the rest, so send the body slowly and stop once the answer is in. */
  const body = JSON.stringify({ name: 'x', channels: [CH], data: 'y'.repeat(1024 * 1024) });
  const q = signedQuery(body);
  const announced = await rawHttp(edge.port,
    `POST /apps/${c.app.id}/events?${q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`, body);
  assert.match(announced, /^HTTP\/1\.1 413/, `1 MiB body with Content-Length: ${announced.split('\r\n')[0]}`);
});

c.test('a chunked body over the limit: 413 (or 411 if chunked bodies are not taken at all)', async () => {
  const body = JSON.stringify({ name: 'x', channels: [CH], data: 'y'.repeat(1024 * 1024) });
  const q = signedQuery(body);
  const chunked = await rawHttp(edge.port,
    `POST /apps/${c.app.id}/events?${q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    'Transfer-Encoding: chunked\r\n\r\n', body, { chunked: true });
  assert.match(chunked, /^HTTP\/1\.1 (413|411)/, `1 MiB chunked body: ${chunked.split('\r\n')[0]}`);
});

function signedQuery(body) {
  const params = { auth_key: c.app.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0', body_md5: api.md5(body) };
  params.auth_signature = api.sign(c.app.secret, 'POST', `/apps/${c.app.id}/events`, params);
  return Object.entries(params).map(([k, v]) => `${k}=${v}`).join('&');
}

/* Writes the head (and the first piece of the body), waits up to 3 s for an
 * early answer (a server that checks Content-Length answers before the
 * body), then sends the rest in 16 KB pieces until the server answers.
 * Resolves with whatever the server sent. */
function rawHttp(port, head, body, { chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let got = '';
    let off = 0;
    let early = null;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no HTTP answer; got ${JSON.stringify(got)}`)); }, 20000);
    const done = () => { clearTimeout(timer); clearTimeout(early); sock.destroy(); resolve(got); };
    const piece = () => {
      const p = body.slice(off, off + 16384);
      off += p.length;
      return chunked ? `${p.length.toString(16)}\r\n${p}\r\n` : p;
    };
    const pump = () => {
      while (!got && off < body.length) {
        if (!sock.write(piece())) { sock.once('drain', pump); return; }
      }
      if (chunked && off >= body.length && !got) sock.write('0\r\n\r\n');
    };
    sock.on('connect', () => {
      sock.write(head + (chunked ? piece() : ''));
      early = setTimeout(pump, 3000);
    });
    sock.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\r\n\r\n')) done(); });
    sock.on('error', () => { if (got) done(); });
    sock.on('close', () => { if (got) done(); else { clearTimeout(timer); clearTimeout(early); reject(new Error('closed without an HTTP answer')); } });
  });
}

c.test('none of the refused requests was delivered, the edge still serves', async () => {
  await waitDeliveryWorks((body) => c.publish(edge, body), CH, [sub]);
  await sub.ping();
  for (const m of sub.events()) {
    assert.ok(['probe', 'ok-event', 'x'].includes(m.event), `unexpected event ${m.event}: ${m.data.slice(0, 80)}`);
    if (m.event === 'x') {
      /* only the ~9 KB "fits" event was accepted on this channel */
      assert.ok(JSON.parse(m.data).pad, `a refused event was delivered: ${m.data.slice(0, 80)}`);
    }
  }
});
