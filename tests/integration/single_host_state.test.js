'use strict';
/* Issue #3 with `swb-bridge --redis none` (one host, two edges): the
 * bridge keeps the cluster state in memory with the same transitions, so
 * presence (one member_added / member_removed per user across the two
 * edges), the channel queries, cache channels, terminate_connections and
 * webhooks (channel_occupied / channel_vacated once although both edges
 * serve the app) behave as with Redis. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { subscribeAuthed, authenticate, sdk } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const c = new Cluster('single_host_state');
let sink;
let e1;
let e2;

before(async () => {
  sink = await new WebhookSink([c.app]).listen();
  c.track({ destroy: () => sink.close() });
  const file = c.writeAppsFile([{ ...c.app, webhooks: [{ url: sink.url, events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'] }] }]);
  const host = await c.addHost('solo', { redis: 'none' });
  e1 = await c.addEdge(host, { appsFile: file });
  e2 = await c.addEdge(host, { appsFile: file });
});

after(() => c.stop());

c.test('presence across two edges without Redis: one member_added/removed per user, queries agree', async () => {
  const ch = `presence-${uniqueId('solo')}`;
  const obs = await c.connect(e1, { name: 'obs' });
  await subscribeAuthed(obs, c.app, ch, { user: 'obs' });
  const u1 = await c.connect(e1, { name: 'u@1' });
  const u2 = await c.connect(e2, { name: 'u@2' });
  await subscribeAuthed(u1, c.app, ch, { user: 'u', userInfo: { k: 1 } });
  const s2 = await subscribeAuthed(u2, c.app, ch, { user: 'u', userInfo: { k: 1 } });
  const pres = JSON.parse(s2.data).presence;
  assert.deepEqual([...pres.ids].sort(), ['obs', 'u']);
  assert.deepEqual(pres.hash.u, { k: 1 });
  assert.equal(pres.count, 2);
  await waitFor(async () => {
    const r = await sdk(c.app, e2).get({ path: `/channels/${ch}`, params: { info: 'user_count,subscription_count' } });
    const b = await r.json();
    return b.user_count === 2 && b.subscription_count === 3;
  }, { what: 'user_count 2, subscription_count 3' });
  u1.unsubscribe(ch);
  await u2.close();
  await obs.waitMessage((m) => m.event === 'pusher_internal:member_removed', { what: 'member_removed' });
  await c.publish(e2, { name: 'fence', channels: [ch], data: '{}' });
  await obs.waitMessage((m) => m.event === 'fence', { what: 'fence' });
  assert.equal(obs.framesOf('pusher_internal:member_added', ch).length, 1, 'member_added once for u');
  assert.equal(obs.framesOf('pusher_internal:member_removed', ch).length, 1, 'member_removed once for u');
  const r = await sdk(c.app, e1).get({ path: `/channels/${ch}/users` });
  assert.deepEqual((await r.json()).users, [{ id: 'obs' }]);
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'u' });
  assert.equal(sink.delivered({ name: 'member_added', channel: ch, user_id: 'u' }).length, 1);
});

c.test('webhooks once with two edges, cache channel, terminate_connections without Redis', async () => {
  const ch = uniqueId('solo-occ');
  const a = await c.connect(e1, { name: 'occ@1' });
  const b = await c.connect(e2, { name: 'occ@2' });
  await Promise.all([a.subscribe(ch), b.subscribe(ch)]);
  await sink.waitDelivered({ name: 'channel_occupied', channel: ch });
  a.unsubscribe(ch);
  b.unsubscribe(ch);
  await sink.waitDelivered({ name: 'channel_vacated', channel: ch }, { timeout: 15000 });
  /* Fence: another channel's occupied through each edge. */
  for (const e of [e1, e2]) {
    const f = uniqueId('fence');
    const cl = await c.connect(e, { name: `fence@${e.name}` });
    await cl.subscribe(f);
    await sink.waitDelivered({ name: 'channel_occupied', channel: f });
  }
  assert.equal(sink.delivered({ name: 'channel_occupied', channel: ch }).length, 1);
  assert.equal(sink.delivered({ name: 'channel_vacated', channel: ch }).length, 1);
  assert.deepEqual(sink.invalid(), []);

  const cache = `cache-${uniqueId('solo')}`;
  await c.publish(e1, { name: 'last', channels: [cache], data: '{"v":9}' });
  const late = await c.connect(e2, { name: 'cache@2' });
  await late.subscribe(cache);
  const first = await late.waitMessage((m) => m.channel === cache && m.event !== 'pusher_internal:subscription_succeeded', { what: 'cached event' });
  assert.equal(first.event, 'last');
  assert.equal(first.data, '{"v":9}');

  const user = uniqueId('solo-user');
  const v1 = await c.connect(e1, { name: 'v@1' });
  const v2 = await c.connect(e2, { name: 'v@2' });
  await v1.signin(authenticate(c.app, v1.socketId, user));
  await v2.signin(authenticate(c.app, v2.socketId, user));
  const r = await sdk(c.app, e1).terminateUserConnections(user);
  assert.equal(r.status, 200);
  await v1.waitClose();
  await v2.waitClose();
  for (const v of [v1, v2]) {
    const err = v.find((m) => m.event === 'pusher:error');
    assert.ok(v.closeInfo.code === 4009 || (err && err.data.code === 4009), JSON.stringify(v.closeInfo));
  }
});
