'use strict';
/* Coalesced writes (edge/wire.c): under a burst the edge writes several
 * queued frames of a connection in one send(), framed by us. The `ws`
 * client (which validates every frame header, opcode and UTF-8) and the
 * unmodified pusher-js client must get every event of the burst intact
 * (sizes across the 7-bit / 16-bit length boundaries, multi-byte UTF-8),
 * exactly once, and each batch_events request's events in their order.
 * Bursts repeat until the edge's /metrics shows coalesced sends, so the
 * coalescing path has been exercised, not just the one-frame path. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const PusherJs = require('pusher-js');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');

const c = new Cluster('compat_burst_frames');
const CH = uniqueId('burst');
const SIZES = [0, 1, 60, 100, 118, 119, 120, 200, 700, 2000, 2400]; /* x <= 4 bytes: under the 10 KB limit */
const UNITS = ['a', 'é', '€', '😀', '"\\'];
let edge;
let raws;
let pj;

function pusherJs(port) {
  const pusher = new PusherJs(c.app.key, {
    cluster: '', wsHost: '127.0.0.1', wsPort: port, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
  });
  c.track({ destroy: () => pusher.disconnect() });
  const cl = { pusher, got: [], errors: [] };
  pusher.connection.bind('error', (e) => cl.errors.push(e));
  return cl;
}

/* data string of event k of batch b: a JSON object padded to about SIZES[k] characters */
function dataOf(tag, b, k) {
  const unit = UNITS[(b + k) % UNITS.length];
  const pad = unit.repeat(Math.ceil(SIZES[k % SIZES.length] / unit.length));
  return JSON.stringify({ tag, b, k, pad });
}

async function coalescedSends() {
  const m = await api.get(edge.port, '/metrics');
  const line = m.text.split('\n').find((l) => l.startsWith('swb_edge_coalesced_sends_total '));
  return Number(line.split(' ')[1]);
}

before(async () => {
  const host = await c.addHost('a', { redis: 'none' });
  edge = await c.addEdge(host);
  raws = [await c.connect(edge, { name: 'ws-1' }), await c.connect(edge, { name: 'ws-2' })];
  for (const r of raws) await r.subscribe(CH);
  pj = pusherJs(edge.port);
  await waitFor(() => pj.pusher.connection.state === 'connected', { timeout: 15000, what: 'pusher-js connected' });
  const ch = pj.pusher.subscribe(CH);
  let ok = false;
  ch.bind('pusher:subscription_succeeded', () => { ok = true; });
  ch.bind_global((event, data) => { if (event === 'burst') pj.got.push(JSON.stringify(data)); });
  await waitFor(() => ok, { what: 'pusher-js subscribed' });
});

after(() => c.stop());

/* One burst: BATCHES concurrent batch_events requests of 10 events each.
 * Returns the data strings expected, per batch, in order. */
async function burst(tag, batches) {
  const sent = [];
  const reqs = [];
  for (let b = 0; b < batches; b++) {
    const batch = [];
    for (let k = 0; k < 10; k++) batch.push({ name: 'burst', channel: CH, data: dataOf(tag, b, k) });
    sent.push(batch.map((x) => x.data));
    reqs.push(api.publishBatch(edge.port, c.app, batch));
  }
  await Promise.all(reqs);
  return sent;
}

function check(name, got, sent) {
  const all = sent.flat();
  const want = new Set(all);
  const mine = got.filter((d) => want.has(d));
  assert.equal(new Set(mine).size, mine.length, `${name}: duplicates`);
  assert.equal(mine.length, all.length, `${name}: ${mine.length} of ${all.length} events intact`);
  for (const batch of sent) {
    const pos = batch.map((d) => mine.indexOf(d));
    assert.deepEqual([...pos].sort((x, y) => x - y), pos, `${name}: a batch's events out of order`);
  }
}

c.test('bursts arrive intact, once and in order on ws and pusher-js; sends were coalesced', async () => {
  const before0 = await coalescedSends();
  await waitFor(async () => {
    const tag = uniqueId('t');
    const sent = await burst(tag, 40);
    const n = sent.flat().length;
    const mine = (arr) => arr.filter((d) => d.includes(tag)).length;
    await waitFor(() => raws.every((r) => mine(r.events({ channel: CH, event: 'burst' }).map((m) => m.data)) >= n)
      && mine(pj.got) >= n, { timeout: 20000, what: `all ${n} events of burst ${tag}` });
    for (const r of raws) {
      assert.equal(r.error, null);
      assert.equal(r.closeInfo, null);
      check(r.name, r.events({ channel: CH, event: 'burst' }).map((m) => m.data), sent);
    }
    check('pusher-js', pj.got, sent);
    assert.deepEqual(pj.errors, []);
    return (await coalescedSends()) > before0;
  }, { timeout: 60000, what: 'a burst written with coalesced sends' });
});
