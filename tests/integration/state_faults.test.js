'use strict';
/* Issue #3: cluster-wide state through failures (docs/cluster-state.md).
 * - An edge killed with -9 while its bridge lives: its presence members
 *   leave (one member_removed each, seen on the other host) and its
 *   subscriptions stop counting, without waiting for any host TTL.
 * - A bridge killed with -9 and restarted with the same host id (well
 *   within the host TTL): its edges replay, so its members stay, the
 *   other host's observers see no member_removed / member_added for them,
 *   and the queries stay right.
 * - Redis restarted (state lost): the bridges re-apply their hosts' state,
 *   so the queries become right again and presence keeps working, without
 *   announcing the members that never left a second time.
 * Bridges run with --host-ttl 30 (the default) here: nothing in this file
 * may be the TTL sweep's doing. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { subscribeAuthed, sdk } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const c = new Cluster('state_faults', { ownRedis: true });
const BRIDGE_ARGS = ['--host-ttl', '30', '--heartbeat', '1'];
let hostA;
let edgeA1;
let edgeA2;
let edgeB;
let sink;

before(async () => {
  sink = await new WebhookSink([c.app]).listen();
  c.track({ destroy: () => sink.close() });
  const file = c.writeAppsFile([{ ...c.app, webhooks: [{ url: sink.url, events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] }]);
  await c.startRedis();
  hostA = await c.addHost('a', { bridgeArgs: BRIDGE_ARGS });
  const b = await c.addHost('b', { bridgeArgs: BRIDGE_ARGS });
  edgeA1 = await c.addEdge(hostA, { appsFile: file });
  edgeA2 = await c.addEdge(hostA, { appsFile: file });
  edgeB = await c.addEdge(b, { appsFile: file });
});

/* Webhook fence: a fresh channel occupied through host B, then through
 * host A; once both webhooks are in, earlier ones from either host are too. */
async function hookFence() {
  for (const e of [edgeB, edgeA1]) {
    const ch = uniqueId('hook-fence');
    const cl = await c.connect(e, { name: `hook-fence@${e.name}` });
    await cl.subscribe(ch);
    await sink.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  }
}

after(() => c.stop());

async function member(edge, ch, user) {
  const cl = await c.connect(edge, { name: `${user}@${edge.name}` });
  await subscribeAuthed(cl, c.app, ch, { user });
  return cl;
}

async function users(edge, ch) {
  const r = await sdk(c.app, edge).get({ path: `/channels/${ch}/users` });
  return (await r.json()).users.map((u) => u.id).sort();
}

async function counts(edge, ch) {
  const r = await sdk(c.app, edge).get({ path: `/channels/${ch}`, params: { info: 'user_count,subscription_count' } });
  return r.json();
}

const removedFor = (cl, ch, u) => cl.framesOf('pusher_internal:member_removed', ch).filter((f) => JSON.parse(f.data).user_id === u).length;
const addedFor = (cl, ch, u) => cl.framesOf('pusher_internal:member_added', ch).filter((f) => JSON.parse(f.data).user_id === u).length;

async function fence(obs, ch) {
  const id = uniqueId('fence');
  await c.publish(edgeB, { name: 'fence', channels: [ch], data: JSON.stringify({ id }) });
  await obs.waitMessage((m) => m.event === 'fence' && JSON.parse(m.data).id === id, { what: 'fence', timeout: 15000 });
}

c.test('an edge killed with -9 (its bridge alive): its members and subscriptions go at once', async () => {
  const ch = `presence-${uniqueId('edge9')}`;
  const obs = await member(edgeB, ch, 'obs');
  await member(edgeA1, ch, 'stays');
  await member(edgeA2, ch, 'gone1');
  await member(edgeA2, ch, 'gone2');
  await waitFor(async () => (await users(edgeB, ch)).join() === 'gone1,gone2,obs,stays', { what: 'all four members' });
  await c.kill9Edge(edgeA2);
  await waitFor(async () => (await users(edgeB, ch)).join() === 'obs,stays', { what: 'members of the dead edge removed' });
  await waitFor(() => removedFor(obs, ch, 'gone1') && removedFor(obs, ch, 'gone2'), { what: 'member_removed for gone1 and gone2' });
  await waitFor(async () => (await counts(edgeA1, ch)).subscription_count === 2, { what: 'subscription_count 2' });
  await fence(obs, ch);
  assert.equal(removedFor(obs, ch, 'gone1'), 1);
  assert.equal(removedFor(obs, ch, 'gone2'), 1);
  assert.equal(removedFor(obs, ch, 'stays'), 0);
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'gone1' });
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'gone2' });
  await hookFence();
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'gone1' }).length, 1);
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'stays' }).length, 0);
});

c.test('a bridge restarted with the same host id: its members stay, nobody sees them leave or rejoin', async () => {
  const ch = `presence-${uniqueId('br')}`;
  const obs = await member(edgeB, ch, 'obs');
  await member(edgeA1, ch, 'a-user');
  const pub = uniqueId('br-pub');
  const ca = await c.connect(edgeA1, { name: 'pub@A' });
  await ca.subscribe(pub);
  await waitFor(async () => (await users(edgeB, ch)).join() === 'a-user,obs', { what: 'both members' });
  await waitFor(() => addedFor(obs, ch, 'a-user') === 1, { what: 'member_added a-user' });

  await c.restartBridge(hostA);
  await c.waitEdgeReady(edgeA1);
  /* Delivery to host A works again (its interests were replayed). */
  await waitFor(async () => {
    await c.publish(edgeB, { name: 'probe', channels: [pub], data: '{}' });
    try { await ca.waitMessage((m) => m.event === 'probe', { timeout: 500 }); return true; } catch (e) { return false; }
  }, { what: 'delivery to host A after its bridge restarted', timeout: 15000 });
  /* After the bridge's settle period the state is still right. */
  await waitFor(async () => {
    const u = await users(edgeB, ch);
    const cn = await counts(edgeB, ch);
    return u.join() === 'a-user,obs' && cn.user_count === 2 && cn.subscription_count === 2;
  }, { what: 'members and counts right after the restart' });
  const st = await sdk(c.app, edgeB).get({ path: '/channels' });
  assert.ok(Object.keys((await st.json()).channels).includes(pub), `${pub} still occupied`);
  await fence(obs, ch);
  assert.equal(removedFor(obs, ch, 'a-user'), 0, 'member_removed for a member whose host only restarted its bridge');
  assert.equal(addedFor(obs, ch, 'a-user'), 1, 'a second member_added after the bridge restart');
  assert.deepEqual(await users(edgeA1, ch), ['a-user', 'obs']);
  /* No webhook saw anything happen either. */
  await hookFence();
  const hooks = (match) => sink.delivered(match).length;
  assert.equal(hooks({ name: 'member_added', channel: ch, user_id: 'a-user' }), 1, sink.summary());
  assert.equal(hooks({ name: 'member_removed', channel: ch, user_id: 'a-user' }), 0, sink.summary());
  assert.equal(hooks({ name: 'channel_occupied', channel: pub }), 1, sink.summary());
  assert.equal(hooks({ name: 'channel_vacated', channel: pub }), 0, sink.summary());
  assert.equal(hooks({ name: 'channel_vacated', channel: ch }), 0, sink.summary());
});

c.test('Redis restarted (state lost): the bridges re-apply it; queries and presence work again', async () => {
  const ch = `presence-${uniqueId('redis')}`;
  const obs = await member(edgeB, ch, 'obs');
  await member(edgeA1, ch, 'r-user');
  const pubR = uniqueId('redis-pub');
  const cr = await c.connect(edgeA1, { name: 'pub-redis@A' });
  await cr.subscribe(pubR);
  await waitFor(async () => (await users(edgeB, ch)).join() === 'obs,r-user', { what: 'both members' });
  await waitFor(async () => (await counts(edgeB, ch)).subscription_count === 2, { what: 'counts in Redis' });
  await sink.waitDelivered({ name: 'channel_occupied', channel: pubR });
  await sink.waitDelivered({ name: 'member_added', channel: ch, user_id: 'r-user' });
  await c.restartRedis();
  for (const h of Object.values(c.hosts)) await c.waitBridgeReady(h, { timeout: 20000 });
  for (const e of [edgeA1, edgeB]) {
    await waitFor(async () => {
      const u = await users(e, ch);
      const cn = await counts(e, ch);
      return u.join() === 'obs,r-user' && cn.user_count === 2 && cn.subscription_count === 2;
    }, { what: `members and counts re-applied (asked on ${e.name})`, timeout: 20000 });
  }
  /* A new member after the restart is seen across hosts. */
  const late = await member(edgeA1, ch, 'late');
  await obs.waitMessage((m) => m.event === 'pusher_internal:member_added' && JSON.parse(m.data).user_id === 'late',
    { what: 'member_added for a member joining after the Redis restart', timeout: 15000 });
  late.unsubscribe(ch);
  await obs.waitMessage((m) => m.event === 'pusher_internal:member_removed' && JSON.parse(m.data).user_id === 'late',
    { what: 'member_removed after the Redis restart', timeout: 15000 });
  /* Nobody joined or left because Redis restarted: re-applying the state
   * must not announce r-user (or obs) again, neither to the channel (an
   * Echo app would run its joining() callback twice) nor to the webhook. */
  await fence(obs, ch);
  await hookFence();
  const problems = [];
  if (addedFor(obs, ch, 'r-user') !== 1) {
    problems.push(`pusher_internal:member_added frames for r-user on obs: ${JSON.stringify(obs.framesOf('pusher_internal:member_added', ch))}`);
  }
  for (const u of ['r-user', 'obs']) {
    const n = sink.delivered({ name: 'member_added', channel: ch, user_id: u }).length;
    if (n !== 1) problems.push(`${n} member_added webhooks for ${u}`);
  }
  for (const x of [ch, pubR]) {
    const n = sink.delivered({ name: 'channel_occupied', channel: x }).length;
    if (n !== 1) problems.push(`${n} channel_occupied webhooks for ${x} (occupied throughout)`);
  }
  assert.deepEqual(problems, [], `webhooks for ${ch}/${pubR}: ${JSON.stringify(sink.delivered({ channel: ch }).concat(sink.delivered({ channel: pubR })))}`);
});

c.test('a member who leaves and a channel vacated while Redis is down: announced once Redis is back (data lost)', async () => {
  const ch = `presence-${uniqueId('outage')}`;
  const gone = uniqueId('outage-pub');
  const obs = await member(edgeB, ch, 'obs');
  await member(edgeA1, ch, 'stay');
  const leaver = await member(edgeA1, ch, 'leaver');
  const pubCl = await c.connect(edgeA1, { name: 'outage-pub@A' });
  await pubCl.subscribe(gone);
  await waitFor(async () => (await users(edgeB, ch)).join() === 'leaver,obs,stay', { what: 'three members' });
  await waitFor(() => addedFor(obs, ch, 'leaver') === 1, { what: 'obs saw leaver join' });
  await sink.waitDelivered({ name: 'channel_occupied', channel: gone });
  await sink.waitDelivered({ name: 'member_added', channel: ch, user_id: 'leaver' });
  await c.stopRedis();
  leaver.unsubscribe(ch);
  await leaver.ping();
  await pubCl.close();
  await c.startRedis();
  for (const h of Object.values(c.hosts)) await c.waitBridgeReady(h, { timeout: 20000 });
  /* The cluster state (API, a newcomer) says leaver is gone ... */
  await waitFor(async () => (await users(edgeB, ch)).join() === 'obs,stay',
    { what: 'the API lists obs and stay only', timeout: 20000 });
  const late = await member(edgeB, ch, 'late');
  const seen = JSON.parse(late.framesOf('pusher_internal:subscription_succeeded', ch)[0].data).presence.ids.sort();
  assert.deepEqual(seen, ['late', 'obs', 'stay']);
  /* ... so whoever saw leaver join (the observer, the webhook) and the
   * channel become occupied (the webhook) must be told. */
  const missing = () => [
    removedFor(obs, ch, 'leaver') === 1 ? null : 'pusher_internal:member_removed for leaver on obs',
    sink.delivered({ name: 'member_removed', channel: ch, user_id: 'leaver' }).length === 1 ? null : 'member_removed webhook for leaver',
    sink.delivered({ name: 'channel_vacated', channel: gone }).length === 1 ? null : `channel_vacated webhook for ${gone}`,
  ].filter(Boolean);
  try {
    await waitFor(() => missing().length === 0, { timeout: 15000, what: 'the outage\'s leave and vacate announced' });
  } catch (e) {
    assert.deepEqual(missing(), [], `still missing after 15 s; obs's member frames: ${JSON.stringify(obs.framesOf('pusher_internal:member_removed', ch))}; webhooks: ${JSON.stringify(sink.delivered({ channel: ch }).concat(sink.delivered({ channel: gone })))}`);
  }
});

c.test('a member who leaves while its host\'s bridge is down (shorter than the TTL): removed once the bridge is back', async () => {
  const ch = `presence-${uniqueId('brdown')}`;
  const obs = await member(edgeB, ch, 'obs');
  await member(edgeA1, ch, 'stay');
  const leaver = await member(edgeA1, ch, 'leaver');
  await waitFor(async () => (await users(edgeB, ch)).join() === 'leaver,obs,stay', { what: 'three members' });
  await waitFor(() => addedFor(obs, ch, 'leaver') === 1, { what: 'obs saw leaver join' });
  await c.kill9Bridge(hostA);
  leaver.unsubscribe(ch);
  await leaver.ping();
  await c.startBridge(hostA);
  await waitFor(() => removedFor(obs, ch, 'leaver') === 1, { timeout: 15000, what: 'obs gets member_removed for leaver' });
  await waitFor(async () => (await users(edgeB, ch)).join() === 'obs,stay', { what: 'the API lists obs and stay only' });
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'leaver' }, { timeout: 15000 });
  await fence(obs, ch);
  await hookFence();
  assert.equal(removedFor(obs, ch, 'stay'), 0);
  assert.equal(addedFor(obs, ch, 'stay'), 1);
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'leaver' }).length, 1);
  assert.equal(sink.delivered({ name: 'member_added', channel: ch, user_id: 'stay' }).length, 1);
});
