'use strict';
/* Issue #3: a presence subscriber's member list must be gap-free. Its
 * pusher_internal:subscription_succeeded lists the members at some
 * moment; every member_added / member_removed after that moment must
 * reach it, so that (as pusher-js does) the list rebuilt from its frames
 * is always the real one. Here users keep joining and leaving on host B
 * and on host A's first edge, while watchers join (and leave again) on
 * host A's second edge, where nobody else is subscribed, so that edge
 * starts following the channel with a watcher's own subscription. Each
 * watcher's frames are checked against the history a long-standing
 * subscriber (the reference) saw, and after the churn stops the last
 * watcher's rebuilt list must equal the API's. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { subscribeAuthed, sdk } = require('../lib/backend');

const c = new Cluster('presence_handoff');
const WATCHERS = 24;
let edgeA;
let edgeA1;
let edgeB;

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA1 = await c.addEdge(a); /* host A follows the channel through this edge's clients */
  edgeA = await c.addEdge(a);  /* the watchers' edge: nobody else here */
  edgeB = await c.addEdge(b);
});

after(() => c.stop());

/* The member list a client would show: its last subscription_succeeded
 * on ch, then every member_added / member_removed after it. */
function rebuilt(cl, ch) {
  const frames = cl.messages.filter((m) => m.channel === ch);
  let i = -1;
  frames.forEach((m, k) => { if (m.event === 'pusher_internal:subscription_succeeded') i = k; });
  if (i < 0) return null;
  const v = new Set(JSON.parse(frames[i].data).presence.ids);
  for (const m of frames.slice(i + 1)) {
    if (m.event === 'pusher_internal:member_added') v.add(JSON.parse(m.data).user_id);
    if (m.event === 'pusher_internal:member_removed') v.delete(JSON.parse(m.data).user_id);
  }
  return [...v].sort();
}

/* {snapshot: ids, events: [{type: 'added'|'removed', user}]} from a
 * client's last subscription_succeeded on ch. */
function memberEvents(cl, ch) {
  const frames = cl.messages.filter((m) => m.channel === ch);
  let i = -1;
  frames.forEach((m, k) => { if (m.event === 'pusher_internal:subscription_succeeded') i = k; });
  const snapshot = i < 0 ? [] : JSON.parse(frames[i].data).presence.ids;
  const events = frames.slice(i + 1).filter((m) => m.event.startsWith('pusher_internal:member_'))
    .map((m) => ({ type: m.event.endsWith('added') ? 'added' : 'removed', user: JSON.parse(m.data).user_id }));
  return { snapshot, events };
}

const story = (cl, ch) => cl.messages.filter((m) => m.channel === ch).map((m) => {
  if (m.event === 'pusher_internal:subscription_succeeded') return `succeeded${JSON.stringify(JSON.parse(m.data).presence.ids.sort())}`;
  if (m.event.startsWith('pusher_internal:member_')) return `${m.event.slice(23)}:${JSON.parse(m.data).user_id}`;
  return m.event;
}).join(' ');

/* One round on a fresh channel. With sameUser, user 'dup' is present on
 * host A (edge A1) throughout and every watcher joins as 'dup' too: the
 * bridge then only reads the member list (no member_added marks the
 * moment), so the watcher's snapshot may be any state of the history. */
async function round(n, { sameUser = false } = {}) {
  const failures = [];
  const ch = `presence-${uniqueId('handoff')}`;
  /* The reference: subscribed on host B before anything happens; the
   * member frames it gets are the channel's history, in Redis order. */
  const ref = await c.connect(edgeB, { name: `ref${n}` });
  await subscribeAuthed(ref, c.app, ch, { user: 'ref' });
  let dup = null;
  if (sameUser) {
    dup = await c.connect(edgeA1, { name: `dup${n}` });
    await subscribeAuthed(dup, c.app, ch, { user: 'dup' });
  }
  /* Churners on host B and on host A's other edge. */
  const churners = [];
  for (let i = 0; i < 8; i++) churners.push({ cl: await c.connect(i % 2 ? edgeA1 : edgeB, { name: `churn${i}` }), user: `c${i}`, in: false });
  let stop = false;
  const churn = (async () => {
    let k = 0;
    while (!stop) {
      const st = churners[k++ % churners.length];
      if (st.in) { st.cl.unsubscribe(ch); st.in = false; await st.cl.ping(); } else {
        await subscribeAuthed(st.cl, c.app, ch, { user: st.user });
        st.in = true;
      }
    }
  })();
  /* Meanwhile, watchers on edge A2 (where nobody else is subscribed)
   * join, and all but the last leave again, so that the edge starts
   * following the channel with a watcher's subscription many times. */
  const watchers = [];
  for (let i = 0; i < WATCHERS; i++) {
    const w = await c.connect(edgeA, { name: `watch${n}.${i}` });
    w.user = sameUser ? 'dup' : `w${i}`;
    await subscribeAuthed(w, c.app, ch, { user: w.user });
    if (i < WATCHERS - 1) {
      await w.ping();
      w.unsubscribe(ch);
      await w.ping();
    }
    watchers.push(w);
  }
  stop = true;
  await churn;
  const truth = async () => (await (await sdk(c.app, edgeA).get({ path: `/channels/${ch}/users` })).json()).users.map((u) => u.id).sort();
  const want = [...new Set([...churners.filter((s) => s.in).map((s) => s.user), watchers[WATCHERS - 1].user, 'ref',
    ...(sameUser ? ['dup'] : [])])].sort();
  await waitFor(async () => (await truth()).join() === want.join(), { what: `API lists ${want}` });
  const last = watchers[WATCHERS - 1];
  try {
    await waitFor(() => rebuilt(last, ch).join() === want.join(), { timeout: 5000, what: `${last.name}` });
  } catch (e) {
    failures.push(`${last.name}: rebuilt ${JSON.stringify(rebuilt(last, ch))} != ${JSON.stringify(want)}; frames: ${story(last, ch)}`);
  }
  /* Every watcher, against the reference history: its snapshot is a state
   * of the history (without sameUser: the state right after its own
   * member_added), and the member frames it got afterwards (leaving out
   * no-ops: an add of someone listed, a removal of someone not listed)
   * continue that history without a gap, up to its unsubscribe. */
  await waitFor(() => rebuilt(ref, ch).join() === want.join(), { what: `the reference's list is ${want}` });
  const hist = memberEvents(ref, ch);
  const states = [new Set(hist.snapshot)];
  for (const ev of hist.events) {
    const st = new Set(states[states.length - 1]);
    if (ev.type === 'added') st.add(ev.user); else st.delete(ev.user);
    states.push(st);
  }
  const key = (set) => [...set].sort().join();
  const fmt = (evs) => evs.map((ev) => `${ev.type}:${ev.user}`).join(' ');
  for (const w of watchers) {
    const mine = memberEvents(w, ch);
    const list = new Set(mine.snapshot);
    const effective = mine.events.filter((ev) => {
      const noop = ev.type === 'added' ? list.has(ev.user) : !list.has(ev.user);
      if (ev.type === 'added') list.add(ev.user); else list.delete(ev.user);
      return !noop;
    });
    let candidates;
    if (sameUser) {
      candidates = states.map((st, k) => k).filter((k) => key(states[k]) === key(mine.snapshot));
    } else {
      const a = hist.events.findIndex((ev) => ev.type === 'added' && ev.user === w.user);
      if (a < 0) { failures.push(`${w.name}: the reference never saw ${w.user} join`); continue; }
      if (key(states[a + 1]) !== key(mine.snapshot)) {
        failures.push(`${w.name}: snapshot ${JSON.stringify([...mine.snapshot].sort())} != the state after its join ${JSON.stringify([...states[a + 1]].sort())}`);
        continue;
      }
      candidates = [a + 1];
    }
    const fits = (k) => fmt(effective) === fmt(hist.events.slice(k).filter((ev) => ev.user !== w.user).slice(0, effective.length));
    if (!candidates.some(fits)) {
      const k = candidates[0];
      failures.push(candidates.length === 0
        ? `${w.name}: snapshot ${JSON.stringify([...mine.snapshot].sort())} is no state of the history`
        : `${w.name}: after its snapshot it got [${fmt(effective)}], the history says [${fmt(hist.events.slice(k).filter((ev) => ev.user !== w.user).slice(0, effective.length))}] (reference history from there: ${fmt(hist.events.slice(k, k + effective.length + 6))})`);
    }
  }
  for (const s of churners) await s.cl.close();
  await ref.close();
  if (dup) await dup.close();
  return failures;
}

c.test('subscribers joining on a host new to the channel while members churn elsewhere: lists stay exact', async () => {
  for (let n = 0; n < 3; n++) {
    const failures = await round(n);
    assert.deepEqual(failures, []);
  }
});

c.test('a second connection of a user already present on the host: its list stays exact too', async () => {
  for (let n = 0; n < 2; n++) {
    const failures = await round(`d${n}`, { sameUser: true });
    assert.deepEqual(failures, []);
  }
});
