'use strict';
/* No secret is ever logged (docs/security.md): edges and bridges run at
 * --log-level debug while everything that touches an app secret happens
 * (channel and sign-in auth, good and forged; HTTP API calls, good, badly
 * signed and expired; webhooks; client events; bad apps specs at start-up),
 * then every log, /metrics and `swbctl status` are searched for the
 * secret. The apps come from a file (the harness writes each command line
 * into its log, and --app would put the secret there itself). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { Cluster, bin, uniqueId, waitFor, api } = require('../lib/cluster');
const { authorize, authenticate, forge } = require('../lib/backend');
const { WebhookSink } = require('../lib/webhooks');

const c = new Cluster('no_secret_logs');
const SECRET = `S3cr3t-${c.uid}-never-logged`;
c.app = { id: 'app1', key: 'key-app1', secret: SECRET };
c.apps = [c.app];
let edges;
let sink;
let hostA;

before(async () => {
  sink = await new WebhookSink([c.app]).listen();
  c.track({ destroy: () => sink.close() });
  const file = c.writeAppsFile([{ ...c.app, webhooks: [{ url: sink.url }] }]);
  await c.startRedis();
  hostA = await c.addHost('a', { bridgeArgs: ['--log-level', 'debug'] });
  const b = await c.addHost('b', { bridgeArgs: ['--log-level', 'debug'] });
  edges = [await c.addEdge(hostA, { appsFile: file, args: ['--log-level', 'debug'] }),
    await c.addEdge(b, { appsFile: file, args: ['--log-level', 'debug'] })];
});

after(() => c.stop());

c.test('nothing that handles the secret writes it to a log, /metrics or swbctl status', async () => {
  const [e1, e2] = edges;
  const alice = await c.connect(e1, { name: 'alice' });
  const bob = await c.connect(e2, { name: 'bob' });
  const priv = `private-${uniqueId('p')}`;
  const pres = `presence-${uniqueId('pr')}`;
  for (const cl of [alice, bob]) {
    const good = authorize(c.app, cl.socketId, priv);
    await assert.rejects(cl.subscribe(priv, { auth: forge(good.auth) }), /failed/);
    await cl.subscribe(priv, { auth: good.auth });
    const p = authorize(c.app, cl.socketId, pres, { user: cl.name, userInfo: { n: 1 } });
    await cl.subscribe(pres, { auth: p.auth, channelData: p.channel_data });
  }
  /* a replayed sign-in closes bob's connection (4009) */
  await alice.signin(authenticate(c.app, alice.socketId, 'alice'));
  const mallory = await c.connect(e2, { name: 'mallory' });
  mallory.send({ event: 'pusher:signin', data: authenticate(c.app, alice.socketId, 'alice') });
  await mallory.waitClose();
  alice.trigger(priv, 'client-hello', { x: 1 });
  await bob.waitMessage((m) => m.event === 'client-hello', { what: 'client event' });
  /* HTTP API: good, wrong signature, expired, GETs */
  await c.publish(e1, { name: 'ev', channels: [priv], data: '{"id":"s1"}' });
  const now = Math.floor(Date.now() / 1000);
  for (const o of [{ signature: 'f'.repeat(64) }, { timestamp: now - 602 }, { bodyMd5: '0'.repeat(32) }]) {
    const r = await api.request({ port: e2.port, app: c.app, body: { name: 'x', channels: [priv], data: '{}' }, ...o });
    assert.equal(r.status, 401);
  }
  for (const p of [`/apps/${c.app.id}/channels`, `/apps/${c.app.id}/channels/${pres}/users`]) {
    const r = await api.request({ port: e1.port, app: c.app, method: 'GET', path: p });
    assert.equal(r.status, 200, r.text);
  }
  await sink.waitDelivered({ name: 'member_added', channel: pres }, { timeout: 15000 });
  /* A bad apps file entry at start-up: exit 2 without echoing the secret. */
  const badFile = path.join(c.tmp, 'bad-apps');
  fs.writeFileSync(badFile, `app9${SECRET}\n`);
  const r = await new Promise((resolve) => execFile(bin('swb-edge'), ['--runtime-dir', hostA.dir, '--listen', '127.0.0.1:1',
    '--apps-file', badFile, '--log-level', 'debug'], (err, stdout, stderr) => resolve({ code: err && err.code, out: stdout + stderr })));
  assert.equal(r.code, 2, r.out);
  assert.ok(!r.out.includes(SECRET), `exit message shows the secret: ${r.out}`);
  const bad2 = await new Promise((resolve) => execFile(bin('swb-edge'), ['--runtime-dir', hostA.dir, '--listen', '127.0.0.1:1',
    '--app', `app9:${SECRET}`], (err, stdout, stderr) => resolve({ code: err && err.code, out: stdout + stderr })));
  assert.equal(bad2.code, 2, bad2.out);
  assert.ok(!bad2.out.includes(SECRET), `exit message shows the secret: ${bad2.out}`);

  /* Everything the processes wrote, and what they expose. */
  await waitFor(async () => (await c.status(hostA)).edges.length === 1, { what: 'status' });
  const exposed = [];
  for (const e of edges) exposed.push((await api.get(e.port, '/metrics')).text);
  for (const h of Object.values(c.hosts)) exposed.push(JSON.stringify(await c.status(h)));
  const logs = fs.readdirSync(c.tmp).filter((f) => f.endsWith('.log'));
  assert.ok(logs.length >= (c.ownRedis ? 5 : 4), `logs: ${logs}`); /* + redis.log when not shared (SWB_TEST_REDIS_URL) */
  let debugLines = 0;
  for (const f of logs) {
    const text = fs.readFileSync(path.join(c.tmp, f), 'utf8');
    debugLines += (text.match(/ debug /g) || []).length;
    assert.ok(!text.includes(SECRET), `${f} contains the app secret`);
  }
  assert.ok(debugLines >= 10, `only ${debugLines} debug lines: were the processes at debug level?`);
  for (const t of exposed) assert.ok(!t.includes(SECRET), 'the secret is exposed');
});
