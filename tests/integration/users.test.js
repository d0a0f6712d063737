'use strict';
/* Issue #3: users. pusher:signin with an SDK signature -> signin_success
 * (user_data echoed); a bad signature -> 4009. #server-to-user-X may only
 * be subscribed by a connection signed in as X; pusher.sendToUser (SDK)
 * through either host reaches X's connections on both hosts and nobody
 * else, also through pusher-js's own user API (signin() + user.bind).
 * POST /users/X/terminate_connections (SDK terminateUserConnections) closes
 * X's signed-in connections on every host with 4009, and nobody else's
 * (not another user, not X's presence-only connection). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { authenticate, forge, subscribeAuthed, PjsClient, sdk } = require('../lib/backend');

const c = new Cluster('users');
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

async function signedIn(edge, user, name) {
  const cl = await c.connect(edge, { name: name || `${user}@${edge.name}` });
  await cl.signin(authenticate(c.app, cl.socketId, user, { name: user }));
  return cl;
}

const userChan = (u) => `#server-to-user-${u}`;

c.test('sign-in: signin_success carries the user_data; a bad signature gets 4009', async () => {
  const cl = await c.connect(edgeA, { name: 'signin-ok' });
  const a = authenticate(c.app, cl.socketId, 'alice', { name: 'Alice' });
  const ok = await cl.signin(a);
  const d = typeof ok.data === 'string' ? JSON.parse(ok.data) : ok.data;
  assert.equal(d.user_data, a.user_data, `signin_success data: ${JSON.stringify(ok)}`);
  await cl.ping();
  assert.equal(cl.closeInfo, null);

  for (const e of [edgeA, edgeB]) {
    const bad = await c.connect(e, { name: `signin-bad@${e.name}` });
    const b = authenticate(c.app, bad.socketId, 'mallory');
    const from = bad.messages.length;
    bad.send({ event: 'pusher:signin', data: { auth: forge(b.auth), user_data: b.user_data } });
    await waitFor(() => bad.closeInfo || bad.find((m) => m.event === 'pusher:error' || m.event === 'pusher:signin_success', from),
      { what: `${bad.name}: an answer to a forged sign-in` });
    const err = bad.find((m) => m.event === 'pusher:error', from);
    assert.equal(bad.find((m) => m.event === 'pusher:signin_success', from), undefined, 'forged sign-in accepted');
    const code = (err && err.data && err.data.code) || (bad.closeInfo && bad.closeInfo.code);
    assert.equal(code, 4009, `error ${JSON.stringify(err)} close ${JSON.stringify(bad.closeInfo)}`);
    /* Correctly signed user_data without an id: refused with 4009 too. */
    const noId = await c.connect(e, { name: `signin-noid@${e.name}` });
    const userData = JSON.stringify({ user_info: { name: 'nobody' } });
    const sig = require('../lib/http_api').hmac(c.app.secret, `${noId.socketId}::user::${userData}`);
    const from2 = noId.messages.length;
    noId.send({ event: 'pusher:signin', data: { auth: `${c.app.key}:${sig}`, user_data: userData } });
    await waitFor(() => noId.closeInfo || noId.find((m) => m.event === 'pusher:error' || m.event === 'pusher:signin_success', from2),
      { what: `${noId.name}: an answer to a sign-in without id` });
    assert.equal(noId.find((m) => m.event === 'pusher:signin_success', from2), undefined, 'sign-in without id accepted');
    const err2 = noId.find((m) => m.event === 'pusher:error', from2);
    assert.equal((err2 && err2.data && err2.data.code) || (noId.closeInfo && noId.closeInfo.code), 4009,
      `error ${JSON.stringify(err2)} close ${JSON.stringify(noId.closeInfo)}`);
    /* Signed for another socket: also refused. */
    const other = await c.connect(e, { name: `signin-other@${e.name}` });
    const wrong = authenticate(c.app, bad.socketId, 'mallory');
    await assert.rejects(other.signin(wrong), /signin failed|closed/);
  }
});

c.test('#server-to-user-X: only a connection signed in as X may subscribe', async () => {
  const x = await signedIn(edgeA, 'xavier');
  await x.subscribe(userChan('xavier'));
  const y = await signedIn(edgeB, 'yvonne');
  await assert.rejects(y.subscribe(userChan('xavier')), /failed/);
  const anon = await c.connect(edgeB, { name: 'anon' });
  await assert.rejects(anon.subscribe(userChan('xavier')), /failed/);
  await y.ping();
  await anon.ping();
});

c.test('sendToUser through either host reaches every connection of that user on both hosts, nobody else', async () => {
  const u = uniqueId('user');
  const xs = [await signedIn(edgeA, u, 'x1@A'), await signedIn(edgeB, u, 'x2@B')];
  for (const x of xs) await x.subscribe(userChan(u));
  const y = await signedIn(edgeA, 'someone-else');
  await y.subscribe(userChan('someone-else'));
  const pub = await c.connect(edgeB, { name: 'public-listener' });
  await pub.subscribe(uniqueId('public'));
  await c.waitNumsub(userChan(u), 2);
  for (const e of [edgeA, edgeB]) {
    const id = uniqueId('dm');
    const r = await sdk(c.app, e).sendToUser(u, 'direct', { id });
    assert.equal(r.status, 200);
    for (const x of xs) {
      await x.waitMessage((m) => m.event === 'direct' && JSON.parse(m.data).id === id, { what: `direct ${id}` });
    }
  }
  /* Fence to y and pub, then nothing of it may be there. */
  await sdk(c.app, edgeA).sendToUser('someone-else', 'fence', { f: 1 });
  await y.waitMessage((m) => m.event === 'fence', { what: 'fence for y' });
  await pub.ping();
  assert.equal(y.framesOf('direct').length, 0, 'another user got the direct message');
  assert.equal(pub.framesOf('direct').length, 0);
  for (const x of xs) {
    await x.ping();
    assert.equal(x.framesOf('direct').length, 2, `${x.name}: each direct message once`);
    assert.equal(x.framesOf('direct')[0].channel, userChan(u));
  }
});

c.test('pusher-js: signin() then user.bind gets pusher.sendToUser from the other host', async () => {
  const u = uniqueId('pjs-user');
  const p = new PjsClient(c, edgeA, { user: u, userInfo: { name: 'P' }, name: 'pjs-signin' });
  await p.connected();
  const got = [];
  p.pusher.user.bind('hello', (d) => got.push(d));
  p.signin();
  await waitFor(() => p.framesOf('pusher:signin_success').length === 1, { what: 'pusher-js signin_success' });
  await waitFor(() => p.framesOf('pusher_internal:subscription_succeeded', userChan(u)).length === 1,
    { what: `pusher-js subscribed to ${userChan(u)}` });
  await c.waitNumsub(userChan(u), 1);
  await sdk(c.app, edgeB).sendToUser(u, 'hello', { to: u });
  await waitFor(() => got.length === 1, { what: 'pusher-js user event' });
  assert.deepEqual(got, [{ to: u }]);
  assert.deepEqual(p.errors, []);
});

c.test('terminate_connections closes the user\'s signed-in connections on both hosts with 4009, and nothing else', async () => {
  const u = uniqueId('term');
  const victims = [await signedIn(edgeA, u, 'v1@A'), await signedIn(edgeA, u, 'v2@A'), await signedIn(edgeB, u, 'v3@B')];
  const bystander = await signedIn(edgeA, 'bystander');
  /* u's connection that is only in a presence channel, not signed in. */
  const presenceOnly = await c.connect(edgeB, { name: 'presence-only' });
  await subscribeAuthed(presenceOnly, c.app, `presence-${uniqueId('t')}`, { user: u });
  /* And a pusher-js client signed in as u: it must not reconnect after 4009. */
  const p = new PjsClient(c, edgeB, { user: u, name: 'pjs-victim' });
  await p.connected();
  p.signin();
  await waitFor(() => p.framesOf('pusher:signin_success').length === 1, { what: 'pusher-js signin_success' });

  /* v3 (host B) is also in a presence channel that an observer on host A
   * watches: the termination makes it leave. */
  const pch = `presence-${uniqueId('term')}`;
  const watcher = await c.connect(edgeA, { name: 'term-watcher' });
  await subscribeAuthed(watcher, c.app, pch, { user: 'watcher' });
  await subscribeAuthed(victims[2], c.app, pch, { user: u });
  await watcher.waitMessage((m) => m.event === 'pusher_internal:member_added', { what: 'watcher sees the victim join' });

  const r = await sdk(c.app, edgeB).terminateUserConnections(u);
  assert.equal(r.status, 200);
  for (const v of victims) {
    await v.waitClose({ timeout: 10000 });
    const err = v.find((m) => m.event === 'pusher:error');
    assert.ok(v.closeInfo.code === 4009 || (err && err.data.code === 4009),
      `${v.name}: close ${JSON.stringify(v.closeInfo)} error ${JSON.stringify(err)}`);
  }
  await waitFor(() => p.state === 'disconnected', { what: `pusher-js victim disconnected (state ${p.state})` });
  await watcher.waitMessage((m) => m.event === 'pusher_internal:member_removed' && JSON.parse(m.data).user_id === u,
    { what: 'watcher sees the terminated user leave the presence channel' });
  await bystander.ping();
  await presenceOnly.ping();
  assert.equal(bystander.closeInfo, null);
  assert.equal(presenceOnly.closeInfo, null, 'a connection that is not signed in was terminated');
  /* The API answered {} (Pusher: 200 with a JSON body). */
  assert.deepEqual(await r.json(), {});
});

c.test('terminate_connections for a user without connections answers 200 {}', async () => {
  const r = await sdk(c.app, edgeA).terminateUserConnections(uniqueId('nobody'));
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), {});
});
