'use strict';
/* Issue #3: several apps on the same edges (JSON apps file) are isolated:
 * the same channel name in two apps never crosses (API events, client
 * events, presence members), channel queries and counts are per app,
 * webhooks go to each app's own hook signed with its own key (app1's hook
 * from the apps file, app2's from --webhook app2=URL; on a host whose first
 * edge does not serve app2, through one that does), credentials of one
 * app do not work for another; an app over max_connections refuses the
 * next connection with 4004; a disabled app refuses connections (4003). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { subscribeAuthed, authorize, sdk } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const c = new Cluster('multi_app');
const app1 = c.app;
const app2 = { id: 'app2', key: 'key-app2', secret: 'secret-app2' };
const app3 = { id: 'app3', key: 'key-app3', secret: 'secret-app3' }; /* max_connections 2 */
const app4 = { id: 'app4', key: 'key-app4', secret: 'secret-app4' }; /* disabled */
const apps = [app1, app2, app3, app4];
let sink1;
let sink2;
let edgeA;
let edgeB;

before(async () => {
  sink1 = await new WebhookSink(apps, { path: '/app1' }).listen();
  sink2 = await new WebhookSink(apps, { path: '/app2' }).listen();
  c.track({ destroy: () => { sink1.close(); sink2.close(); } });
  const file = c.writeAppsFile([
    { ...app1, webhooks: [{ url: sink1.url, events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'] }] },
    { ...app2 },
    { ...app3, max_connections: 2 },
    { ...app4, enabled: false },
  ]);
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  const args = ['--webhook', `${app2.id}=${sink2.url}`];
  edgeA = await c.addEdge(a, { appsFile: file, apps, args });
  /* Host B's first edge serves app1 only: app2's webhooks on host B must
   * go through an edge that has app2 (and its secret). */
  const only1 = c.writeAppsFile([{ ...app1, webhooks: [{ url: sink1.url, events: ['channel_occupied'] }] }], 'apps-app1-only.json');
  await c.addEdge(b, { appsFile: only1, apps: [app1] });
  edgeB = await c.addEdge(b, { appsFile: file, apps, args });
});

after(() => c.stop());

const SHARED = uniqueId('shared');
const PRES = `presence-${uniqueId('shared')}`;

c.test('the same channel name in two apps never crosses (API events, client events, presence)', async () => {
  const priv = `private-${SHARED}`;
  const s1 = await c.connect(edgeA, { name: 'app1@A', key: app1.key });
  const s2 = await c.connect(edgeB, { name: 'app2@B', key: app2.key });
  const t1 = await c.connect(edgeB, { name: 'app1@B', key: app1.key });
  const t2 = await c.connect(edgeA, { name: 'app2@A', key: app2.key });
  for (const [cl, app] of [[s1, app1], [s2, app2], [t1, app1], [t2, app2]]) {
    await cl.subscribe(SHARED);
    await subscribeAuthed(cl, app, priv);
  }
  const p1 = await subscribeAuthed(s1, app1, PRES, { user: 'one' });
  const p2 = await subscribeAuthed(s2, app2, PRES, { user: 'two' });
  assert.deepEqual(JSON.parse(p1.data).presence.ids, ['one']);
  assert.deepEqual(JSON.parse(p2.data).presence.ids, ['two'], 'app2 sees app1\'s presence member');
  await c.waitNumsub(SHARED, 2, { app: app1 });
  await c.waitNumsub(SHARED, 2, { app: app2 });
  await c.waitNumsub(priv, 2, { app: app1 });
  await c.waitNumsub(priv, 2, { app: app2 });

  await c.publish(edgeA, { name: 'for-app1', channels: [SHARED, priv], data: '{"a":1}' }, app1);
  await c.publish(edgeB, { name: 'for-app2', channels: [SHARED, priv], data: '{"a":2}' }, app2);
  s1.trigger(priv, 'client-app1', { c: 1 });
  s2.trigger(priv, 'client-app2', { c: 2 });
  await t1.waitMessage((m) => m.event === 'client-app1', { what: 'app1 client event' });
  await t2.waitMessage((m) => m.event === 'client-app2', { what: 'app2 client event' });
  for (const cl of [s1, t1]) {
    await cl.waitMessage((m) => m.event === 'for-app1' && m.channel === SHARED, { what: 'app1 event' });
    await cl.waitMessage((m) => m.event === 'for-app1' && m.channel === priv, { what: 'app1 event (private)' });
  }
  for (const cl of [s2, t2]) {
    await cl.waitMessage((m) => m.event === 'for-app2' && m.channel === SHARED, { what: 'app2 event' });
    await cl.waitMessage((m) => m.event === 'for-app2' && m.channel === priv, { what: 'app2 event (private)' });
  }
  for (const cl of [s1, t1, s2, t2]) await cl.ping();
  for (const cl of [s1, t1]) {
    assert.equal(cl.framesOf('for-app2').length, 0, `${cl.name} got app2's event`);
    assert.equal(cl.framesOf('client-app2').length, 0, `${cl.name} got app2's client event`);
  }
  for (const cl of [s2, t2]) {
    assert.equal(cl.framesOf('for-app1').length, 0, `${cl.name} got app1's event`);
    assert.equal(cl.framesOf('client-app1').length, 0, `${cl.name} got app1's client event`);
  }
  assert.equal(s2.framesOf('pusher_internal:member_added').length, 0, 'app2 saw app1\'s member_added');
});

c.test('channel queries and counts are per app', async () => {
  const api1 = sdk(app1, edgeB);
  const api2 = sdk(app2, edgeA);
  const extra = await c.connect(edgeA, { name: 'app1-extra', key: app1.key });
  const only1 = uniqueId('only-app1');
  await extra.subscribe(only1);
  await waitFor(async () => {
    const r1 = await (await api1.get({ path: `/channels/${SHARED}`, params: { info: 'subscription_count' } })).json();
    const r2 = await (await api2.get({ path: `/channels/${SHARED}`, params: { info: 'subscription_count' } })).json();
    return r1.subscription_count === 2 && r2.subscription_count === 2;
  }, { what: `subscription_count of ${SHARED} is 2 in each app` });
  await waitFor(async () => {
    const l1 = Object.keys((await (await api1.get({ path: '/channels' })).json()).channels).sort();
    const l2 = Object.keys((await (await api2.get({ path: '/channels' })).json()).channels).sort();
    return l1.includes(only1) && !l2.includes(only1) && l1.includes(SHARED) && l2.includes(SHARED);
  }, { what: `${only1} listed for app1 only` });
  const u1 = await (await api1.get({ path: `/channels/${PRES}/users` })).json();
  const u2 = await (await api2.get({ path: `/channels/${PRES}/users` })).json();
  assert.deepEqual(u1.users.map((u) => u.id), ['one']);
  assert.deepEqual(u2.users.map((u) => u.id), ['two']);
});

c.test('webhooks per app: app1 from the apps file, app2 from --webhook, each signed with its own key', async () => {
  const ch = uniqueId('hooked');
  const a = await c.connect(edgeA, { name: 'hook-app1', key: app1.key });
  const b = await c.connect(edgeB, { name: 'hook-app2', key: app2.key });
  await a.subscribe(ch);
  await b.subscribe(ch);
  await sink1.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  await sink2.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  assert.deepEqual(sink1.invalid(), []);
  assert.deepEqual(sink2.invalid(), []);
  assert.ok(sink1.requests.every((r) => r.app === app1.id), `app1's hook got: ${sink1.summary()}`);
  assert.ok(sink2.requests.every((r) => r.app === app2.id), `app2's hook got: ${sink2.summary()}`);
  assert.equal(sink1.delivered({ name: 'channel_occupied', channel: ch }).length, 1);
  assert.equal(sink2.delivered({ name: 'channel_occupied', channel: ch }).length, 1);
});

c.test('credentials of one app do not work for another', async () => {
  const cl = await c.connect(edgeA, { name: 'cross-creds', key: app2.key });
  const ch = `private-${uniqueId('x')}`;
  await assert.rejects(cl.subscribe(ch, { auth: authorize(app1, cl.socketId, ch).auth }), /failed/);
  const r = await c.request(edgeA, { app: { ...app2, secret: app1.secret }, body: { name: 'x', channels: ['y'], data: '{}' } });
  assert.equal(r.status, 401);
  const r2 = await c.request(edgeA, { app: { ...app1, id: app2.id }, body: { name: 'x', channels: ['y'], data: '{}' } });
  assert.equal(r2.status, 401, 'app1 key and secret on app2\'s path');
});

c.test('max_connections: the connection over the quota is closed with 4004; a slot frees when one leaves', async () => {
  const first = await c.connect(edgeA, { name: 'q1', key: app3.key });
  await c.connect(edgeA, { name: 'q2', key: app3.key });
  const over = await c.connect(edgeA, { name: 'q3', key: app3.key, expectEstablished: false });
  await over.waitClose();
  assert.equal(over.closeInfo.code, 4004, `close ${JSON.stringify(over.closeInfo)} frames ${JSON.stringify(over.messages)}`);
  assert.equal(over.find((m) => m.event === 'pusher:connection_established'), undefined);
  /* Other apps are not limited by app3's quota. */
  await c.connect(edgeA, { name: 'not-app3', key: app1.key });
  await first.close();
  await waitFor(async () => {
    const again = await c.connect(edgeA, { name: 'q-again', key: app3.key, expectEstablished: false });
    if (again.find((m) => m.event === 'pusher:connection_established')) return true;
    await again.waitClose();
    return false;
  }, { what: 'a new app3 connection is accepted once one left', interval: 200 });
});

c.test('a disabled app refuses connections with 4003', async () => {
  const cl = await c.connect(edgeB, { name: 'disabled', key: app4.key, expectEstablished: false });
  await cl.waitClose();
  assert.equal(cl.closeInfo.code, 4003, `close ${JSON.stringify(cl.closeInfo)}`);
});
