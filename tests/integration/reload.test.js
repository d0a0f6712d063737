'use strict';
/* Issue #5: SIGHUP re-reads the apps. A reload that adds one app and
 * removes another keeps every connection of the apps that stay (they keep
 * receiving, and their new secret signs from now on), closes the removed
 * app's connections with pusher:error + close 4003, and lets the new app
 * in. A bad apps file changes nothing (the old table stays, the error is
 * logged). Apps given as `app` lines of a --config file are re-read too. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Cluster, uniqueId, waitFor, PusherClient, api } = require('../lib/cluster');

const c = new Cluster('reload');
const stay = c.app;
const gone = { id: 'gone', key: 'key-gone', secret: 'secret-gone' };
const added = { id: 'added', key: 'key-added', secret: 'secret-added' };
let host;
let other; /* an edge on another host that serves every app, to publish through */

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  const hostB = await c.addHost('b');
  other = await c.addEdge(hostB, { apps: [stay, gone, added] });
});

after(() => c.stop());

/* Resolves with {code, errorCode} of a connection attempt that the edge refuses. */
async function refusal(edge, key) {
  const cl = c.track(await PusherClient.connect(c.wsUrl(edge, { key }), { expectEstablished: false }));
  await cl.waitClose();
  const err = cl.find((m) => m.event === 'pusher:error');
  return { code: cl.closeInfo.code, errorCode: err ? err.data.code : null };
}

function logHas(edge, text) { return fs.readFileSync(edge.proc.logPath, 'utf8').includes(text); }

c.test('SIGHUP adds an app and removes another without dropping the apps that stay', async () => {
  const file = c.writeAppsFile([stay, gone], 'apps-reload.json');
  const edge = await c.addEdge(host, { appsFile: file, apps: [stay, gone] });
  const ch = uniqueId('reload');
  const keep = [];
  for (let i = 0; i < 3; i++) {
    const cl = await c.connect(edge, { name: `stay${i}` });
    await cl.subscribe(ch);
    keep.push(cl);
  }
  const doomed = await c.connect(edge, { name: 'gone', key: gone.key });
  await doomed.subscribe(ch);
  await c.publish(other, { name: 'before', channel: ch, data: { n: 1 } });
  await waitFor(() => keep.every((k) => k.events({ event: 'before' }).length === 1), { what: 'event before reload' });

  const newStay = { ...stay, secret: 'secret-app1-rotated' };
  c.writeAppsFile([newStay, added], 'apps-reload.json');
  edge.proc.child.kill('SIGHUP');

  await doomed.waitClose();
  assert.equal(doomed.closeInfo.code, 4003, 'the removed app is closed with 4003');
  assert.equal(doomed.find((m) => m.event === 'pusher:error').data.code, 4003);
  /* The new app is served, the removed one is unknown now. */
  const fresh = await c.connect(edge, { name: 'added', key: added.key });
  await fresh.subscribe(ch);
  assert.equal((await refusal(edge, gone.key)).code, 4001);

  /* The apps that stay were not dropped and keep receiving. */
  for (const k of keep) assert.equal(k.closeInfo, null, `${k.name} still connected`);
  await c.publish(other, { name: 'after', channel: ch, data: { n: 2 } });
  await waitFor(() => keep.every((k) => k.events({ event: 'after' }).length === 1), { what: 'event after reload' });
  for (const k of keep) {
    assert.deepEqual(k.events().map((m) => m.event), ['before', 'after'], `${k.name}: each event once`);
  }
  /* The rotated secret signs API calls on this edge now; the old one does not. */
  const ok = await c.request(edge, { app: newStay, body: { name: 'signed', channel: ch, data: '{}' } });
  assert.equal(ok.status, 200, ok.text);
  const old = await c.request(edge, { app: stay, body: { name: 'signed', channel: ch, data: '{}' } });
  assert.equal(old.status, 401, old.text);
  await waitFor(() => keep.every((k) => k.events({ event: 'signed' }).length === 1), { what: 'the new-secret publish' });
  assert.ok(logHas(edge, 'reloaded (SIGHUP)'), 'the reload is logged');
  const m = (await api.get(edge.port, '/metrics')).text;
  assert.match(m, /^swb_edge_config_generation 2$/m);
  assert.match(m, /^swb_edge_reload_failures_total 0$/m);
});

c.test('a bad apps file on SIGHUP keeps the old table and logs why', async () => {
  const file = c.writeAppsFile([stay, added], 'apps-bad.json');
  const edge = await c.addEdge(host, { appsFile: file, apps: [stay, added] });
  const cl = await c.connect(edge, { name: 'keeps' });
  const ch = uniqueId('bad');
  await cl.subscribe(ch);
  fs.writeFileSync(file, '[{"id": "x", "key": ');
  edge.proc.child.kill('SIGHUP');
  await waitFor(() => logHas(edge, 'reload (SIGHUP) failed'), { what: 'the failed reload in the log' });
  const m = (await api.get(edge.port, '/metrics')).text;
  assert.match(m, /^swb_edge_config_generation 1$/m, 'a failed reload changes nothing');
  assert.match(m, /^swb_edge_reload_failures_total 1$/m);
  assert.equal(cl.closeInfo, null);
  const a2 = await c.connect(edge, { name: 'added-still', key: added.key });
  assert.ok(a2.socketId, 'apps of the old table are still served');
  await c.publish(edge, { name: 'still', channel: ch, data: '{}' });
  await cl.waitMessage((m) => m.event === 'still', { what: 'delivery after a failed reload' });
});

c.test('the `app` lines of a --config file are re-read on SIGHUP', async () => {
  const conf = path.join(c.tmp, 'edge-reload.conf');
  fs.writeFileSync(conf, `# test\napp = ${stay.id}:${stay.key}:${stay.secret}\n`);
  const edge = await c.addEdge(host, { args: ['--config', conf], apps: [] });
  const cl = await c.connect(edge, { name: 'conf-stay' });
  assert.equal((await refusal(edge, added.key)).code, 4001);
  fs.writeFileSync(conf, `app = ${stay.id}:${stay.key}:${stay.secret}\napp = ${added.id}:${added.key}:${added.secret}\n`);
  edge.proc.child.kill('SIGHUP');
  await waitFor(() => logHas(edge, 'reloaded (SIGHUP)'), { what: 'the reload' });
  const a = await c.connect(edge, { name: 'conf-added', key: added.key });
  assert.ok(a.socketId);
  assert.equal(cl.closeInfo, null);
});
