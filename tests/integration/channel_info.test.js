'use strict';
/* Issue #3: the `info` of POST /events and /batch_events is answered from
 * cluster-wide counts (subscribers on both hosts); user_count on a
 * non-presence channel in GET queries is a 400; the presence member limit
 * (presence_max_members from the apps file) refuses a new member with
 * pusher:error 4100 and pusher:subscription_error {type LimitReached},
 * while a second connection of an existing member is still accepted. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');
const { subscribeAuthed, authorize } = require('../lib/backend');

const c = new Cluster('channel_info');
const small = { id: 'small', key: 'key-small', secret: 'secret-small' };
let edgeA;
let edgeB;

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  const file = c.writeAppsFile([c.app, { ...small, presence_max_members: 2 }]);
  edgeA = await c.addEdge(a, { appsFile: file, apps: [c.app, small] });
  edgeB = await c.addEdge(b, { appsFile: file, apps: [c.app, small] });
});

after(() => c.stop());

const P = `presence-${uniqueId('info')}`;
const Q = uniqueId('info-public');

c.test('POST events with info: user_count and subscription_count from both hosts', async () => {
  /* P: u1 twice (A, B), u2 on B -> user_count 2, subscription_count 3. Q: 1 on A, 1 on B. */
  for (const [e, user] of [[edgeA, 'u1'], [edgeB, 'u1'], [edgeB, 'u2']]) {
    const cl = await c.connect(e, { name: `${user}@${e.name}` });
    await subscribeAuthed(cl, c.app, P, { user });
    if (user === 'u2' || e === edgeA) await cl.subscribe(Q);
  }
  const want = { channels: { [P]: { user_count: 2, subscription_count: 3 }, [Q]: { subscription_count: 2 } } };
  for (const e of [edgeA, edgeB]) {
    let last;
    await waitFor(async () => {
      last = await c.request(e, { body: { name: 'ev', channels: [P, Q], data: '{}', info: 'user_count,subscription_count' } });
      if (last.status !== 200 || !last.json || !last.json.channels) return false;
      const ch = last.json.channels;
      return ch[P] && ch[P].user_count === 2 && ch[P].subscription_count === 3 && ch[Q] && ch[Q].subscription_count === 2;
    }, { what: `info on ${e.name}` }).catch((err) => { throw new Error(`${err.message}; last: ${JSON.stringify(last)}`); });
    assert.equal(last.json.channels[Q].user_count, undefined, 'user_count reported for a public channel');
    assert.deepEqual(last.json.channels[P], want.channels[P]);
  }
  /* Without info: {} exactly. */
  const plain = await c.request(edgeA, { body: { name: 'ev', channels: [Q], data: '{}' } });
  assert.equal(plain.status, 200);
  assert.deepEqual(plain.json, {});
  /* Only subscription_count asked: no user_count. */
  const sc = await c.request(edgeB, { body: { name: 'ev', channels: [P], data: '{}', info: 'subscription_count' } });
  assert.equal(sc.status, 200);
  assert.deepEqual(sc.json, { channels: { [P]: { subscription_count: 3 } } });
});

c.test('POST batch_events with info: one entry per item, {} for items without info', async () => {
  const r = await c.request(edgeA, {
    path: `/apps/${c.app.id}/batch_events`,
    body: { batch: [
      { channel: P, name: 'b1', data: '{}', info: 'user_count,subscription_count' },
      { channel: Q, name: 'b2', data: '{}' },
      { channel: Q, name: 'b3', data: '{}', info: 'subscription_count' },
    ] },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { batch: [{ user_count: 2, subscription_count: 3 }, {}, { subscription_count: 2 }] });
});

c.test('user_count on a non-presence channel is a 400 (GET channel, GET channels without the presence- prefix)', async () => {
  const get = (edge, p, query) => api.request({ port: edge.port, app: c.app, method: 'GET', path: `/apps/${c.app.id}${p}`, query });
  for (const e of [edgeA, edgeB]) {
    assert.equal((await get(e, `/channels/${Q}`, { info: 'user_count' })).status, 400);
    assert.equal((await get(e, `/channels/private-${uniqueId('x')}`, { info: 'user_count' })).status, 400);
    assert.equal((await get(e, '/channels', { info: 'user_count' })).status, 400);
    assert.equal((await get(e, `/channels/${Q}/users`)).status, 400);
    const ok = await get(e, `/channels/${P}`, { info: 'user_count' });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { occupied: true, user_count: 2 });
  }
});

c.test('presence member limit: a third user gets 4100 + LimitReached; an existing member may add a connection', async () => {
  const ch = `presence-${uniqueId('full')}`;
  const m1 = await c.connect(edgeA, { name: 'm1', key: small.key });
  const m2 = await c.connect(edgeB, { name: 'm2', key: small.key });
  await subscribeAuthed(m1, small, ch, { user: 'm1' });
  await subscribeAuthed(m2, small, ch, { user: 'm2' });
  const m3 = await c.connect(edgeB, { name: 'm3', key: small.key });
  const a3 = authorize(small, m3.socketId, ch, { user: 'm3' });
  const from = m3.subscribeNoWait(ch, { auth: a3.auth, channelData: a3.channel_data });
  const err = await m3.waitMessage((m) => m.event === 'pusher:error', { from, what: 'pusher:error for a full channel' });
  assert.equal(err.data.code, 4100, JSON.stringify(err));
  const se = await m3.waitMessage((m) => m.event === 'pusher:subscription_error' && m.channel === ch, { from, what: 'subscription_error' });
  const sd = typeof se.data === 'string' ? JSON.parse(se.data) : se.data;
  assert.equal(sd.type, 'LimitReached', JSON.stringify(se));
  await m3.ping();
  assert.equal(m3.framesOf('pusher_internal:subscription_succeeded', ch).length, 0);
  /* m2 again, on host A: not a new member. */
  const m2b = await c.connect(edgeA, { name: 'm2-second', key: small.key });
  const s = await subscribeAuthed(m2b, small, ch, { user: 'm2' });
  assert.equal(JSON.parse(s.data).presence.count, 2);
  /* Nobody saw m3. */
  await m1.ping();
  assert.equal(m1.framesOf('pusher_internal:member_added', ch).filter((f) => JSON.parse(f.data).user_id === 'm3').length, 0);
  /* m1 leaves: now m3 fits. */
  m1.unsubscribe(ch);
  await waitFor(async () => {
    const cl = await c.connect(edgeB, { name: 'm3-retry', key: small.key });
    try { await subscribeAuthed(cl, small, ch, { user: 'm3' }); return true; } catch (e) { return false; }
  }, { what: 'm3 can join after m1 left', interval: 200 });
});

c.test('presence member limit under a race: of six users joining at once on two hosts, exactly two get in', async () => {
  const ch = `presence-${uniqueId('race')}`;
  const users = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
  const conns = [];
  for (const [i, u] of users.entries()) conns.push(await c.connect(i % 2 ? edgeA : edgeB, { name: `race-${u}`, key: small.key }));
  const results = await Promise.allSettled(conns.map((cl, i) => subscribeAuthed(cl, small, ch, { user: users[i] })));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  assert.equal(ok, 2, `members admitted: ${results.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.message).join(' | ')}`);
  for (const [i, r] of results.entries()) {
    if (r.status === 'rejected') {
      assert.ok(conns[i].find((m) => m.event === 'pusher:error' && m.data && m.data.code === 4100), `${conns[i].name}: no 4100`);
    }
  }
  const api1 = api.request({ port: edgeA.port, app: small, method: 'GET', path: `/apps/${small.id}/channels/${ch}/users` });
  assert.equal((await api1).json.users.length, 2);
});
