'use strict';
/* Issue #3 (d): the HTTP API's channel queries through the official SDK
 * (pusher.get) are answered from cluster-wide state, whichever host is
 * asked, while pusher-js clients come and go on both hosts:
 *   GET /channels?filter_by_prefix=presence-&info=user_count
 *   GET /channels, GET /channels?filter_by_prefix=private-
 *   GET /channels/NAME?info=user_count,subscription_count
 *   GET /channels/NAME/users
 * Each check waits (bounded) until the answer is right on both hosts.
 * Refusals: user_count on a non-presence channel, users of a non-presence
 * channel, info=user_count without the presence- prefix -> 400. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { PjsClient, sdk } = require('../lib/backend');

const c = new Cluster('compat_http_api_state');
let edgeA;
let edgeB;
const P = `presence-${uniqueId('room')}`;
const Q = `private-${uniqueId('orders')}`;
const R = uniqueId('news');

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a);
  edgeB = await c.addEdge(b);
});

after(() => c.stop());

/* GET through the SDK; {status, body} (the SDK rejects on >= 400). */
async function get(edge, path, params) {
  try {
    const r = await sdk(c.app, edge).get({ path, params });
    return { status: r.status, body: await r.json() };
  } catch (e) {
    if (e && e.status) return { status: e.status, body: e.body };
    throw e;
  }
}

/* Waits until `path` answers `expected` (deepEqual after normalize) on both hosts. */
async function expectBoth(path, params, expected, { normalize = (b) => b } = {}) {
  for (const e of [edgeA, edgeB]) {
    let last;
    await waitFor(async () => {
      last = await get(e, path, params);
      try {
        assert.equal(last.status, 200);
        assert.deepEqual(normalize(last.body), expected);
        return true;
      } catch (err) { return false; }
    }, { what: `GET ${path} ${JSON.stringify(params || {})} on ${e.name} == ${JSON.stringify(expected)}` })
      .catch((err) => { throw new Error(`${err.message}; last answer: ${JSON.stringify(last)}`); });
  }
}

const userIds = (b) => ({ users: b.users.map((u) => u.id).sort() });

async function pjs(edge, user, ch) {
  const p = new PjsClient(c, edge, { user, userInfo: { name: user }, name: `${user}@${edge.name}` });
  await p.connected();
  await p.subscribe(ch);
  return p;
}

c.test('queries follow clients joining and leaving on both hosts', async () => {
  /* Nothing occupied yet. */
  await expectBoth('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }, { channels: {} });
  await expectBoth(`/channels/${P}`, { info: 'user_count,subscription_count' },
    { occupied: false, user_count: 0, subscription_count: 0 },
    { normalize: (b) => ({ user_count: 0, subscription_count: 0, ...b }) });

  /* x twice on A, y once on B; Q: one on A, two on B; R: one on B. */
  const x1 = await pjs(edgeA, 'x', P);
  const x2 = await pjs(edgeA, 'x', P);
  const y = await pjs(edgeB, 'y', P);
  const q1 = await pjs(edgeA, 'q1', Q);
  const q2 = await pjs(edgeB, 'q2', Q);
  const q3 = await pjs(edgeB, 'q3', Q);
  const r1 = await pjs(edgeB, 'r1', R);

  await expectBoth('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }, { channels: { [P]: { user_count: 2 } } });
  await expectBoth(`/channels/${P}`, { info: 'user_count,subscription_count' }, { occupied: true, user_count: 2, subscription_count: 3 });
  await expectBoth(`/channels/${P}`, undefined, { occupied: true });
  await expectBoth(`/channels/${P}/users`, undefined, { users: ['x', 'y'] }, { normalize: userIds });
  await expectBoth(`/channels/${Q}`, { info: 'subscription_count' }, { occupied: true, subscription_count: 3 });
  await expectBoth('/channels', undefined, { channels: { [P]: {}, [Q]: {}, [R]: {} } });
  await expectBoth('/channels', { filter_by_prefix: 'private-' }, { channels: { [Q]: {} } });
  await expectBoth('/channels', { filter_by_prefix: 'private-', info: 'subscription_count' }, { channels: { [Q]: { subscription_count: 3 } } });

  /* One of x's two connections leaves: x is still a member. */
  x1.disconnect();
  await expectBoth(`/channels/${P}`, { info: 'user_count,subscription_count' }, { occupied: true, user_count: 2, subscription_count: 2 });
  await expectBoth(`/channels/${P}/users`, undefined, { users: ['x', 'y'] }, { normalize: userIds });
  /* y leaves on B; a new user z joins on B. */
  y.unsubscribe(P);
  const z = await pjs(edgeB, 'z', P);
  await expectBoth(`/channels/${P}/users`, undefined, { users: ['x', 'z'] }, { normalize: userIds });
  x2.disconnect();
  await expectBoth(`/channels/${P}/users`, undefined, { users: ['z'] }, { normalize: userIds });
  await expectBoth('/channels', { filter_by_prefix: 'presence-', info: 'user_count' }, { channels: { [P]: { user_count: 1 } } });
  q2.disconnect();
  q3.unsubscribe(Q);
  await expectBoth(`/channels/${Q}`, { info: 'subscription_count' }, { occupied: true, subscription_count: 1 });

  /* Everyone leaves: nothing occupied. */
  z.disconnect();
  q1.disconnect();
  r1.unsubscribe(R);
  await expectBoth('/channels', undefined, { channels: {} });
  await expectBoth(`/channels/${P}`, undefined, { occupied: false });
  await expectBoth(`/channels/${P}/users`, undefined, { users: [] }, { normalize: userIds });
  await expectBoth(`/channels/${Q}`, { info: 'subscription_count' }, { occupied: false, subscription_count: 0 },
    { normalize: (b) => ({ subscription_count: 0, ...b }) });
});

c.test('refused queries answer 400', async () => {
  const q = await pjs(edgeA, 'q', Q);
  for (const e of [edgeA, edgeB]) {
    assert.equal((await get(e, `/channels/${Q}`, { info: 'user_count' })).status, 400, 'user_count on a private channel');
    assert.equal((await get(e, `/channels/${R}`, { info: 'user_count' })).status, 400, 'user_count on a public channel');
    assert.equal((await get(e, `/channels/${Q}/users`)).status, 400, 'users of a private channel');
    assert.equal((await get(e, '/channels', { info: 'user_count' })).status, 400, 'user_count without filter_by_prefix');
    assert.equal((await get(e, '/channels', { filter_by_prefix: 'private-', info: 'user_count' })).status, 400,
      'user_count with a non-presence prefix');
  }
  q.disconnect();
});
