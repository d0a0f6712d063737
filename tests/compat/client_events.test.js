'use strict';
/* Issue #3 (c): client events between unmodified pusher-js clients on two
 * hosts: they cross hosts (both directions), are never echoed to the
 * sender, carry the sender's user_id on presence channels
 * (metadata.user_id in pusher-js) and none on private channels. A raw
 * WebSocket client sending a burst over the app's client_event_rate gets
 * pusher:error 4301 and the burst is cut (also at a configured rate of 2). Client events on public
 * channels, on unsubscribed channels, and for an app with client_events
 * disabled are refused and not delivered. Edges get a JSON apps file. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { PjsClient, subscribeAuthed } = require('../lib/backend');

const c = new Cluster('compat_client_events');
const appOff = { id: 'app-noce', key: 'key-noce', secret: 'secret-noce' };
const appSlow = { id: 'app-slow', key: 'key-slow', secret: 'secret-slow' }; /* client_event_rate 2 */
let edgeA;
let edgeB;

before(async () => {
  await c.startRedis();
  const apps = [{ ...c.app, client_events: true, client_event_rate: 10 }, { ...appOff, client_events: false },
    { ...appSlow, client_events: true, client_event_rate: 2 }];
  const file = c.writeAppsFile(apps);
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a, { appsFile: file, apps: [c.app, appOff, appSlow] });
  edgeB = await c.addEdge(b, { appsFile: file, apps: [c.app, appOff, appSlow] });
});

after(() => c.stop());

async function pjs(edge, user, ch) {
  const p = new PjsClient(c, edge, { user, userInfo: { name: user }, name: `${user}@${edge.name}` });
  await p.connected();
  await p.subscribe(ch);
  return p;
}

for (const kind of ['private', 'presence']) {
  c.test(`${kind}: client events cross hosts both ways, are not echoed, user_id ${kind === 'presence' ? 'is the sender\'s' : 'absent'}`, async () => {
    const ch = `${kind}-${uniqueId('ce')}`;
    const ann = await pjs(edgeA, 'ann', ch);
    const ben = await pjs(edgeB, 'ben', ch);
    const annGot = ann.record(ch, 'client-msg');
    const benGot = ben.record(ch, 'client-msg');
    if (kind === 'presence') {
      await waitFor(() => ann.members(ch).join() === 'ann,ben', { what: 'ann sees ben' });
    }
    /* Both bridges subscribed on Redis: a client event can reach both. */
    await c.waitNumsub(ch, 2);

    const idAB = uniqueId('ab');
    const idBA = uniqueId('ba');
    assert.equal(ann.trigger(ch, 'client-msg', { id: idAB, text: 'héllo "A"' }), true);
    assert.equal(ben.trigger(ch, 'client-msg', { id: idBA }), true);
    await waitFor(() => benGot.some((x) => x.data.id === idAB), { what: 'B gets A\'s client event' });
    await waitFor(() => annGot.some((x) => x.data.id === idBA), { what: 'A gets B\'s client event' });
    /* Fences: one more event each way; the senders' own queues are flushed
     * by a ping round trip. */
    const fA = uniqueId('fa');
    const fB = uniqueId('fb');
    ann.trigger(ch, 'client-msg', { id: fA });
    ben.trigger(ch, 'client-msg', { id: fB });
    await waitFor(() => benGot.some((x) => x.data.id === fA) && annGot.some((x) => x.data.id === fB), { what: 'fences' });
    await ann.ping();
    await ben.ping();

    const got = (list, id) => list.filter((x) => x.data.id === id);
    assert.equal(got(benGot, idAB).length, 1, 'B got A\'s event once');
    assert.equal(got(annGot, idBA).length, 1, 'A got B\'s event once');
    assert.equal(got(annGot, idAB).length, 0, 'A\'s event was echoed to A');
    assert.equal(got(benGot, idBA).length, 0, 'B\'s event was echoed to B');
    assert.deepEqual(got(benGot, idAB)[0].data, { id: idAB, text: 'héllo "A"' });
    const frameAB = ben.framesOf('client-msg', ch).find((f) => f.data.id === idAB);
    if (kind === 'presence') {
      assert.equal(got(benGot, idAB)[0].metadata.user_id, 'ann');
      assert.equal(got(annGot, idBA)[0].metadata.user_id, 'ben');
      assert.equal(frameAB.user_id, 'ann');
    } else {
      assert.equal(got(benGot, idAB)[0].metadata.user_id, undefined);
      assert.equal(frameAB.user_id, undefined);
    }
    assert.deepEqual(ann.errors, []);
    assert.deepEqual(ben.errors, []);
  });
}

c.test('a burst over client_event_rate gets pusher:error 4301 and is cut; the connection stays usable', async () => {
  const ch = `private-${uniqueId('rate')}`;
  const rx = await c.connect(edgeB, { name: 'rate-rx' });
  await subscribeAuthed(rx, c.app, ch);
  const tx = await c.connect(edgeA, { name: 'rate-tx' });
  await subscribeAuthed(tx, c.app, ch);
  await c.waitNumsub(ch, 2);
  const N = 40;
  const from = tx.messages.length;
  for (let i = 0; i < N; i++) tx.trigger(ch, 'client-burst', { i });
  const err = await tx.waitMessage((m) => m.event === 'pusher:error' && m.data && m.data.code === 4301,
    { from, what: 'pusher:error 4301' });
  assert.equal(typeof err.data.message, 'string');
  /* Fence on the receiver: a later publish through the HTTP API. */
  const id = uniqueId('f');
  await c.publish(edgeA, { name: 'fence', channels: [ch], data: JSON.stringify({ id }) });
  await rx.waitMessage((m) => m.event === 'fence', { what: 'fence' });
  await rx.ping();
  const n = rx.framesOf('client-burst', ch).length;
  assert.ok(n > 0, 'nothing of the burst arrived');
  assert.ok(n < N, `the whole burst of ${N} was delivered despite the rate limit`);
  await tx.ping();
  assert.equal(tx.closeInfo, null);
});

c.test('client_event_rate comes from the apps file: at 2 per second a burst of 6 gets 4301', async () => {
  const ch = `private-${uniqueId('slow')}`;
  const rx = await c.connect(edgeB, { name: 'slow-rx', key: appSlow.key });
  await subscribeAuthed(rx, appSlow, ch);
  const tx = await c.connect(edgeA, { name: 'slow-tx', key: appSlow.key });
  await subscribeAuthed(tx, appSlow, ch);
  await c.waitNumsub(ch, 2, { app: appSlow });
  const from = tx.messages.length;
  for (let i = 0; i < 6; i++) tx.trigger(ch, 'client-slow', { i });
  await tx.waitMessage((m) => m.event === 'pusher:error' && m.data && m.data.code === 4301,
    { from, what: 'pusher:error 4301 at the configured rate of 2' });
  await c.publish(edgeA, { name: 'fence', channels: [ch], data: '{}' }, appSlow);
  await rx.waitMessage((m) => m.event === 'fence', { what: 'fence' });
  const n = rx.framesOf('client-slow', ch).length;
  assert.ok(n >= 1 && n < 6, `${n} of a burst of 6 delivered at a rate of 2 per second`);
});

c.test('refused client events: public channel, channel not subscribed, app with client_events off', async () => {
  const pub = uniqueId('public');
  const priv = `private-${uniqueId('ns')}`;
  const rx = await c.connect(edgeB, { name: 'refuse-rx' });
  await rx.subscribe(pub);
  await subscribeAuthed(rx, c.app, priv);
  const tx = await c.connect(edgeA, { name: 'refuse-tx' });
  await tx.subscribe(pub);
  await c.waitNumsub(pub, 2);

  let from = tx.messages.length;
  tx.trigger(pub, 'client-pub', { x: 1 });
  await tx.waitMessage((m) => m.event === 'pusher:error', { from, what: 'pusher:error for a client event on a public channel' });
  from = tx.messages.length;
  tx.trigger(priv, 'client-notsub', { x: 1 }); /* tx is not subscribed to priv */
  await tx.waitMessage((m) => m.event === 'pusher:error', { from, what: 'pusher:error for a client event on an unsubscribed channel' });

  /* Another app with client events disabled. */
  const ch2 = `private-${uniqueId('off')}`;
  const rx2 = await c.connect(edgeB, { name: 'off-rx', key: appOff.key });
  await subscribeAuthed(rx2, appOff, ch2);
  const tx2 = await c.connect(edgeA, { name: 'off-tx', key: appOff.key });
  await subscribeAuthed(tx2, appOff, ch2);
  await c.waitNumsub(ch2, 2, { app: appOff });
  from = tx2.messages.length;
  tx2.trigger(ch2, 'client-off', { x: 1 });
  const e2 = await tx2.waitMessage((m) => m.event === 'pusher:error', { from, what: 'pusher:error for client events disabled' });
  assert.notEqual(e2.data.code, 4301, `client events disabled is not a rate limit: ${JSON.stringify(e2)}`);

  /* Fences, then nothing refused may have arrived. */
  const id = uniqueId('f');
  await c.publish(edgeA, { name: 'fence', channels: [pub, priv], data: JSON.stringify({ id }) });
  await c.publish(edgeA, { name: 'fence', channels: [ch2], data: JSON.stringify({ id }) }, appOff);
  await rx.waitMessage((m) => m.event === 'fence' && m.channel === pub, { what: 'fence pub' });
  await rx.waitMessage((m) => m.event === 'fence' && m.channel === priv, { what: 'fence priv' });
  await rx2.waitMessage((m) => m.event === 'fence', { what: 'fence app2' });
  assert.equal(rx.framesOf('client-pub').length, 0, 'client event on a public channel delivered');
  assert.equal(rx.framesOf('client-notsub').length, 0, 'client event from a non-subscriber delivered');
  assert.equal(rx2.framesOf('client-off').length, 0, 'client event delivered although the app disabled them');
  for (const cl of [tx, tx2]) {
    await cl.ping();
    assert.equal(cl.closeInfo, null);
  }
});
