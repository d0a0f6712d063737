'use strict';
/* Issue #3: cache channels (cache-, private-cache-, presence-cache-). The
 * last event published on the channel (through any host) is sent to a new
 * subscriber on any host as the first frame after
 * pusher_internal:subscription_succeeded; with nothing cached the new
 * subscriber gets pusher:cache_miss instead. Client events are not cached.
 * Existing subscribers get each event once (caching adds no copy). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId } = require('../lib/cluster');
const { subscribeAuthed } = require('../lib/backend');

const c = new Cluster('cache_channels');
let edgeA;
let edgeB;

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  const file = c.writeAppsFile([{ ...c.app, client_events: true }]);
  edgeA = await c.addEdge(a, { appsFile: file });
  edgeB = await c.addEdge(b, { appsFile: file });
});

after(() => c.stop());

/* Subscribes (with auth when needed) and returns the first frame after
 * subscription_succeeded on that channel. */
async function subscribeAndFirst(cl, ch, { user } = {}) {
  if (ch.startsWith('cache-')) await cl.subscribe(ch);
  else await subscribeAuthed(cl, c.app, ch, { user: user || 'u-cache' });
  const i = cl.messages.findIndex((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === ch);
  return cl.waitMessage((m) => m.channel === ch && m.event !== 'pusher_internal:member_added' &&
    m.event !== 'pusher_internal:member_removed', { from: i + 1, what: `first frame after subscribing to ${ch}` });
}

c.test('a new subscriber on host B gets the last event published through host A, first, once', async () => {
  for (const ch of [`cache-${uniqueId('c')}`, `private-cache-${uniqueId('c')}`, `presence-cache-${uniqueId('c')}`]) {
    await c.publish(edgeA, { name: 'price', channels: [ch], data: JSON.stringify({ v: 1 }) });
    await c.publish(edgeA, { name: 'price', channels: [ch], data: JSON.stringify({ v: 2, s: 'é "q"' }) });
    const cl = await c.connect(edgeB, { name: `sub-${ch}` });
    const first = await subscribeAndFirst(cl, ch);
    assert.equal(first.event, 'price', `${ch}: first frame ${JSON.stringify(first)}`);
    assert.equal(first.data, JSON.stringify({ v: 2, s: 'é "q"' }), `${ch}: the cached data string, unmodified`);
    await cl.ping();
    assert.equal(cl.framesOf('price', ch).length, 1, `${ch}: only the last event is replayed`);
    assert.equal(cl.framesOf('pusher:cache_miss', ch).length, 0);
  }
});

c.test('nothing cached: pusher:cache_miss on the channel, on either host', async () => {
  for (const e of [edgeA, edgeB]) {
    for (const ch of [`cache-${uniqueId('m')}`, `private-cache-${uniqueId('m')}`, `presence-cache-${uniqueId('m')}`]) {
      const cl = await c.connect(e, { name: `miss-${ch}` });
      const first = await subscribeAndFirst(cl, ch);
      assert.equal(first.event, 'pusher:cache_miss', `${ch}: ${JSON.stringify(first)}`);
      assert.equal(first.channel, ch);
    }
  }
});

c.test('the cache follows the latest publish from either host; live subscribers get each event once', async () => {
  const ch = `cache-${uniqueId('live')}`;
  const live = await c.connect(edgeA, { name: 'live' });
  await subscribeAndFirst(live, ch); /* cache_miss */
  await c.waitNumsub(ch, 1);
  await c.publish(edgeB, { name: 'tick', channels: [ch], data: JSON.stringify({ id: 'b1' }) });
  await live.waitMessage((m) => m.event === 'tick', { what: 'tick b1 live' });
  await c.publish(edgeA, { name: 'tock', channels: [ch], data: JSON.stringify({ id: 'a2' }) });
  await live.waitMessage((m) => m.event === 'tock', { what: 'tock a2 live' });
  await live.ping();
  assert.equal(live.framesOf('tick', ch).length, 1);
  assert.equal(live.framesOf('tock', ch).length, 1);
  for (const e of [edgeA, edgeB]) {
    const cl = await c.connect(e, { name: `late@${e.name}` });
    const first = await subscribeAndFirst(cl, ch);
    assert.equal(first.event, 'tock');
    assert.equal(first.data, JSON.stringify({ id: 'a2' }));
  }
});

c.test('client events are not cached', async () => {
  const ch = `private-cache-${uniqueId('ce')}`;
  const tx = await c.connect(edgeA, { name: 'ce-tx' });
  const rx = await c.connect(edgeB, { name: 'ce-rx' });
  await subscribeAndFirst(tx, ch);
  await subscribeAndFirst(rx, ch);
  await c.waitNumsub(ch, 2);
  tx.trigger(ch, 'client-note', { x: 1 });
  await rx.waitMessage((m) => m.event === 'client-note', { what: 'client event delivered' });
  const late = await c.connect(edgeB, { name: 'ce-late' });
  const first = await subscribeAndFirst(late, ch);
  assert.equal(first.event, 'pusher:cache_miss', `a client event was replayed from the cache: ${JSON.stringify(first)}`);
});

c.test('while events keep coming: the cached event then the live ones, in order, each once, no gap', async () => {
  const problems = [];
  let total = 0;
  for (let r = 0; r < 3 && !problems.length; r++) {
    const ch = `cache-${uniqueId('stream')}`;
    let stop = false;
    let seq = 0;
    /* One publisher on host B, one event after the other. */
    const pub = (async () => {
      while (!stop) await c.publish(edgeB, { name: 'v', channels: [ch], data: JSON.stringify({ seq: ++seq }) });
    })();
    /* Subscribers on host A, one after the other, each the only one. */
    const subs = [];
    for (let i = 0; i < 20; i++) {
      const s = await c.connect(edgeA, { name: `stream${r}.${i}` });
      await s.subscribe(ch);
      await s.ping();
      await s.ping();
      if (i < 19) {
        s.unsubscribe(ch);
        await s.ping();
      }
      subs.push(s);
    }
    stop = true;
    await pub;
    const lastSub = subs[subs.length - 1];
    await lastSub.waitMessage((m) => m.event === 'v' && JSON.parse(m.data).seq === seq, { what: `the last event (${seq}) on the last subscriber` });
    for (const s of subs) {
      total++;
      const k = s.messages.findIndex((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === ch);
      const seqs = s.messages.slice(k + 1).filter((m) => m.channel === ch && m.event === 'v').map((m) => JSON.parse(m.data).seq);
      for (let j = 1; j < seqs.length; j++) {
        if (seqs[j] !== seqs[j - 1] + 1) {
          const what = seqs[j] === seqs[j - 1] ? 'duplicate' : seqs[j] < seqs[j - 1] ? 'older after newer' : 'gap';
          problems.push(`${s.name}: ${what}: ${seqs.slice(Math.max(0, j - 2), j + 3).join(',')} (first after subscribing: ${seqs[0]})`);
          break;
        }
      }
    }
  }
  assert.deepEqual(problems, [], `${problems.length} of ${total} subscribers`);
});
