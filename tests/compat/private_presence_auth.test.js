'use strict';
/* Issue #3 (a): private and presence subscriptions from the unmodified
 * pusher-js client succeed on host A and on host B with authorizations
 * signed by the official `pusher` SDK (authorizeChannel, through pusher-js's
 * channelAuthorization.customHandler); a forged signature fails (an error,
 * never pusher:subscription_succeeded). The raw frames are checked too:
 * pusher:error code null "Invalid signature..." plus
 * pusher:subscription_error {type AuthError, status 401} on the channel,
 * the connection stays open, and the presence subscription_succeeded data
 * is a string holding {"presence":{ids,hash,count}}. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { PjsClient, subscribeAuthed, authorize, forge, sdk } = require('../lib/backend');

const c = new Cluster('compat_private_presence_auth');
let edgeA;
let edgeB;

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a);
  edgeB = await c.addEdge(b);
});

after(() => c.stop());

async function pjs(edge, opts) {
  const p = new PjsClient(c, edge, { name: `${opts.name || 'pjs'}@${edge.name}`, ...opts });
  return p.connected();
}

c.test('pusher-js subscribes to a private channel on host A and on host B', async () => {
  const ch = `private-${uniqueId('auth')}`;
  for (const e of [edgeA, edgeB]) {
    const p = await pjs(e, { user: 'u-priv' });
    const rec = await p.subscribe(ch);
    assert.equal(rec.succeeded, true);
    assert.deepEqual(rec.errors, []);
    assert.deepEqual(p.errors, [], `${p.name}: connection errors`);
    const f = p.framesOf('pusher_internal:subscription_succeeded', ch);
    assert.equal(f.length, 1);
  }
});

c.test('pusher-js subscribes to a presence channel on host A and on host B; both see both members', async () => {
  const ch = `presence-${uniqueId('auth')}`;
  const pa = await pjs(edgeA, { user: 'alice', userInfo: { name: 'Alice' } });
  const pb = await pjs(edgeB, { user: 'bob', userInfo: { name: 'Bob' } });
  await pa.subscribe(ch);
  await pb.subscribe(ch);
  await waitFor(() => pa.members(ch).join() === 'alice,bob' && pb.members(ch).join() === 'alice,bob',
    { what: `both see [alice, bob] (A: ${pa.members(ch)}, B: ${pb.members(ch)})` });
  const members = pb.chans[ch].channel.members;
  assert.equal(members.count, 2);
  assert.equal(members.me.id, 'bob');
  assert.deepEqual(members.get('alice').info, { name: 'Alice' });
  assert.deepEqual(pa.errors, []);
  assert.deepEqual(pb.errors, []);
});

c.test('pusher-js with a forged signature gets an error and never subscription_succeeded (both hosts, private and presence)', async () => {
  for (const e of [edgeA, edgeB]) {
    for (const prefix of ['private-', 'presence-']) {
      const ch = `${prefix}${uniqueId('forged')}`;
      const p = await pjs(e, { user: 'mallory', forged: true });
      const rec = await p.subscribe(ch, { expectError: true });
      assert.equal(rec.succeeded, false);
      assert.equal(p.framesOf('pusher_internal:subscription_succeeded', ch).length, 0);
      /* The connection is still usable afterwards. */
      await p.ping();
      assert.equal(p.state, 'connected');
      assert.equal(rec.succeeded, false, 'subscribed after all');
    }
  }
});

c.test('raw frames on a bad signature: pusher:error code null "Invalid signature" and subscription_error AuthError 401; connection stays open', async () => {
  const ch = `private-${uniqueId('raw')}`;
  const cl = await c.connect(edgeB, { name: 'raw-forged' });
  const from = cl.subscribeNoWait(ch, { auth: forge(authorize(c.app, cl.socketId, ch).auth) });
  const err = await cl.waitMessage((m) => m.event === 'pusher:error', { from, what: 'pusher:error' });
  assert.equal(typeof err.data, 'object', `pusher:error data must be an object: ${JSON.stringify(err)}`);
  assert.equal(err.data.code, null, `code: ${JSON.stringify(err)}`);
  assert.match(err.data.message, /^Invalid signature/);
  const se = await cl.waitMessage((m) => m.event === 'pusher:subscription_error' && m.channel === ch,
    { from, what: 'pusher:subscription_error' });
  const sd = typeof se.data === 'string' ? JSON.parse(se.data) : se.data;
  assert.equal(sd.type, 'AuthError');
  assert.equal(sd.status, 401);
  await cl.ping();
  assert.equal(cl.closeInfo, null);
  assert.equal(cl.framesOf('pusher_internal:subscription_succeeded', ch).length, 0);
  /* A signature made for another socket id is just as bad. */
  const other = await c.connect(edgeA, { name: 'raw-other' });
  const ch2 = `private-${uniqueId('raw')}`;
  await assert.rejects(cl.subscribe(ch2, { auth: authorize(c.app, other.socketId, ch2).auth }), /Invalid signature|subscription_error/);
  /* No auth at all on a private channel. */
  await assert.rejects(cl.subscribe(`private-${uniqueId('raw')}`), /pusher:error|subscription_error/);
  /* A presence channel_data different from the signed one. */
  const ch3 = `presence-${uniqueId('raw')}`;
  const a3 = authorize(c.app, cl.socketId, ch3, { user: 'u1' });
  await assert.rejects(cl.subscribe(ch3, { auth: a3.auth, channelData: JSON.stringify({ user_id: 'admin' }) }),
    /Invalid signature|subscription_error/);
  await cl.ping();
  assert.equal(cl.closeInfo, null);
});

c.test('raw frames of a presence subscription: data is a string with presence {ids, hash, count}; member_added to others only', async () => {
  const ch = `presence-${uniqueId('rawp')}`;
  const c1 = await c.connect(edgeA, { name: 'raw-p1' });
  const c2 = await c.connect(edgeB, { name: 'raw-p2' });
  const s1 = await subscribeAuthed(c1, c.app, ch, { user: 'p1', userInfo: { n: 1 } });
  assert.equal(typeof s1.data, 'string', `subscription_succeeded data must be a string: ${JSON.stringify(s1)}`);
  assert.deepEqual(JSON.parse(s1.data), { presence: { ids: ['p1'], hash: { p1: { n: 1 } }, count: 1 } });
  const s2 = await subscribeAuthed(c2, c.app, ch, { user: 'p2', userInfo: { n: 2 } });
  const d2 = JSON.parse(s2.data).presence;
  assert.deepEqual([...d2.ids].sort(), ['p1', 'p2']);
  assert.deepEqual(d2.hash, { p1: { n: 1 }, p2: { n: 2 } });
  assert.equal(d2.count, 2);
  const added = await c1.waitMessage((m) => m.event === 'pusher_internal:member_added' && m.channel === ch,
    { what: 'member_added for p2 on host A' });
  assert.equal(typeof added.data, 'string');
  assert.deepEqual(JSON.parse(added.data), { user_id: 'p2', user_info: { n: 2 } });
  /* Fence on c2: an API event published after c1 got member_added comes
   * after it on the same Redis channel. */
  await c.publish(edgeA, { name: 'fence', channels: [ch], data: '{}' });
  await c2.waitMessage((m) => m.event === 'fence', { what: 'fence on c2' });
  assert.equal(c2.framesOf('pusher_internal:member_added', ch).length, 0, 'the joining connection got its own member_added');
  c2.unsubscribe(ch);
  const removed = await c1.waitMessage((m) => m.event === 'pusher_internal:member_removed' && m.channel === ch,
    { what: 'member_removed for p2 on host A' });
  assert.equal(typeof removed.data, 'string');
  assert.deepEqual(JSON.parse(removed.data), { user_id: 'p2' });
});

c.test('presence user ids: the number 10 and the string "10" are one member; ids are strings in frames and in the API', async () => {
  const ch = `presence-${uniqueId('num')}`;
  const obs = await c.connect(edgeA, { name: 'num-obs' });
  await subscribeAuthed(obs, c.app, ch, { user: 'obs' });
  const n1 = await c.connect(edgeB, { name: 'num-10' });
  const s1 = await subscribeAuthed(n1, c.app, ch, { user: 10, userInfo: { n: 'number' } });
  assert.ok(JSON.parse(s1.data).presence.ids.includes('10'), `ids must be strings: ${s1.data}`);
  const added = await obs.waitMessage((m) => m.event === 'pusher_internal:member_added', { what: 'member_added for 10' });
  assert.equal(JSON.parse(added.data).user_id, '10');
  const n2 = await c.connect(edgeA, { name: 'str-10' });
  const s2 = await subscribeAuthed(n2, c.app, ch, { user: '10', userInfo: { n: 'string' } });
  const p2 = JSON.parse(s2.data).presence;
  assert.equal(p2.count, 2, `"10" after 10 must be the same member: ${s2.data}`);
  assert.deepEqual([...p2.ids].sort(), ['10', 'obs']);
  await c.publish(edgeB, { name: 'fence', channels: [ch], data: '{}' });
  await obs.waitMessage((m) => m.event === 'fence', { what: 'fence' });
  assert.equal(obs.framesOf('pusher_internal:member_added', ch).length, 1, 'a second member_added for "10"');
  const r = await sdk(c.app, edgeB).get({ path: `/channels/${ch}/users` });
  assert.deepEqual((await r.json()).users.map((u) => u.id).sort(), ['10', 'obs']);
});
