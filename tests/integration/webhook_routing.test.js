'use strict';
/* Issue #4 (connection setup cost): the bridge sends a Webhook message only
 * to an edge that has a webhook for the event's app and type (Hello.webhooks,
 * re-sent after a reload). An app without webhooks occupies and vacates N
 * channels: the bridge sends 0 Webhook messages (counted webhooks_skipped;
 * on a bridge without the rule, webhooks grows by 2N) while the cluster
 * state answers as before (/channels). An app with a hook still gets
 * exactly one webhook per cluster event with two edges on one host and a
 * second host taking part; an app whose hook wants only member_added gets
 * only those. A reload that adds a webhook URL to the first app makes its
 * next events arrive; a reload that removes it again stops the messages. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor, freePort, api } = require('../lib/cluster');
const prom = require('../lib/prom');
const { subscribeAuthed } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const ALL = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'];
const N = 24;
const c = new Cluster('webhook_routing');
const loud = c.app;
const quiet = { id: 'quiet', key: 'key-quiet', secret: 'secret-quiet' };
const members = { id: 'members', key: 'key-members', secret: 'secret-members' };
const apps = [loud, quiet, members];
let sink;
let sinkMembers;
let hostA;
let hostB;
let edgeA1;
let edgeA2;
let edgeB;
let appsFile;
let metricsPortA;

/* The apps file; quietHook: give the quiet app a webhook too. */
function writeApps(quietHook) {
  return c.writeAppsFile([
    { ...loud, webhooks: [{ url: sink.url, events: ALL }] },
    { ...quiet, webhooks: quietHook ? [{ url: sink.url, events: ALL }] : [] },
    { ...members, webhooks: [{ url: sinkMembers.url, events: ['member_added'] }] },
  ], 'apps-routing.json');
}

before(async () => {
  sink = await new WebhookSink(apps).listen();
  sinkMembers = await new WebhookSink(apps, { path: '/members' }).listen();
  c.track({ destroy: () => { sink.close(); sinkMembers.close(); } });
  appsFile = writeApps(false);
  await c.startRedis();
  metricsPortA = await freePort();
  hostA = await c.addHost('a', { bridgeArgs: ['--metrics-listen', `127.0.0.1:${metricsPortA}`] });
  hostB = await c.addHost('b');
  edgeA1 = await c.addEdge(hostA, { appsFile, apps });
  edgeA2 = await c.addEdge(hostA, { appsFile, apps });
  edgeB = await c.addEdge(hostB, { appsFile, apps });
});

after(() => c.stop());

async function counters(host) { return (await c.status(host)).counters; }
/* Every cluster event the bridge decided, whatever became of its webhook. */
const decided = (k) => k.webhooks + (k.webhooks_skipped || 0) + k.webhooks_dropped;

/* swb_bridge_webhook_events_total{result} of host A's bridge. */
async function webhookEvents(result) {
  const r = await api.get(metricsPortA, '/metrics');
  assert.equal(r.status, 200);
  return prom.value(prom.parse(r.text), 'swb_bridge_webhook_events_total', { result });
}

/* Wait until every edge of host reports webhooks for n apps. */
function waitWebhookApps(host, n) {
  return waitFor(async () => {
    const edges = (await c.status(host)).edges;
    return edges.length > 0 && edges.every((e) => e.webhook_apps === n);
  }, { what: `every edge of host ${host.label} reporting webhooks for ${n} apps` });
}

/* A fence: per edge, a loud channel occupied only through that edge; once
 * its webhook is in, whatever that bridge decided before has been sent. */
async function fence() {
  for (const e of [edgeA1, edgeA2, edgeB]) {
    const ch = uniqueId(`fence-${e.name}`);
    const cl = await c.connect(e, { name: `fence@${e.name}` });
    await cl.subscribe(ch);
    await sink.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  }
}

/* Occupy chans on host A (alternating edges), then vacate them; resolves
 * once host A's bridge decided both transitions of each. */
async function occupyAndVacate(app, chans, { whileOccupied } = {}) {
  const before0 = decided(await counters(hostA));
  const cls = [await c.connect(edgeA1, { key: app.key, name: `${app.id}@A1` }),
    await c.connect(edgeA2, { key: app.key, name: `${app.id}@A2` })];
  await Promise.all(chans.map((ch, i) => cls[i % 2].subscribe(ch)));
  await waitFor(async () => decided(await counters(hostA)) - before0 >= chans.length,
    { timeout: 20000, what: `${chans.length} channel_occupied decisions on host a` });
  if (whileOccupied) await whileOccupied();
  for (const [i, ch] of chans.entries()) cls[i % 2].unsubscribe(ch);
  await waitFor(async () => decided(await counters(hostA)) - before0 >= 2 * chans.length,
    { timeout: 20000, what: `${chans.length} channel_vacated decisions on host a` });
  for (const cl of cls) await cl.close();
}

c.test('an app without webhooks: N channels occupied and vacated, 0 Webhook messages, same cluster state', async () => {
  const chans = Array.from({ length: N }, () => uniqueId('quiet'));
  const k0 = await counters(hostA);
  const kb0 = await counters(hostB);
  const m0 = { sent: await webhookEvents('sent'), skipped: await webhookEvents('skipped') };
  await occupyAndVacate(quiet, chans, {
    whileOccupied: async () => {
      /* The cluster state is what it always was: /channels lists them all. */
      const r = await c.request(edgeB, { app: quiet, method: 'GET', path: `/apps/${quiet.id}/channels` });
      assert.equal(r.status, 200, r.text);
      for (const ch of chans) assert.ok(r.json.channels[ch], `${ch} in /channels: ${r.text}`);
    },
  });
  const k1 = await counters(hostA);
  const kb1 = await counters(hostB);
  assert.equal(k1.webhooks - k0.webhooks, 0,
    `the bridge sent ${k1.webhooks - k0.webhooks} Webhook messages for an app no edge has webhooks for`);
  assert.equal(k1.webhooks_skipped - k0.webhooks_skipped, 2 * N, 'each occupied / vacated counted as skipped');
  assert.equal(k1.webhooks_dropped, k0.webhooks_dropped);
  assert.equal(await webhookEvents('sent') - m0.sent, 0, 'swb_bridge_webhook_events_total{result="sent"}');
  assert.equal(await webhookEvents('skipped') - m0.skipped, 2 * N, 'swb_bridge_webhook_events_total{result="skipped"}');
  assert.equal(decided(kb1), decided(kb0), 'host b decided nothing');
  /* Nothing reached the sink for the quiet app. */
  await fence();
  assert.deepEqual(sink.delivered({}, { app: quiet }), []);
});

c.test('an app with a webhook: exactly one per cluster event; a member_added-only hook gets only those', async () => {
  const chans = [uniqueId('loud'), uniqueId('loud'), uniqueId('loud'), uniqueId('loud')];
  const k0 = await counters(hostA);
  const pairs = [];
  for (const [i, ch] of chans.entries()) {
    pairs.push({ ch,
      a: await c.connect(i % 2 ? edgeA2 : edgeA1, { name: `loud-a:${ch}` }),
      b: await c.connect(edgeB, { name: `loud-b:${ch}` }) });
  }
  await Promise.all(pairs.flatMap(({ ch, a, b }) => [a.subscribe(ch), b.subscribe(ch)]));
  for (const { ch } of pairs) await sink.waitDelivered({ name: 'channel_occupied', channel: ch }, { timeout: 15000 });
  for (const { ch, a, b } of pairs) { a.unsubscribe(ch); b.unsubscribe(ch); }
  for (const { ch } of pairs) await sink.waitDelivered({ name: 'channel_vacated', channel: ch }, { timeout: 15000 });
  /* members: channel_occupied / vacated are not wanted, member_added is. */
  const pch = `presence-${uniqueId('mem')}`;
  const m = await c.connect(edgeA1, { key: members.key, name: 'member' });
  await subscribeAuthed(m, members, pch, { user: 'u1' });
  await sinkMembers.waitDelivered({ name: 'member_added', channel: pch, user_id: 'u1' }, { timeout: 15000 });
  /* channel counts travel in ~100 ms batches: leave once it is occupied */
  await waitFor(async () => {
    const r = await c.request(edgeB, { app: members, method: 'GET', path: `/apps/${members.id}/channels/${pch}` });
    return r.status === 200 && r.json.occupied;
  }, { what: `${pch} occupied` });
  await m.close();
  await fence();
  for (const { ch } of pairs) {
    assert.equal(sink.delivered({ name: 'channel_occupied', channel: ch }).length, 1, `occupied ${ch}: ${sink.summary()}`);
    assert.equal(sink.delivered({ name: 'channel_vacated', channel: ch }).length, 1, `vacated ${ch}`);
  }
  assert.deepEqual(sinkMembers.delivered().map((e) => `${e.name}:${e.user_id}`), ['member_added:u1']);
  /* The members app's occupied, vacated and member_removed were skipped by
   * host A's bridge (it decided them: only host A had the member). */
  let last = k0;
  await waitFor(async () => (last = await counters(hostA)).webhooks_skipped - k0.webhooks_skipped >= 3,
    { what: 'the members app\'s channel_occupied, member_removed and channel_vacated skipped' })
    .catch((e) => { throw new Error(`${e.message}: ${JSON.stringify({ k0, last })}`); });
  const k1 = await counters(hostA);
  assert.ok(k1.webhooks > k0.webhooks, 'host a sent the loud app\'s webhooks');
});

c.test('a reload that adds a webhook URL makes the app\'s next events arrive; removing it stops them', async () => {
  writeApps(true);
  const r = await c.swbctl(['--runtime-dir', hostA.dir, 'reload']);
  assert.equal(r.code, 0, r.stderr);
  await waitWebhookApps(hostA, 3);
  const on = uniqueId('quiet-on');
  const k0 = await counters(hostA);
  await occupyAndVacate(quiet, [on]);
  await sink.waitDelivered({ name: 'channel_occupied', channel: on }, { app: quiet });
  await sink.waitDelivered({ name: 'channel_vacated', channel: on }, { app: quiet });
  const k1 = await counters(hostA);
  assert.equal(k1.webhooks_skipped, k0.webhooks_skipped, 'nothing skipped once the app has a hook');

  writeApps(false);
  const r2 = await c.swbctl(['--runtime-dir', hostA.dir, 'reload']);
  assert.equal(r2.code, 0, r2.stderr);
  await waitWebhookApps(hostA, 2);
  const off = uniqueId('quiet-off');
  await occupyAndVacate(quiet, [off]);
  const k2 = await counters(hostA);
  assert.equal(k2.webhooks, k1.webhooks, 'no Webhook message after the hook was removed');
  assert.equal(k2.webhooks_skipped - k1.webhooks_skipped, 2);
});
