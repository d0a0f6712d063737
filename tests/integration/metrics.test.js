'use strict';
/* Issue #5: /metrics of every edge and of each bridge (--metrics-listen)
 * parse as strict Prometheus text (tests/lib/prom.js), carry no unbounded
 * label, and their counters move by exactly the right amounts under a
 * known amount of traffic: N publishes on a channel with S_e subscribers
 * on edge e -> messages out +N*S_e on e, N deliveries per edge on each
 * bridge, N publishes on the publishing bridge, N publish->deliver latency
 * observations per edge, HTTP requests by status code. The bridge's tiny
 * HTTP responder refuses everything but GET /metrics (404/405/400/431)
 * and drops a client that never finishes its request. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Cluster, uniqueId, waitFor, freePort, api } = require('../lib/cluster');
const { Ledger, waitDeliveryWorks } = require('../lib/deliveries');
const prom = require('../lib/prom');

const c = new Cluster('metrics');
const X = uniqueId('metrics-x');
let a;
let b;
let edges;
const subsBy = new Map(); /* edge -> clients subscribed to X */
const all = [];
const mport = {};

before(async () => {
  await c.startRedis();
  mport.a = await freePort();
  mport.b = await freePort();
  a = await c.addHost('a', { bridgeArgs: ['--metrics-listen', `127.0.0.1:${mport.a}`] });
  b = await c.addHost('b', { bridgeArgs: ['--metrics-listen', `127.0.0.1:${mport.b}`] });
  edges = [await c.addEdge(a), await c.addEdge(a), await c.addEdge(b)];
  const counts = [3, 1, 2];
  for (const [i, e] of edges.entries()) {
    subsBy.set(e, []);
    for (let k = 0; k < counts[i]; k++) {
      const cl = await c.connect(e, { name: `${e.name}/x${k}` });
      await cl.subscribe(X);
      subsBy.get(e).push(cl);
      all.push(cl);
    }
  }
  await c.waitNumsub(X, 2);
  const subs = [...subsBy.values()].flat();
  await waitDeliveryWorks((body) => c.publish(edges[0], body), X, subs);
});

after(() => c.stop());

async function scrapeEdge(e) {
  const r = await api.get(e.port, '/metrics');
  assert.equal(r.status, 200);
  return prom.parse(r.text);
}

async function scrapeBridge(host) {
  const r = await api.get(mport[host.label], '/metrics');
  assert.equal(r.status, 200, r.text);
  return prom.parse(r.text);
}

const v = (f, name, labels) => {
  const x = prom.value(f, name, labels);
  assert.notEqual(x, undefined, `${name} ${JSON.stringify(labels || {})} missing`);
  return x;
};

/* A raw HTTP exchange: resolves with everything the server sent before it
 * closed the connection. */
function raw(port, text, { end = false } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.on('connect', () => { s.write(text); if (end) s.end(); });
  });
}

c.test('every /metrics parses strictly, has the documented families, and no unbounded labels', async () => {
  for (const e of edges) {
    const f = await scrapeEdge(e);
    for (const name of ['swb_edge_connections', 'swb_edge_subscriptions', 'swb_edge_messages_in_total',
      'swb_edge_messages_out_total', 'swb_edge_bytes_in_total', 'swb_edge_bytes_out_total', 'swb_edge_drops_total',
      'swb_edge_slow_disconnects_total', 'swb_edge_send_queue_bytes', 'swb_process_cpu_seconds_total',
      'swb_process_resident_memory_bytes']) {
      assert.ok(f.has(name), `edge :${e.port} lacks ${name}`);
    }
    assert.equal(f.get('swb_edge_publish_deliver_latency_seconds').type, 'histogram');
    assert.equal(f.get('swb_edge_http_requests_total').type, 'counter');
    assert.equal(v(f, 'swb_edge_connections'), subsBy.get(e).length);
    assert.equal(v(f, 'swb_edge_subscriptions'), subsBy.get(e).length);
    assert.equal(v(f, 'swb_edge_ready'), 1);
    assert.ok(v(f, 'swb_process_resident_memory_bytes') > 0);
    prom.forbidLabels(f, new RegExp(`${X}|^\\d+\\.\\d+$`));
  }
  for (const h of [a, b]) {
    const f = await scrapeBridge(h);
    assert.equal(v(f, 'swb_bridge_ready'), 1);
    assert.equal(v(f, 'swb_bridge_redis_connected', { conn: 'cmd' }), 1);
    assert.equal(v(f, 'swb_bridge_redis_connected', { conn: 'sub' }), 1);
    assert.equal(v(f, 'swb_bridge_subscribed_channels'), 1);
    assert.equal(f.get('swb_bridge_redis_rtt_seconds').type, 'histogram');
    assert.ok(v(f, 'swb_bridge_redis_rtt_seconds_count') > 0);
    assert.ok(v(f, 'swb_bridge_probes_received_total') >= 1);
    assert.equal(v(f, 'swb_bridge_probe_failures_total'), 0);
    assert.ok(v(f, 'swb_process_cpu_seconds_total') >= 0);
    assert.ok(v(f, 'swb_process_resident_memory_bytes') > 0);
    prom.forbidLabels(f, new RegExp(X));
  }
  await waitFor(async () => v(await scrapeBridge(a), 'swb_host_connections') === 4,
    { what: 'swb_host_connections on host a == 4 (EdgeStats every second)' });
});

c.test('N publishes to S subscribers: counters move by exactly N*S, N, and N per edge', async () => {
  const N = 7;
  const before = { e: await Promise.all(edges.map(scrapeEdge)), a: await scrapeBridge(a), b: await scrapeBridge(b) };
  const ledger = new Ledger(all);
  for (let i = 0; i < N; i++) {
    const id = uniqueId('m');
    await c.publish(edges[0], { name: 'tick', channels: [X], data: JSON.stringify({ id, pad: 'x'.repeat(100) }) });
    ledger.expect(id, [...subsBy.values()].flat());
  }
  await ledger.waitAll();
  const after = { e: await Promise.all(edges.map(scrapeEdge)), a: await scrapeBridge(a), b: await scrapeBridge(b) };
  const d = (f0, f1, name, labels) => v(f1, name, labels) - (prom.value(f0, name, labels) || 0);
  for (const [i, e] of edges.entries()) {
    const S = subsBy.get(e).length;
    const f0 = before.e[i]; const f1 = after.e[i];
    assert.equal(d(f0, f1, 'swb_edge_messages_out_total'), N * S, `edge ${e.name}: messages out`);
    assert.ok(d(f0, f1, 'swb_edge_bytes_out_total') >= N * S * 100, `edge ${e.name}: bytes out`);
    assert.equal(d(f0, f1, 'swb_edge_publish_deliver_latency_seconds_count'), N, `edge ${e.name}: latency observations`);
    assert.equal(d(f0, f1, 'swb_edge_drops_total'), 0);
    /* this edge's previous scrape answered 200, plus the publishes */
    assert.equal(d(f0, f1, 'swb_edge_http_requests_total', { code: '200' }), 1 + (i === 0 ? N : 0), `edge ${e.name}: HTTP 200s`);
    assert.equal(d(f0, f1, 'swb_edge_publishes_total'), i === 0 ? N : 0);
  }
  assert.equal(d(before.a, after.a, 'swb_bridge_publishes_total', { result: 'ok' }), N);
  assert.equal(d(before.b, after.b, 'swb_bridge_publishes_total', { result: 'ok' }), 0);
  assert.ok(d(before.a, after.a, 'swb_bridge_redis_rtt_seconds_count') >= N, 'one round trip per PUBLISH');
  for (const [h, f0, f1, nEdges] of [[a, before.a, after.a, 2], [b, before.b, after.b, 1]]) {
    assert.equal(d(f0, f1, 'swb_bridge_messages_in_total'), N, `bridge ${h.label}: messages from Redis`);
    assert.equal(d(f0, f1, 'swb_bridge_messages_out_total'), N * nEdges, `bridge ${h.label}: deliveries to edges`);
    assert.ok(d(f0, f1, 'swb_bridge_bytes_out_total') >= N * nEdges * 100);
    assert.equal(d(f0, f1, 'swb_bridge_drops_total'), 0);
  }
});

c.test('edge: HTTP API requests counted by status code (401 also as an auth failure, 404)', async () => {
  const e = edges[1];
  const f0 = await scrapeEdge(e);
  const bad = await api.request({ port: e.port, app: { ...c.app, secret: 'wrong' }, path: `/apps/${c.app.id}/events`,
    body: { name: 'x', channels: [X], data: '{}' } });
  assert.equal(bad.status, 401);
  assert.equal((await api.get(e.port, '/nope')).status, 404);
  const f1 = await scrapeEdge(e);
  const d = (name, labels) => v(f1, name, labels) - (prom.value(f0, name, labels) || 0);
  assert.equal(d('swb_edge_http_requests_total', { code: '401' }), 1);
  assert.equal(d('swb_edge_http_requests_total', { code: '404' }), 1);
  assert.equal(d('swb_edge_auth_failures_total', { source: 'http_api' }), 1);
  assert.equal(d('swb_edge_auth_failures_total', { source: 'websocket' }), 0);
});

c.test('bridge metrics endpoint: only GET /metrics; 404, 405, 400, 431; a stalled client is dropped', async () => {
  const port = mport.a;
  const ok = await raw(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(ok, /Content-Type: text\/plain; version=0\.0\.4/);
  assert.match(ok, /\nswb_bridge_ready 1\n/);
  assert.match(await raw(port, 'GET /other HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 404 /);
  assert.match(await raw(port, 'POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n'), /^HTTP\/1\.1 405 [^]*Allow: GET, HEAD/);
  assert.match(await raw(port, 'HELLO\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(await raw(port, `GET /metrics HTTP/1.1\r\nX: ${'a'.repeat(10000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  const head = await raw(port, 'HEAD /metrics HTTP/1.0\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 0\r\n[^]*\r\n\r\n$/);
  /* never finishes its request: closed by the server (5 s), nothing sent */
  const stalled = await raw(port, 'GET /metr');
  assert.equal(stalled, '');
  assert.match(await raw(port, 'GET /metrics HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 200 /, 'still serving');
});
