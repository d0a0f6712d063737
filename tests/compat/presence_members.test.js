'use strict';
/* Issue #3 (b): presence across hosts with unmodified pusher-js clients.
 * Clients joining and leaving on two hosts see the same member list
 * (channel.members), and every observer gets exactly one member_added and
 * one member_removed per user: a user with two connections (on two hosts)
 * joins once and leaves only when the last connection goes. A third host C
 * is killed with -9 (edge AND bridge): its members disappear from host A's
 * and host B's lists once the configured host TTL expires (bridges run with
 * --host-ttl 3 --heartbeat 1), exactly once each, while a user who is also
 * connected on host A stays. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { PjsClient, sdk, subscribeAuthed } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const HOST_TTL = 3;
const BRIDGE_ARGS = ['--host-ttl', String(HOST_TTL), '--heartbeat', '1'];
const c = new Cluster('compat_presence_members');
let edgeA;
let edgeB;
let edgeC;
let hostC;
let hostB;
let sink;

before(async () => {
  sink = await new WebhookSink([c.app]).listen();
  c.track({ destroy: () => sink.close() });
  const file = c.writeAppsFile([{ ...c.app, webhooks: [{ url: sink.url, events: ['member_added', 'member_removed', 'channel_vacated'] }] }]);
  await c.startRedis();
  const a = await c.addHost('a', { bridgeArgs: BRIDGE_ARGS });
  const b = await c.addHost('b', { bridgeArgs: BRIDGE_ARGS });
  hostB = b;
  hostC = await c.addHost('c', { bridgeArgs: BRIDGE_ARGS });
  edgeA = await c.addEdge(a, { appsFile: file });
  edgeB = await c.addEdge(b, { appsFile: file });
  edgeC = await c.addEdge(hostC, { appsFile: file });
});

after(() => c.stop());

async function join(edge, user, ch, name) {
  const p = new PjsClient(c, edge, { user, userInfo: { name: user }, name: `${name || user}@${edge.name}` });
  await p.connected();
  await p.subscribe(ch);
  return p;
}

const countOf = (list, id) => list.filter((x) => x === id).length;

/* A fence on the channel through each host's HTTP API: once every observer
 * has both fence events, anything the cluster sent them before has arrived. */
async function fence(ch, observers) {
  const ids = [];
  for (const e of [edgeA, edgeB]) {
    const id = uniqueId('fence');
    ids.push(id);
    await sdk(c.app, e).trigger(ch, 'fence', { id });
  }
  await waitFor(() => observers.every((o) => ids.every((id) => o.chans[ch].events.some((x) => x.event === 'fence' && x.data.id === id))),
    { what: 'fence events on every observer' });
}

c.test('joins and leaves on two hosts: same member list everywhere, one member_added/removed per user', async () => {
  const ch = `presence-${uniqueId('members')}`;
  const obsA = await join(edgeA, 'obs-a', ch);
  const obsB = await join(edgeB, 'obs-b', ch);
  const observers = [obsA, obsB];
  const expectMembers = (ids, what) => waitFor(() => observers.every((o) => o.members(ch).join() === [...ids].sort().join()),
    { what: `${what}: every observer sees [${[...ids].sort()}] (A: ${obsA.members(ch)}, B: ${obsB.members(ch)})` });
  await expectMembers(['obs-a', 'obs-b'], 'observers');

  const u1 = await join(edgeA, 'u1', ch);
  await expectMembers(['obs-a', 'obs-b', 'u1'], 'u1 joined on A');
  assert.deepEqual(u1.members(ch), ['obs-a', 'obs-b', 'u1'], 'u1 own view from subscription_succeeded');

  /* u2 connects twice: first on B, then on A (two tabs, two hosts). */
  const u2b = await join(edgeB, 'u2', ch, 'u2-tab1');
  await expectMembers(['obs-a', 'obs-b', 'u1', 'u2'], 'u2 joined on B');
  const u2a = await join(edgeA, 'u2', ch, 'u2-tab2');
  assert.deepEqual(u2a.members(ch), ['obs-a', 'obs-b', 'u1', 'u2']);
  assert.equal(u2a.chans[ch].channel.members.count, 4);
  await fence(ch, observers);
  for (const o of observers) {
    assert.equal(countOf(o.chans[ch].added, 'u2'), 1, `${o.name}: member_added for u2 (second connection must not add)`);
    assert.equal(countOf(o.chans[ch].added, 'u1'), 1, `${o.name}: member_added for u1`);
    assert.equal(o.framesOf('pusher_internal:member_added', ch).filter((f) => f.data.user_id === 'u2').length, 1);
  }
  /* The first connection of u2 leaves: u2 is still there. */
  u2b.unsubscribe(ch);
  await fence(ch, observers);
  for (const o of observers) {
    assert.equal(countOf(o.chans[ch].removed, 'u2'), 0, `${o.name}: member_removed for u2 while its second connection is still in`);
    assert.ok(o.members(ch).includes('u2'));
  }
  /* The last one leaves (by disconnecting): exactly one member_removed. */
  u2a.disconnect();
  await expectMembers(['obs-a', 'obs-b', 'u1'], 'u2 left');
  u1.unsubscribe(ch);
  await expectMembers(['obs-a', 'obs-b'], 'u1 left');
  await fence(ch, observers);
  for (const o of observers) {
    assert.equal(countOf(o.chans[ch].removed, 'u2'), 1, `${o.name}: member_removed for u2`);
    assert.equal(countOf(o.chans[ch].removed, 'u1'), 1, `${o.name}: member_removed for u1`);
    assert.equal(countOf(o.chans[ch].added, 'u2'), 1, `${o.name}: member_added for u2 overall`);
    assert.deepEqual(o.errors, []);
  }
  /* A rejoin is a new member_added. */
  await join(edgeB, 'u1', ch, 'u1-again');
  await expectMembers(['obs-a', 'obs-b', 'u1'], 'u1 rejoined on B');
  await fence(ch, observers);
  for (const o of observers) assert.equal(countOf(o.chans[ch].added, 'u1'), 2, `${o.name}: member_added for u1 after the rejoin`);
});

c.test('users joining and leaving on both hosts at the same moment: one member_added and one member_removed each', async () => {
  const ch = `presence-${uniqueId('race')}`;
  const obsA = await join(edgeA, 'obs-a', ch);
  const obsB = await join(edgeB, 'obs-b', ch);
  const observers = [obsA, obsB];
  const users = ['r1', 'r2', 'r3', 'r4', 'r5'];
  const conns = [];
  for (const u of users) {
    for (const e of [edgeA, edgeB, edgeA]) conns.push({ u, cl: await c.connect(e, { name: `${u}@${e.name}` }) });
  }
  await Promise.all(conns.map(({ u, cl }) => subscribeAuthed(cl, c.app, ch, { user: u })));
  const everyone = ['obs-a', 'obs-b', ...users].sort();
  await waitFor(() => observers.every((o) => o.members(ch).join() === everyone.join()),
    { what: `every observer sees ${everyone} (A: ${obsA.members(ch)}, B: ${obsB.members(ch)})` });
  /* Each connection's own subscription_succeeded listed every user that
   * joined before it, itself included. */
  for (const { u, cl } of conns) {
    const d = JSON.parse(cl.framesOf('pusher_internal:subscription_succeeded', ch)[0].data).presence;
    assert.ok(d.ids.includes(u) && d.count === d.ids.length, `${cl.name}: ${JSON.stringify(d)}`);
  }
  await Promise.all(conns.map(({ cl }, i) => (i % 2 ? cl.close() : cl.unsubscribe(ch))));
  await waitFor(() => observers.every((o) => o.members(ch).join() === 'obs-a,obs-b'),
    { what: `every observer sees only the observers (A: ${obsA.members(ch)}, B: ${obsB.members(ch)})` });
  await fence(ch, observers);
  for (const o of observers) {
    for (const u of users) {
      assert.equal(countOf(o.chans[ch].added, u), 1, `${o.name}: member_added for ${u}`);
      assert.equal(countOf(o.chans[ch].removed, u), 1, `${o.name}: member_removed for ${u}`);
    }
  }
  for (const u of users) {
    await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: u }, { timeout: 15000 });
    assert.equal(sink.delivered({ name: 'member_added', channel: ch, user_id: u }).length, 1, `webhook member_added ${u}`);
  }
});

c.test(`kill -9 of host C (edge and bridge): its members leave host A's and B's lists after the host TTL (${HOST_TTL} s + margin)`, async () => {
  const ch = `presence-${uniqueId('dead')}`;
  const obsA = await join(edgeA, 'obs-a', ch);
  const obsB = await join(edgeB, 'obs-b', ch);
  const observers = [obsA, obsB];
  const onC = [await join(edgeC, 'c1', ch), await join(edgeC, 'c2', ch), await join(edgeC, 'both', ch)];
  await join(edgeA, 'both', ch, 'both-on-a');
  /* A public channel whose only subscriber is on host C. */
  const onlyC = uniqueId('only-c');
  const rawC = await c.connect(edgeC, { name: 'raw@C' });
  await rawC.subscribe(onlyC);
  await waitFor(async () => {
    const r = await sdk(c.app, edgeA).get({ path: '/channels' });
    return Object.keys((await r.json()).channels).includes(onlyC);
  }, { what: `${onlyC} listed as occupied` });
  const all = ['both', 'c1', 'c2', 'obs-a', 'obs-b'];
  await waitFor(() => observers.every((o) => o.members(ch).join() === all.join()),
    { what: `everyone sees ${all} (A: ${obsA.members(ch)}, B: ${obsB.members(ch)})` });

  /* The bridge first: if the edge died first, the still-living bridge
   * would remove the edge's members itself and the TTL sweep would not be
   * what is tested. */
  await c.kill9Bridge(hostC);
  await c.kill9Edge(edgeC);
  for (const p of onC) p.disconnect(); /* stop pusher-js from retrying a dead port */
  const left = ['both', 'obs-a', 'obs-b'];
  /* Bounded by the TTL plus the sweep period plus a generous margin; no
   * timing is asserted beyond that bound. */
  await waitFor(() => observers.every((o) => o.members(ch).join() === left.join()),
    { timeout: (HOST_TTL + 12) * 1000, what: `host C's members swept (A: ${obsA.members(ch)}, B: ${obsB.members(ch)})` });
  await fence(ch, observers);
  for (const o of observers) {
    assert.equal(countOf(o.chans[ch].removed, 'c1'), 1, `${o.name}: member_removed c1`);
    assert.equal(countOf(o.chans[ch].removed, 'c2'), 1, `${o.name}: member_removed c2`);
    assert.equal(countOf(o.chans[ch].removed, 'both'), 0, `${o.name}: 'both' is still connected on host A`);
  }
  /* The HTTP API agrees (from either host). */
  for (const e of [edgeA, edgeB]) {
    await waitFor(async () => {
      const r = await sdk(c.app, e).get({ path: `/channels/${ch}/users` });
      const ids = (await r.json()).users.map((u) => u.id).sort();
      return ids.join() === left.join();
    }, { what: `GET /channels/${ch}/users on ${e.name} == ${left}` });
  }
  /* Counts and occupancy lost host C's connections too. */
  for (const e of [edgeA, edgeB]) {
    await waitFor(async () => {
      const r = await sdk(c.app, e).get({ path: `/channels/${ch}`, params: { info: 'user_count,subscription_count' } });
      const b = await r.json();
      return b.user_count === 3 && b.subscription_count === 3;
    }, { what: `${ch}: user_count 3, subscription_count 3 on ${e.name}` });
    await waitFor(async () => {
      const r = await sdk(c.app, e).get({ path: '/channels' });
      return !Object.keys((await r.json()).channels).includes(onlyC);
    }, { what: `${onlyC} (only on the dead host) no longer listed on ${e.name}` });
  }
  /* The sweep's transitions reach the webhooks once, although two live
   * bridges race to sweep. */
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'c1' }, { timeout: 15000 });
  await sink.waitDelivered({ name: 'member_removed', channel: ch, user_id: 'c2' }, { timeout: 15000 });
  await sink.waitDelivered({ name: 'channel_vacated', channel: onlyC }, { timeout: 15000 });
  await fence(ch, observers);
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'c1' }).length, 1, sink.summary());
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'c2' }).length, 1);
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'both' }).length, 0);
  assert.equal(sink.delivered({ name: 'channel_vacated', channel: onlyC }).length, 1);
  assert.deepEqual(sink.invalid(), []);
  /* A newcomer on host B gets the swept list. */
  const late = await join(edgeB, 'late', ch);
  assert.deepEqual(late.members(ch), ['both', 'late', 'obs-a', 'obs-b']);
  /* Webhook fence: late's member_added came after the sweep. */
  await sink.waitDelivered({ name: 'member_added', channel: ch, user_id: 'late' });
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'c1' }).length, 1);
  assert.equal(sink.delivered({ name: 'member_removed', channel: ch, user_id: 'c2' }).length, 1);
});

c.test('a bridge down longer than the TTL: its host\'s members are swept, and come back with one member_added each when it returns', async () => {
  const ch = `presence-${uniqueId('back')}`;
  const obsA = await join(edgeA, 'obs-a', ch);
  const b1 = await join(edgeB, 'b1', ch);
  await join(edgeB, 'b2', ch);
  await waitFor(() => obsA.members(ch).join() === 'b1,b2,obs-a', { what: `obs-a sees b1, b2 (${obsA.members(ch)})` });
  await c.kill9Bridge(hostB);
  await waitFor(() => obsA.members(ch).join() === 'obs-a',
    { timeout: (HOST_TTL + 12) * 1000, what: `b1, b2 swept while host B's bridge is down (${obsA.members(ch)})` });
  await c.startBridge(hostB);
  await c.waitEdgeReady(edgeB, { timeout: 15000 });
  /* The edge replays its joins: the members are back everywhere. */
  await waitFor(() => obsA.members(ch).join() === 'b1,b2,obs-a',
    { timeout: 15000, what: `b1, b2 back after host B's bridge returned (${obsA.members(ch)})` });
  await waitFor(async () => {
    const r = await sdk(c.app, edgeA).get({ path: `/channels/${ch}/users` });
    return (await r.json()).users.map((u) => u.id).sort().join() === 'b1,b2,obs-a';
  }, { what: 'the API lists b1, b2 again' });
  /* And host B delivers again: b1 sees a new member joining on host A. */
  await join(edgeA, 'newcomer', ch);
  await waitFor(() => b1.members(ch).includes('newcomer'), { timeout: 15000, what: `b1 sees newcomer (${b1.members(ch)})` });
  await fence(ch, [obsA, b1]);
  for (const u of ['b1', 'b2']) {
    assert.equal(countOf(obsA.chans[ch].removed, u), 1, `obs-a: member_removed for ${u}`);
    assert.equal(countOf(obsA.chans[ch].added, u), 2, `obs-a: member_added for ${u} (first join, return)`);
  }
});
