'use strict';
/* Issue #3 (e): Laravel Echo 2.x (broadcaster 'pusher', on the unmodified
 * pusher-js) against two hosts: a presence channel gets here / joining /
 * leaving with Laravel-style integer user ids; whisper / listenForWhisper
 * (client events) cross hosts; a private channel gets an SDK-triggered
 * event through listen('.Name'), and toOthers-style exclusion with
 * Echo.socketId() works. Authorization is signed by the `pusher` SDK in a
 * channelAuthorization.customHandler, as a Laravel backend would. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const PusherJs = require('pusher-js');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { authorize, sdk } = require('../lib/backend');

const c = new Cluster('compat_laravel_echo');
let Echo;
let edgeA;
let edgeB;

before(async () => {
  Echo = (await import('laravel-echo')).default;
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a);
  edgeB = await c.addEdge(b);
});

after(() => c.stop());

/* An Echo instance for a Laravel user {id (integer), name} on `edge`. */
async function echoFor(edge, user) {
  const echo = new Echo({
    broadcaster: 'pusher', key: c.app.key, cluster: '', wsHost: '127.0.0.1', wsPort: edge.port,
    forceTLS: false, enabledTransports: ['ws'], disableStats: true, Pusher: PusherJs,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        try {
          cb(null, authorize(c.app, socketId, channelName, { user: user.id, userInfo: { id: user.id, name: user.name } }));
        } catch (e) { cb(e, null); }
      },
    },
  });
  c.track({ destroy: () => echo.disconnect() });
  await waitFor(() => echo.connectionStatus() === 'connected', { timeout: 15000, what: `Echo ${user.name} connected` });
  return echo;
}

c.test('presence: here / joining / leaving across hosts, integer user ids', async () => {
  const room = uniqueId('room');
  const alice = { id: 1, name: 'Alice' };
  const bob = { id: 2, name: 'Bob' };
  const ea = await echoFor(edgeA, alice);
  const eb = await echoFor(edgeB, bob);
  const seenA = { here: null, joining: [], leaving: [], errors: [] };
  const seenB = { here: null, joining: [], leaving: [], errors: [] };
  ea.join(room)
    .here((users) => { seenA.here = users; })
    .joining((u) => seenA.joining.push(u))
    .leaving((u) => seenA.leaving.push(u))
    .error((e) => seenA.errors.push(e));
  await waitFor(() => seenA.here, { what: 'Alice: here' });
  assert.deepEqual(seenA.here, [{ id: 1, name: 'Alice' }]);

  eb.join(room)
    .here((users) => { seenB.here = users; })
    .joining((u) => seenB.joining.push(u))
    .leaving((u) => seenB.leaving.push(u))
    .error((e) => seenB.errors.push(e));
  await waitFor(() => seenB.here, { what: 'Bob: here' });
  const byId = (a, b) => a.id - b.id;
  assert.deepEqual([...seenB.here].sort(byId), [{ id: 1, name: 'Alice' }, { id: 2, name: 'Bob' }]);
  await waitFor(() => seenA.joining.length === 1, { what: 'Alice: joining(Bob)' });
  assert.deepEqual(seenA.joining, [{ id: 2, name: 'Bob' }]);

  /* whisper / listenForWhisper both ways. */
  const gotA = [];
  const gotB = [];
  ea.join(room).listenForWhisper('typing', (d) => gotA.push(d));
  eb.join(room).listenForWhisper('typing', (d) => gotB.push(d));
  await c.waitNumsub(`presence-${room}`, 2);
  ea.join(room).whisper('typing', { who: 'Alice' });
  eb.join(room).whisper('typing', { who: 'Bob' });
  await waitFor(() => gotA.length === 1 && gotB.length === 1, { what: `whispers (A got ${JSON.stringify(gotA)}, B got ${JSON.stringify(gotB)})` });
  assert.deepEqual(gotA, [{ who: 'Bob' }]);
  assert.deepEqual(gotB, [{ who: 'Alice' }]);

  eb.leave(room);
  await waitFor(() => seenA.leaving.length === 1, { what: 'Alice: leaving(Bob)' });
  assert.deepEqual(seenA.leaving, [{ id: 2, name: 'Bob' }]);
  assert.deepEqual(seenA.errors, []);
  assert.deepEqual(seenB.errors, []);
  assert.deepEqual(seenB.joining, []);
});

c.test('private channel: listen(".Event") gets an SDK trigger from the other host; socket_id from Echo.socketId() excludes', async () => {
  const name = uniqueId('orders');
  const ea = await echoFor(edgeA, { id: 10, name: 'Ann' });
  const eb = await echoFor(edgeB, { id: 11, name: 'Ben' });
  const gotA = [];
  const gotB = [];
  let subA = false;
  let subB = false;
  ea.private(name).listen('.OrderShipped', (d) => gotA.push(d)).subscribed(() => { subA = true; });
  eb.private(name).listen('.OrderShipped', (d) => gotB.push(d)).subscribed(() => { subB = true; });
  await waitFor(() => subA && subB, { what: 'both Echo private subscriptions' });
  await c.waitNumsub(`private-${name}`, 2);
  const api = sdk(c.app, edgeB);
  await api.trigger(`private-${name}`, 'OrderShipped', { order: 1 }, { socket_id: ea.socketId() });
  await api.trigger(`private-${name}`, 'OrderShipped', { order: 2 });
  await waitFor(() => gotA.length === 1 && gotB.length === 2, { what: `deliveries (A ${JSON.stringify(gotA)}, B ${JSON.stringify(gotB)})` });
  assert.deepEqual(gotA, [{ order: 2 }], 'the excluded Echo socket got order 1');
  assert.deepEqual(gotB, [{ order: 1 }, { order: 2 }]);
});
