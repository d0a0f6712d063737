'use strict';
/* Issue #2: compatibility with the real packages, unmodified. The pusher-js
 * client (Node build) on host B's edge connects, subscribes to a public
 * channel and receives events that the official `pusher` server SDK
 * triggers through the HTTP API of an edge on host A: trigger, trigger
 * with socket_id exclusion, triggerBatch. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const PusherJs = require('pusher-js');
const PusherSdk = require('pusher');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');

const c = new Cluster('compat_pusher_js');
const CH = uniqueId('compat');
let edgeA;
let edgeB;
let sdk;
const clients = []; /* {pusher, channel, got: [{event, data}], name} */

/* A pusher-js client connected to `edge` and subscribed to CH, recording
 * every event (bind_global sees channel events, not pusher_internal). */
async function pusherJsClient(edge, name) {
  const pusher = new PusherJs(c.app.key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: edge.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
  });
  const cl = { pusher, name, got: [], errors: [] };
  c.track({ destroy: () => pusher.disconnect() });
  pusher.connection.bind('error', (e) => cl.errors.push(e));
  await waitFor(() => pusher.connection.state === 'connected',
    { timeout: 15000, what: `${name}: pusher-js connected (state ${pusher.connection.state})` });
  cl.socketId = pusher.connection.socket_id;
  const ch = pusher.subscribe(CH);
  let ok = false;
  ch.bind('pusher:subscription_succeeded', () => { ok = true; });
  ch.bind('pusher:subscription_error', (e) => cl.errors.push(e));
  ch.bind_global((event, data) => {
    if (!event.startsWith('pusher:')) cl.got.push({ event, data });
  });
  await waitFor(() => ok, { timeout: 10000, what: `${name}: pusher:subscription_succeeded` });
  clients.push(cl);
  return cl;
}

const has = (cl, event, id) => cl.got.some((g) => g.event === event && g.data && g.data.id === id);
const count = (cl, event, id) => cl.got.filter((g) => g.event === event && g.data && g.data.id === id).length;

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a);
  edgeB = await c.addEdge(b);
  sdk = new PusherSdk({
    appId: c.app.id, key: c.app.key, secret: c.app.secret,
    host: '127.0.0.1', port: String(edgeA.port), useTLS: false,
  });
  await pusherJsClient(edgeB, 'pusher-js-1');
  await pusherJsClient(edgeB, 'pusher-js-2');
  /* Wait until the subscription has reached Redis through host B's bridge,
   * then until an SDK trigger on host A arrives (interest is asynchronous). */
  await c.waitNumsub(CH, 1);
  await waitFor(async () => {
    const id = uniqueId('warm');
    await sdk.trigger(CH, 'warm', { id });
    try {
      await waitFor(() => clients.every((cl) => cl.got.some((g) => g.event === 'warm')), { timeout: 1000 });
      return true;
    } catch (e) { return false; }
  }, { timeout: 15000, what: 'first SDK event to reach pusher-js' });
});

after(() => c.stop());

c.test('pusher-js connects with a socket id the SDK accepts', () => {
  for (const cl of clients) {
    assert.match(cl.socketId, /^\d+\.\d+$/);
    assert.equal(cl.pusher.connection.state, 'connected');
    assert.deepEqual(cl.errors, []);
  }
});

c.test('pusher.trigger on host A reaches pusher-js on host B, data decoded as the object sent', async () => {
  const id = uniqueId('t');
  const res = await sdk.trigger(CH, 'order-shipped', { id, items: [1, 2, 3], note: 'ü "q"' });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {});
  await waitFor(() => clients.every((cl) => has(cl, 'order-shipped', id)), { what: 'both pusher-js clients get the event' });
  for (const cl of clients) {
    const g = cl.got.find((x) => x.event === 'order-shipped' && x.data.id === id);
    assert.deepEqual(g.data, { id, items: [1, 2, 3], note: 'ü "q"' });
  }
});

c.test('pusher.trigger with socket_id excludes that pusher-js client only', async () => {
  const [excluded, other] = clients;
  const id = uniqueId('x');
  await sdk.trigger(CH, 'not-for-you', { id }, { socket_id: excluded.socketId });
  await waitFor(() => has(other, 'not-for-you', id), { what: 'the other client gets the event' });
  /* Fence: a later event reaches the excluded client, so the earlier one
   * would have arrived before it. */
  const fence = uniqueId('f');
  await sdk.trigger(CH, 'fence', { id: fence });
  await waitFor(() => has(excluded, 'fence', fence), { what: 'fence' });
  assert.equal(count(excluded, 'not-for-you', id), 0, 'the excluded client received the event');
  assert.equal(count(other, 'not-for-you', id), 1);
});

c.test('pusher.triggerBatch delivers every item', async () => {
  const ids = [uniqueId('b'), uniqueId('b'), uniqueId('b')];
  const res = await sdk.triggerBatch(ids.map((id, i) => ({ channel: CH, name: `batch-${i}`, data: { id } })));
  assert.equal(res.status, 200);
  await waitFor(() => clients.every((cl) => ids.every((id, i) => has(cl, `batch-${i}`, id))), { what: 'batch events' });
  for (const cl of clients) for (const [i, id] of ids.entries()) assert.equal(count(cl, `batch-${i}`, id), 1);
});

c.test('pusher.trigger to several channels at once', async () => {
  const id = uniqueId('m');
  await sdk.trigger([CH, uniqueId('nobody')], 'multi', { id });
  await waitFor(() => clients.every((cl) => has(cl, 'multi', id)), { what: 'multi-channel trigger' });
});

c.test('the SDK sees HTTP errors as errors (bad secret -> 401)', async () => {
  const bad = new PusherSdk({
    appId: c.app.id, key: c.app.key, secret: 'wrong-secret',
    host: '127.0.0.1', port: String(edgeA.port), useTLS: false,
  });
  await assert.rejects(bad.trigger(CH, 'nope', { id: uniqueId('bad') }), (e) => e.status === 401);
});

c.test('pusher-js stayed connected on the same socket throughout', () => {
  for (const cl of clients) {
    assert.equal(cl.pusher.connection.state, 'connected');
    assert.equal(cl.pusher.connection.socket_id, cl.socketId, `${cl.name} reconnected`);
    assert.deepEqual(cl.errors, [], `${cl.name} errors`);
  }
});
