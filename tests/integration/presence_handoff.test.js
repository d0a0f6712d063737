'use strict';
/* Issue #3: a presence subscriber's member list must be gap-free. Its
 * pusher_internal:subscription_succeeded lists the members at some
 * moment; every member_added / member_removed after that moment must
 * reach it, so that (as pusher-js does) the list rebuilt from its frames
 * is always the real one. Here users keep joining and leaving on host B
 * and on host A's first edge, while watchers join (and leave again) on
 * host A's second edge, where nobody else is subscribed, so that edge
 * starts following the channel with a watcher's own subscription. After
 * the churn stops, the last watcher's rebuilt list must equal the API's. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { subscribeAuthed, sdk } = require('../lib/backend');

const c = new Cluster('presence_handoff');
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

const story = (cl, ch) => cl.messages.filter((m) => m.channel === ch).map((m) => {
  if (m.event === 'pusher_internal:subscription_succeeded') return `succeeded${JSON.stringify(JSON.parse(m.data).presence.ids.sort())}`;
  if (m.event.startsWith('pusher_internal:member_')) return `${m.event.slice(23)}:${JSON.parse(m.data).user_id}`;
  return m.event;
}).join(' ');

c.test('subscribers joining on a host new to the channel while members churn elsewhere: lists stay exact', async () => {
  const failures = [];
  for (let round = 0; round < 5; round++) {
    const ch = `presence-${uniqueId('handoff')}`;
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
    for (let i = 0; i < 12; i++) {
      const w = await c.connect(edgeA, { name: `watch${round}.${i}` });
      await subscribeAuthed(w, c.app, ch, { user: `w${i}` });
      if (i < 11) {
        await w.ping();
        w.unsubscribe(ch);
        await w.ping();
      }
      watchers.push(w);
    }
    stop = true;
    await churn;
    const truth = async () => (await (await sdk(c.app, edgeA).get({ path: `/channels/${ch}/users` })).json()).users.map((u) => u.id).sort();
    const want = [...churners.filter((s) => s.in).map((s) => s.user), 'w11'].sort();
    await waitFor(async () => (await truth()).join() === want.join(), { what: `API lists ${want}` });
    for (const w of watchers.slice(-1)) {
      try {
        await waitFor(() => rebuilt(w, ch).join() === want.join(), { timeout: 5000, what: `${w.name}` });
      } catch (e) {
        failures.push(`${w.name}: rebuilt ${JSON.stringify(rebuilt(w, ch))} != ${JSON.stringify(want)}; frames: ${story(w, ch)}`);
      }
    }
    for (const s of churners) await s.cl.close();
    if (failures.length) break;
  }
  assert.deepEqual(failures, []);
});
