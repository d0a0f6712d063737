'use strict';
/* Issue #2: an event published through the HTTP API of any edge reaches
 * every subscriber of its channel on all three edges (two on host A, one on
 * host B) exactly once, and no client that is not subscribed; socket_id
 * exclusion across hosts; multi-channel publish; batch_events. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId } = require('../lib/cluster');
const { Ledger, waitDeliveryWorks } = require('../lib/deliveries');

const c = new Cluster('cross_host_delivery');
const X = uniqueId('chan-x');
const Y = uniqueId('chan-y');
let edges = [];
let all = [];       /* every client */
let subsX = [];     /* clients subscribed to X (some also to Y) */
let subsY = [];

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edges = [await c.addEdge(a), await c.addEdge(a), await c.addEdge(b)];
  /* Per edge: two on X, one on Y, one on both, one on nothing. */
  for (const e of edges) {
    const mk = async (role, chans) => {
      const cl = await c.connect(e, { name: `${e.name}/${role}` });
      for (const ch of chans) await cl.subscribe(ch);
      all.push(cl);
      if (chans.includes(X)) subsX.push(cl);
      if (chans.includes(Y)) subsY.push(cl);
      return cl;
    };
    await mk('x1', [X]);
    await mk('x2', [X]);
    await mk('y', [Y]);
    await mk('xy', [X, Y]);
    await mk('none', []);
  }
  /* Interest is asynchronous (edge -> bridge -> Redis): wait until both
   * bridges are subscribed, then until a probe from each edge reaches every
   * subscriber. Probes are not counted below. */
  await c.waitNumsub(X, 2);
  await c.waitNumsub(Y, 2);
  for (const e of edges) {
    await waitDeliveryWorks((body) => c.publish(e, body), X, subsX);
    await waitDeliveryWorks((body) => c.publish(e, body), Y, subsY);
  }
});

after(() => c.stop());

/* Publishes a fence on X and Y from every edge, waits for it everywhere,
 * then does a ping round trip on every client: whatever was delivered
 * before the fence is then in every client's list. */
async function fence() {
  const ledger = new Ledger(all);
  for (const e of edges) {
    const id = uniqueId('fence');
    await c.publish(e, { name: 'fence', channels: [X, Y], data: JSON.stringify({ id }) });
    ledger.expect(id, new Set([...subsX, ...subsY]));
  }
  await ledger.waitAll();
  await Promise.all(all.map((cl) => cl.ping()));
}

const ev = (id, extra = {}) => JSON.stringify({ id, ...extra });

c.test('publish through each edge in turn reaches every X subscriber exactly once and nobody else', async () => {
  const ledger = new Ledger(all);
  for (const [i, e] of edges.entries()) {
    for (let k = 0; k < 3; k++) {
      const id = uniqueId(`via-${i}`);
      const data = ev(id, { via: e.name, text: 'héllo "quoted" \\ unicode ✓' });
      await c.publish(e, { name: 'news', channels: [X], data });
      ledger.expect(id, subsX, { event: 'news', channels: [X], data });
    }
  }
  await ledger.waitAll();
  await fence();
  ledger.assertExact();
});

c.test('socket_id exclusion across hosts: the excluded client on host B does not get it, everyone else does', async () => {
  const excluded = subsX.find((cl) => cl.name.startsWith(edges[2].name) && cl.name.endsWith('/xy'));
  assert.ok(excluded && /^\d+\.\d+$/.test(excluded.socketId));
  const ledger = new Ledger(all);
  for (const e of edges) {
    const id = uniqueId('excl');
    await c.publish(e, { name: 'excl', channels: [X], data: ev(id), socket_id: excluded.socketId });
    ledger.expect(id, subsX.filter((cl) => cl !== excluded), { event: 'excl', channels: [X] });
  }
  /* Exclusion of a socket on host A, published on host B. */
  const excludedA = subsX.find((cl) => cl.name.startsWith(edges[1].name) && cl.name.endsWith('/x1'));
  const idA = uniqueId('exclA');
  await c.publish(edges[2], { name: 'excl', channels: [X], data: ev(idA), socket_id: excludedA.socketId });
  ledger.expect(idA, subsX.filter((cl) => cl !== excludedA));
  await ledger.waitAll();
  await fence();
  ledger.assertExact();
});

c.test('multi-channel publish [X, Y] reaches both sets; a client on both gets it once per channel', async () => {
  const ledger = new Ledger(all);
  const ids = [];
  for (const e of edges) {
    const id = uniqueId('multi');
    ids.push(id);
    await c.publish(e, { name: 'multi', channels: [X, Y], data: ev(id) });
  }
  /* A client subscribed to both channels gets one frame per channel: count
   * per (id, channel) by splitting the expectation into two ledgers. */
  const both = new Set(subsX.filter((cl) => subsY.includes(cl)));
  const onlyOne = new Set([...subsX, ...subsY].filter((cl) => !both.has(cl)));
  for (const id of ids) ledger.expect(id, onlyOne, { event: 'multi', channels: [X, Y] });
  await ledger.waitAll();
  await fence();
  for (const cl of all) {
    for (const id of ids) {
      const got = cl.events({ event: 'multi' }).filter((m) => JSON.parse(m.data).id === id);
      const chans = got.map((m) => m.channel).sort();
      const want = [...(subsX.includes(cl) ? [X] : []), ...(subsY.includes(cl) ? [Y] : [])].sort();
      assert.deepEqual(chans, want, `${cl.name}: event ${id} arrived on [${chans}], expected [${want}]`);
    }
  }
});

c.test('batch_events delivers each item to its own channel', async () => {
  const ledger = new Ledger(all);
  for (const e of edges) {
    const idX = uniqueId('bx');
    const idY = uniqueId('by');
    const r = await c.publishBatch(e, [
      { channel: X, name: 'b1', data: ev(idX) },
      { channel: Y, name: 'b2', data: ev(idY) },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, {});
    ledger.expect(idX, subsX, { event: 'b1', channels: [X] });
    ledger.expect(idY, subsY, { event: 'b2', channels: [Y] });
  }
  await ledger.waitAll();
  await fence();
  ledger.assertExact();
});

c.test('a burst of concurrent publishes through every edge: all accepted, each delivered exactly once', async () => {
  const ledger = new Ledger(all);
  const jobs = [];
  for (const e of edges) {
    for (let k = 0; k < 20; k++) {
      const id = uniqueId('burst');
      ledger.expect(id, subsX, { event: 'burst', channels: [X] });
      jobs.push(c.request(e, { body: { name: 'burst', channels: [X], data: ev(id) } }));
    }
  }
  const answers = await Promise.all(jobs);
  const bad = answers.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`);
  assert.deepEqual(bad, [], `${bad.length} of ${answers.length} concurrent publishes were refused`);
  await ledger.waitAll();
  await fence();
  ledger.assertExact();
});

c.test('no client ever received a frame it should not have, and every connection is still open', async () => {
  for (const cl of all) {
    assert.equal(cl.closeInfo, null, `${cl.name} was closed: ${JSON.stringify(cl.closeInfo)}`);
    for (const m of cl.events()) {
      const subscribed = (m.channel === X && subsX.includes(cl)) || (m.channel === Y && subsY.includes(cl));
      assert.ok(subscribed, `${cl.name} got ${JSON.stringify(m)} on a channel it is not subscribed to`);
    }
    assert.equal(cl.find((m) => m.event === 'pusher:error'), undefined, `${cl.name} got a pusher:error`);
  }
});
