'use strict';
/* Issue #3 under churn: clients on two hosts (three edges) subscribe,
 * unsubscribe, resubscribe and disconnect the same channels as fast as
 * they can. Once they settle, the cluster-wide counts are exact (API
 * subscription_count / user_count / users equal what is really
 * subscribed), the webhooks balance (as many channel_occupied as
 * channel_vacated, plus one if still occupied; per user as many
 * member_added as member_removed, plus one if still present), and every
 * presence subscriber's member list, rebuilt from the frames it got, is
 * the real one. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { subscribeAuthed, sdk } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const c = new Cluster('churn');
let sink;
let edges;

before(async () => {
  sink = await new WebhookSink([c.app]).listen();
  c.track({ destroy: () => sink.close() });
  const file = c.writeAppsFile([{ ...c.app, webhooks: [{ url: sink.url, events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'] }] }]);
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edges = [await c.addEdge(a, { appsFile: file }), await c.addEdge(a, { appsFile: file }), await c.addEdge(b, { appsFile: file })];
});

after(() => c.stop());

c.test('counts and webhook histories stay exact under subscribe/unsubscribe churn on both hosts', async () => {
  const pub = uniqueId('churn');
  const pres = `presence-${uniqueId('churn')}`;
  const users = ['u1', 'u2', 'u3', 'u4'];
  const clients = [];
  for (let i = 0; i < 12; i++) {
    const cl = await c.connect(edges[i % edges.length], { name: `churn${i}` });
    clients.push({ cl, user: users[i % users.length], inPub: false, inPres: false });
  }
  /* Deterministic pseudo-random rounds of flips, no waiting in between
   * except for presence joins (a subscribe must be answered before the
   * next flip of the same client, as pusher-js would do). */
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  for (let round = 0; round < 8; round++) {
    await Promise.all(clients.map(async (st) => {
      if (rnd(2)) {
        if (st.inPub) st.cl.unsubscribe(pub); else st.cl.subscribeNoWait(pub);
        st.inPub = !st.inPub;
      }
      if (rnd(3) === 0) {
        if (st.inPres) { st.cl.unsubscribe(pres); st.inPres = false; } else {
          await subscribeAuthed(st.cl, c.app, pres, { user: st.user });
          st.inPres = true;
        }
      }
    }));
  }
  /* Some leave by closing the connection. */
  for (const st of clients.slice(0, 3)) {
    await st.cl.close();
    st.inPub = false;
    st.inPres = false;
  }
  const alive = clients.filter((st) => st.cl.closeInfo === null);
  await Promise.all(alive.map((st) => st.cl.ping()));
  const nPub = clients.filter((st) => st.inPub).length;
  const nPres = clients.filter((st) => st.inPres).length;
  const presUsers = [...new Set(clients.filter((st) => st.inPres).map((st) => st.user))].sort();

  for (const e of edges) {
    let last;
    await waitFor(async () => {
      const p = await (await sdk(c.app, e).get({ path: `/channels/${pub}`, params: { info: 'subscription_count' } })).json();
      const q = await (await sdk(c.app, e).get({ path: `/channels/${pres}`, params: { info: 'user_count,subscription_count' } })).json();
      const u = (await (await sdk(c.app, e).get({ path: `/channels/${pres}/users` })).json()).users.map((x) => x.id).sort();
      last = { p, q, u };
      return (p.subscription_count || 0) === nPub && p.occupied === (nPub > 0) &&
        (q.subscription_count || 0) === nPres && (q.user_count || 0) === presUsers.length && u.join() === presUsers.join();
    }, { what: `counts on ${e.name}: ${pub} ${nPub} subscriptions; ${pres} ${nPres} subscriptions, users ${presUsers}` })
      .catch((err) => { throw new Error(`${err.message}; last answer ${JSON.stringify(last)}`); });
  }

  /* Webhook histories. Webhooks from different hosts (different edges)
   * may arrive in any order, so the check is a balance, not a sequence:
   * occupied = vacated (+1 if still occupied), and per user
   * member_added = member_removed (+1 if still present). */
  const count = (m) => sink.delivered(m).length;
  const balanced = () => {
    const bad = [];
    for (const [ch, occ] of [[pub, nPub > 0], [pres, nPres > 0]]) {
      const o = count({ name: 'channel_occupied', channel: ch });
      const v = count({ name: 'channel_vacated', channel: ch });
      if (o !== v + (occ ? 1 : 0) || o === 0) bad.push(`${ch}: ${o} occupied, ${v} vacated, occupied now: ${occ}`);
    }
    for (const u of users) {
      const a = count({ name: 'member_added', channel: pres, user_id: u });
      const r = count({ name: 'member_removed', channel: pres, user_id: u });
      const inNow = presUsers.includes(u);
      if (a !== r + (inNow ? 1 : 0)) bad.push(`${u}: ${a} member_added, ${r} member_removed, present now: ${inNow}`);
    }
    return bad;
  };
  await waitFor(() => balanced().length === 0, { timeout: 15000, what: 'balanced webhook histories' })
    .catch(() => assert.deepEqual(balanced(), [], 'webhook histories'));
  assert.deepEqual(sink.invalid(), []);

  /* Every remaining presence subscriber's pusher-style view agrees too:
   * the member frames each one got, applied to its initial list. */
  for (const st of alive.filter((x) => x.inPres)) {
    const frames = st.cl.messages.filter((m) => m.channel === pres);
    let i = frames.findIndex((m) => m.event === 'pusher_internal:subscription_succeeded');
    /* The last subscription_succeeded (a client may have joined several times). */
    for (let k = i; k < frames.length; k++) if (frames[k].event === 'pusher_internal:subscription_succeeded') i = k;
    const view = new Set(JSON.parse(frames[i].data).presence.ids);
    for (const m of frames.slice(i + 1)) {
      if (m.event === 'pusher_internal:member_added') view.add(JSON.parse(m.data).user_id);
      if (m.event === 'pusher_internal:member_removed') view.delete(JSON.parse(m.data).user_id);
    }
    await waitFor(() => {
      const v = new Set(JSON.parse(frames[i].data).presence.ids);
      for (const m of st.cl.messages.filter((x) => x.channel === pres).slice(i + 1)) {
        if (m.event === 'pusher_internal:member_added') v.add(JSON.parse(m.data).user_id);
        if (m.event === 'pusher_internal:member_removed') v.delete(JSON.parse(m.data).user_id);
      }
      return [...v].sort().join() === presUsers.join();
    }, { what: `${st.cl.name}'s member list (from its frames) == ${presUsers} (was ${[...view].sort()})` })
      .catch((err) => {
        const seqOf = (cl) => cl.messages.filter((m) => m.channel === pres || m.event === 'pusher:error').map((m) => {
          if (m.event === 'pusher_internal:subscription_succeeded') return `succeeded${JSON.stringify(JSON.parse(m.data).presence.ids.sort())}`;
          if (m.event.startsWith('pusher_internal:member_')) return `${m.event.slice(16)}:${JSON.parse(m.data).user_id}`;
          return m.event === 'pusher:error' ? `error:${m.data.message}` : m.event;
        }).join(' ');
        const all = clients.map((x) => `  ${x.cl.name} (${x.user}, ${x.cl.url.split('/')[2]}, in presence now: ${x.inPres}): ${seqOf(x.cl)}`).join('\n');
        const hooks = sink.delivered({ channel: pres }).filter((h) => h.user_id).map((h) => `${h.name}:${h.user_id}@${h.time_ms}`).join(' ');
        throw new Error(`${err.message}; ${st.cl.name} (user ${st.user}) frames on ${pres}: ${seqOf(st.cl)}\nall clients:\n${all}\nmember webhooks: ${hooks}`);
      });
  }
});
