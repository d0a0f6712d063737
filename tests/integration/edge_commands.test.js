'use strict';
/* Issue #5: the operator commands a bridge forwards to its edges
 * (BridgeMsg DrainCmd, LogLevelCmd, ReloadCmd), handed to an edge here on
 * its deliver socket by a minimal push0 peer (tests/lib/sp_push.js), the
 * same wire path the bridge uses. DrainCmd drains like SIGTERM, with its
 * own rate and deadline; LogLevelCmd changes the log level at once;
 * ReloadCmd reloads the apps like SIGHUP; garbage is counted and changes
 * nothing. The same commands through swbctl (drain EDGE --rate --deadline,
 * reload, log-level), with their effect in `swbctl edges` (draining,
 * config_generation, reload_error). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Cluster, uniqueId, waitFor, api } = require('../lib/cluster');
const { bridgeMsg, edgeSocket, sendBridgeMsgs } = require('../lib/sp_push');

const c = new Cluster('edge_commands');
let host;
let stayEdge;

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  stayEdge = await c.addEdge(host);
});

after(() => c.stop());

const send = (edge, ...bodies) => sendBridgeMsgs(edgeSocket(host.dir, edge.proc.logPath), bodies);
const log = (edge) => fs.readFileSync(edge.proc.logPath, 'utf8');

c.test('DrainCmd drains at its own rate, clients move, the edge exits 0', async () => {
  const N = 30;
  const ch = uniqueId('cmd-drain');
  /* The flags say all at once; the command says 15/s. */
  const edge = await c.addEdge(host, { args: ['--drain-rate', '0', '--drain-deadline', '5'] });
  const clients = [];
  const closes = [];
  for (let i = 0; i < N; i++) {
    const cl = await c.connect(edge, { name: `cmd${i}` });
    await cl.subscribe(ch);
    cl.ws.on('close', (code) => closes.push({ t: Date.now(), code }));
    clients.push(cl);
  }
  await send(edge, bridgeMsg.drain({ rate: 15, deadlineMs: 60000 }));
  await waitFor(async () => (await api.get(edge.port, '/readyz')).status === 503, { what: '/readyz 503' });
  const exit = await waitFor(() => edge.proc.exit, { timeout: 30000, what: 'the edge to exit' });
  assert.equal(exit.code, 0);
  assert.equal(closes.length, N);
  for (const x of closes) assert.equal(x.code, 4200);
  const times = closes.map((x) => x.t).sort((a, b) => a - b);
  assert.ok(times[N - 1] - times[0] >= 1000, `spread ${times[N - 1] - times[0]} ms: the command's rate applies`);
  assert.match(log(edge), /draining \(drain command from the bridge\): 30 connection\(s\), 15\/s, deadline 60000 ms/);
  /* They can go on elsewhere. */
  const moved = await c.connect(stayEdge, { name: 'moved' });
  await moved.subscribe(ch);
  await c.publish(stayEdge, { name: 'after', channel: ch, data: '{}' });
  await moved.waitMessage((m) => m.event === 'after');
});

c.test('LogLevelCmd sets the log level at runtime; ReloadCmd reloads the apps; garbage changes nothing', async () => {
  const extra = { id: 'extra', key: 'key-extra', secret: 'secret-extra' };
  const file = c.writeAppsFile([c.app], 'apps-cmd.json');
  const edge = await c.addEdge(host, { appsFile: file });
  const cl = await c.connect(edge, { name: 'stays' });
  assert.doesNotMatch(log(edge), /debug/);

  await send(edge, Buffer.from([0xff, 0xff, 0x01]), bridgeMsg.logLevel('loud'), bridgeMsg.logLevel('debug'));
  await waitFor(() => /log level set to debug/.test(log(edge)), { what: 'the log level change' });
  assert.match(log(edge), /log level 'loud' from the bridge is unknown/);
  /* the garbage and the unknown level are counted */
  const metrics = (await api.get(edge.port, '/metrics')).text;
  assert.match(metrics, /^swb_edge_bad_deliveries_total 2$/m);
  await (await c.connect(edge, { name: 'debug-logged' })).close();
  await waitFor(() => / debug swb-edge\[\d+\]: connected /.test(log(edge)), { what: 'a debug line' });

  c.writeAppsFile([c.app, extra], 'apps-cmd.json');
  await send(edge, bridgeMsg.reload());
  await waitFor(() => /reloaded \(reload command from the bridge\)/.test(log(edge)), { what: 'the reload' });
  const x = await c.connect(edge, { name: 'extra', key: extra.key });
  assert.ok(x.socketId);
  assert.equal(cl.closeInfo, null, 'the app that stayed kept its connection');
  assert.equal((await api.get(edge.port, '/readyz')).status, 200);
});

c.test('through swbctl: drain EDGE --rate, reload, log-level; swbctl edges shows the result', async () => {
  const host2 = await c.addHost('s');
  const keep = await c.addEdge(host2);
  const file = c.writeAppsFile([c.app], 'apps-swbctl.json');
  const edge = await c.addEdge(host2, { appsFile: file, args: ['--drain-rate', '0'] });
  const ctl = (...args) => c.swbctl(['--runtime-dir', host2.dir, '--json', ...args]);
  const edgeId = fs.readFileSync(edge.proc.logPath, 'utf8').match(/edge id (\d+)/)[1];
  const row = async () => {
    const r = await ctl('edges');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).edges.find((x) => x.edge_id === edgeId);
  };
  await waitFor(async () => (await row()) !== undefined, { what: 'the edge in swbctl edges' });

  /* reload: a bad file first (the error shows in swbctl edges), then a good one */
  fs.writeFileSync(file, 'not json [');
  let r = await ctl('reload');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => (await row()).reload_error.includes('apps-swbctl.json'), { what: 'reload_error in swbctl edges' });
  assert.equal((await row()).config_generation, 1);
  c.writeAppsFile([c.app, { id: 'more', key: 'key-more', secret: 'secret-more' }], 'apps-swbctl.json');
  r = await ctl('reload');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(async () => { const x = await row(); return x.config_generation === 2 && x.reload_error === ''; },
    { what: 'config_generation 2 in swbctl edges' });
  await c.connect(edge, { name: 'more', key: 'key-more' });

  /* SIGHUP to the bridge reloads every edge of its host (systemctl reload) */
  process.kill(host2.bridge.pid, 'SIGHUP');
  await waitFor(async () => { const x = await row(); return x.config_generation === 3 && x.reload_error === ''; },
    { what: 'config_generation 3 in swbctl edges after SIGHUP to the bridge' });
  assert.ok(host2.bridge.alive, 'the bridge survives SIGHUP');

  r = await ctl('log-level', 'debug');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => /log level set to debug/.test(log(edge)), { what: 'the edge at debug' });

  /* drain this edge only, at the command's rate */
  const ch = uniqueId('ctl-drain');
  const clients = [];
  for (let i = 0; i < 20; i++) {
    const cl = await c.connect(edge, { name: `ctl${i}` });
    await cl.subscribe(ch);
    clients.push(cl);
  }
  r = await ctl('drain', edgeId, '--rate', '10', '--deadline', '60');
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  await waitFor(async () => { const x = await row(); return !x || x.draining; }, { what: 'draining in swbctl edges' });
  const exit = await waitFor(() => edge.proc.exit, { timeout: 30000, what: 'the drained edge to exit' });
  assert.equal(exit.code, 0);
  for (const cl of clients) assert.equal(cl.closeInfo.code, 4200);
  assert.match(log(edge), /draining \(drain command from the bridge\): \d+ connection\(s\), 10\/s, deadline 60000 ms/);
  assert.ok(keep.proc.alive, 'the other edge was not drained');
  assert.equal((await api.get(keep.port, '/readyz')).status, 200);
});
