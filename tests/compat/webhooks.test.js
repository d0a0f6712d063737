'use strict';
/* Issue #3 (f): webhooks arrive at a local HTTP server, every request
 * valid for the official SDK's helper (pusher.webhook({headers, rawBody})
 * .isValid(): X-Pusher-Key, X-Pusher-Signature over the raw body,
 * content-type application/json), body {"time_ms", "events"}, and each
 * cluster event is delivered exactly once although two hosts take part:
 * channel_occupied once when clients on both hosts subscribe (at the same
 * moment, on several channels), channel_vacated once when the last leaves,
 * member_added / member_removed once per user (a user with connections on
 * both hosts), client_event (with user_id on presence), cache_miss. A hook
 * that answers 500 gets the batch again. A second hook that only asked for
 * member_added gets nothing else, and a dead hook (connection refused) or
 * one that never answers delays none of this. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, freePort } = require('../lib/cluster');
const { subscribeAuthed } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const ALL = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'];
const c = new Cluster('compat_webhooks');
let sink;
let sinkMembers;
let edgeA;
let edgeA2;
let edgeB;

before(async () => {
  sink = await new WebhookSink([c.app]).listen();
  sinkMembers = await new WebhookSink([c.app], { path: '/members-only' }).listen();
  c.track({ destroy: () => { sink.close(); sinkMembers.close(); } });
  /* A third hook nobody listens on (connection refused, retried forever):
   * it must not hold up the others. */
  const deadUrl = `http://127.0.0.1:${await freePort()}/dead`;
  /* And one that accepts and never answers. */
  const silent = require('node:http').createServer(() => { /* never answers */ });
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  c.track({ destroy: () => { silent.closeAllConnections(); silent.close(); } });
  const silentUrl = `http://127.0.0.1:${silent.address().port}/silent`;
  const file = c.writeAppsFile([{
    ...c.app,
    webhooks: [{ url: deadUrl, events: ALL }, { url: silentUrl, events: ALL }, { url: sink.url, events: ALL }, { url: sinkMembers.url, events: ['member_added'] }],
  }]);
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a, { appsFile: file });
  edgeA2 = await c.addEdge(a, { appsFile: file }); /* a second edge serving the app on host A: still one webhook per event */
  edgeB = await c.addEdge(b, { appsFile: file });
});

after(() => c.stop());

/* A fence: per edge, a channel occupied only through that edge; once all
 * those webhooks are in, whatever the hosts queued before has been sent
 * too (each bridge hands its events to its edges in order). */
async function fence() {
  for (const e of [edgeA, edgeA2, edgeB]) {
    const ch = uniqueId(`fence-${e.host.label}`);
    const cl = await c.connect(e, { name: `fence@${e.name}` });
    await cl.subscribe(ch);
    await sink.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  }
}

const n = (match) => sink.delivered(match).length;

c.test('channel_occupied once for clients subscribing on both hosts at once; channel_vacated once when the last leaves', async () => {
  const chans = [uniqueId('occ'), uniqueId('occ'), `private-${uniqueId('occ')}`, uniqueId('occ'), uniqueId('occ')];
  const pairs = [];
  for (const [i, ch] of chans.entries()) {
    const a = await c.connect(i % 2 ? edgeA2 : edgeA, { name: `occ-a:${ch}` });
    const b = await c.connect(edgeB, { name: `occ-b:${ch}` });
    pairs.push({ ch, a, b });
  }
  /* Both subscribe at the same moment. */
  await Promise.all(pairs.flatMap(({ ch, a, b }) => [a, b].map((cl) => (ch.startsWith('private-')
    ? subscribeAuthed(cl, c.app, ch) : cl.subscribe(ch)))));
  for (const { ch } of pairs) await sink.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  /* One side leaves: not vacated. */
  for (const { ch, a } of pairs) a.unsubscribe(ch);
  await fence();
  for (const { ch } of pairs) {
    assert.equal(n({ name: 'channel_occupied', channel: ch }), 1, `channel_occupied for ${ch}: ${sink.summary()}`);
    assert.equal(n({ name: 'channel_vacated', channel: ch }), 0, `channel_vacated for ${ch} while host B still has a subscriber`);
  }
  /* The last leaves (half by unsubscribe, half by closing). */
  for (const [i, { ch, b }] of pairs.entries()) {
    if (i % 2) b.unsubscribe(ch); else await b.close();
  }
  for (const { ch } of pairs) await sink.waitDelivered({ name: 'channel_vacated', channel: ch }, { timeout: 15000 });
  await fence();
  for (const { ch } of pairs) {
    assert.equal(n({ name: 'channel_vacated', channel: ch }), 1, `channel_vacated for ${ch}`);
    assert.equal(n({ name: 'channel_occupied', channel: ch }), 1);
  }
});

c.test('member_added / member_removed once per user, with the user connected on both hosts', async () => {
  const ch = `presence-${uniqueId('wh')}`;
  const uA = await c.connect(edgeA2, { name: 'u@A2' });
  const uB = await c.connect(edgeB, { name: 'u@B' });
  const vB = await c.connect(edgeB, { name: 'v@B' });
  await Promise.all([
    subscribeAuthed(uA, c.app, ch, { user: 'u', userInfo: { n: 'u' } }),
    subscribeAuthed(uB, c.app, ch, { user: 'u', userInfo: { n: 'u' } }),
    subscribeAuthed(vB, c.app, ch, { user: 'v' }),
  ]);
  await sink.waitDelivered({ name: 'member_added', channel: ch, user_id: 'u' });
  await sink.waitDelivered({ name: 'member_added', channel: ch, user_id: 'v' });
  uA.unsubscribe(ch);
  await fence();
  assert.equal(n({ name: 'member_added', channel: ch, user_id: 'u' }), 1, sink.summary());
  assert.equal(n({ name: 'member_added', channel: ch, user_id: 'v' }), 1);
  assert.equal(n({ name: 'member_removed', channel: ch, user_id: 'u' }), 0, 'u left only one of its connections');
  await uB.close();
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'u' }, { timeout: 15000 });
  vB.unsubscribe(ch);
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'v' }, { timeout: 15000 });
  await sink.waitDelivered({ name: 'channel_vacated', channel: ch }, { timeout: 15000 });
  await fence();
  assert.equal(n({ name: 'member_removed', channel: ch, user_id: 'u' }), 1);
  assert.equal(n({ name: 'member_removed', channel: ch, user_id: 'v' }), 1);
  assert.equal(n({ name: 'channel_occupied', channel: ch }), 1);
  assert.equal(n({ name: 'channel_vacated', channel: ch }), 1);
  /* Event objects exactly as documented. */
  const ev = sink.delivered({ name: 'member_added', channel: ch, user_id: 'v' })[0];
  assert.deepEqual(Object.keys(ev).filter((k) => !['app', 'time_ms'].includes(k)).sort(), ['channel', 'name', 'user_id']);
  /* The members-only hook got exactly the member_added events. */
  await sinkMembers.waitDelivered({ name: 'member_added', channel: ch, user_id: 'v' });
  const other = sinkMembers.delivered().filter((e) => e.name !== 'member_added');
  assert.deepEqual(other, [], 'the member_added-only hook got other events');
  assert.equal(sinkMembers.delivered({ name: 'member_added', channel: ch, user_id: 'u' }).length, 1);
});

c.test('client_event webhook (user_id on presence) and cache_miss', async () => {
  const ch = `presence-${uniqueId('ce')}`;
  const tx = await c.connect(edgeA, { name: 'ce-tx' });
  const rx = await c.connect(edgeB, { name: 'ce-rx' });
  await subscribeAuthed(tx, c.app, ch, { user: 'sender' });
  await subscribeAuthed(rx, c.app, ch, { user: 'receiver' });
  await c.waitNumsub(ch, 2);
  tx.trigger(ch, 'client-hello', { hi: 1 });
  await rx.waitMessage((m) => m.event === 'client-hello', { what: 'client event delivered' });
  await sink.waitDelivered({ name: 'client_event', channel: ch });
  const ev = sink.delivered({ name: 'client_event', channel: ch })[0];
  assert.equal(ev.event, 'client-hello');
  assert.deepEqual(JSON.parse(ev.data), { hi: 1 });
  assert.equal(ev.socket_id, tx.socketId);
  assert.equal(ev.user_id, 'sender');

  const priv = `private-${uniqueId('ce')}`;
  await subscribeAuthed(tx, c.app, priv);
  await subscribeAuthed(rx, c.app, priv);
  await c.waitNumsub(priv, 2);
  tx.trigger(priv, 'client-hello', { hi: 2 });
  await sink.waitDelivered({ name: 'client_event', channel: priv });
  const ev2 = sink.delivered({ name: 'client_event', channel: priv })[0];
  assert.equal(ev2.user_id, undefined, 'user_id only on presence channels');
  assert.equal(ev2.socket_id, tx.socketId);

  const cache = `cache-${uniqueId('miss')}`;
  const cl = await c.connect(edgeB, { name: 'cache-sub' });
  await cl.subscribe(cache);
  await cl.waitMessage((m) => m.event === 'pusher:cache_miss' && m.channel === cache, { what: 'pusher:cache_miss' });
  await sink.waitDelivered({ name: 'cache_miss', channel: cache });
  await fence();
  assert.equal(n({ name: 'cache_miss', channel: cache }), 1);
  assert.equal(n({ name: 'client_event', channel: ch }), 1);
});

c.test('a hook answering 500 gets the events again; every request is signed and well-formed', async () => {
  const ch = uniqueId('retry');
  sink.failNext(500, { name: 'channel_occupied', channel: ch });
  const cl = await c.connect(edgeA, { name: 'retry' });
  await cl.subscribe(ch);
  await sink.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 20000 });
  const attempts = sink.allEvents({ name: 'channel_occupied', channel: ch });
  assert.ok(attempts.some((e) => e.status === 500), `the first attempt was not the one refused: ${sink.summary()}`);
  assert.equal(n({ name: 'channel_occupied', channel: ch }), 1);

  assert.deepEqual(sink.invalid().map((r) => ({ headers: r.headers, body: r.rawBody, error: r.error })), [],
    'requests the SDK does not accept as valid webhooks');
  for (const r of sink.requests) {
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/hook');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-pusher-key'], c.app.key);
    assert.match(r.headers['x-pusher-signature'], /^[0-9a-f]{64}$/);
    const body = JSON.parse(r.rawBody);
    assert.equal(typeof body.time_ms, 'number');
    assert.ok(body.time_ms > 1.6e12, `time_ms is unix milliseconds: ${body.time_ms}`);
    assert.ok(Array.isArray(body.events) && body.events.length >= 1);
    for (const e of body.events) assert.ok(ALL.includes(e.name), `unknown event ${JSON.stringify(e)}`);
  }
});
