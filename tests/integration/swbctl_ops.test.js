'use strict';
/* Issue #5: every swbctl command, in its table and its --json form,
 * against a running two-host cluster: status (and --ready), edges,
 * channels [PREFIX] (host and cluster counts), connections, stats,
 * log-level (the bridge's level changes, visible in status), reload and
 * drain (the bridge accepts and forwards them: its reply counts the
 * edges). Usage errors and a missing, dead or silent bridge: a clear
 * message and exit status 2. The control socket is 0600, or 0660 with
 * --control-group. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');

const c = new Cluster('swbctl_ops');
const CH = uniqueId('ops-chan');
const OTHER = uniqueId('zz-other');
let a;
let b;
let edgesA;
let edgeB;
let drainEdge;
const clientsA = [];

before(async () => {
  await c.startRedis();
  a = await c.addHost('a');
  b = await c.addHost('b');
  edgesA = [await c.addEdge(a), await c.addEdge(a)];
  edgeB = await c.addEdge(b);
  /* CH: 2 subscribers on edge A1, 1 on A2 (host a: 3), 2 on B (cluster: 5). */
  for (const [e, n] of [[edgesA[0], 2], [edgesA[1], 1], [edgeB, 2]]) {
    for (let i = 0; i < n; i++) {
      const cl = await c.connect(e);
      await cl.subscribe(CH);
      if (e !== edgeB) clientsA.push(cl);
    }
  }
  const other = await c.connect(edgesA[1]);
  await other.subscribe(OTHER);
  clientsA.push(other);
});

after(() => c.stop());

const ctl = (host, ...args) => c.swbctl(['--runtime-dir', host.dir, ...args]);

async function json(host, ...args) {
  const r = await ctl(host, '--json', ...args);
  assert.equal(r.code, 0, `swbctl ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  const o = JSON.parse(r.stdout);
  assert.equal(o.ok, true, r.stdout);
  return o;
}

async function human(host, ...args) {
  const r = await ctl(host, ...args);
  assert.equal(r.code, 0, `swbctl ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, '');
  return r.stdout;
}

c.test('status: both forms; ready; --ready exits 0 and says so', async () => {
  for (const h of [a, b]) {
    const st = await json(h, 'status');
    assert.equal(st.host_id, h.hostId);
    assert.equal(st.ready, true, st.ready_reason);
    assert.equal(st.probe.failures, 0);
    assert.ok(st.probe.received >= 1, JSON.stringify(st.probe));
    const text = await human(h, 'status');
    assert.match(text, new RegExp(`Bridge: +${h.hostId}`));
    assert.match(text, /Ready: +yes/);
    assert.match(text, /Probe: +every \d+ ms/);
  }
  const r = await ctl(a, 'status', '--ready');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ready');
  const rj = await ctl(a, '--json', 'status', '--ready');
  assert.equal(rj.code, 0, rj.stderr);
  assert.equal(JSON.parse(rj.stdout).ready, true);
});

c.test('edges: pid, connections, channels, messages, bytes, queues, uptime, draining, config generation', async () => {
  const want = new Map(edgesA.map((e) => [e.proc.pid, e]));
  const o = await waitFor(async () => {
    const r = await json(a, 'edges');
    const byPid = new Map(r.edges.map((e) => [e.pid, e]));
    const e0 = byPid.get(edgesA[0].proc.pid);
    const e1 = byPid.get(edgesA[1].proc.pid);
    return r.edges.length === 2 && e0 && e1 && e0.connections === 2 && e1.connections === 2 &&
      e0.subscriptions === 2 && e1.subscriptions === 2 && e0.messages_in >= 2 ? r : false;
  }, { what: 'EdgeStats of both edges of host a' });
  for (const e of o.edges) {
    assert.ok(want.has(e.pid), `unknown pid ${e.pid}`);
    assert.equal(e.listen, `127.0.0.1:${want.get(e.pid).port}`);
    for (const k of ['channels', 'messages_in', 'messages_out', 'bytes_in', 'bytes_out', 'queued',
      'queued_bytes_clients', 'uptime_ms', 'config_generation', 'webhook_apps']) {
      assert.equal(typeof e[k], 'number', `${k} of ${JSON.stringify(e)}`);
    }
    assert.ok(e.bytes_in > 0, 'subscribe frames are bytes in');
    assert.equal(e.draining, false);
    assert.equal(typeof e.reload_error, 'string');
  }
  const text = await human(a, 'edges');
  assert.match(text.split('\n')[0], /^EDGE +PID +LISTEN +CONNS +CHANS +SUBS +MSG_IN +MSG_OUT +B_IN +B_OUT +QUEUE +CLQ_B +UPTIME +DRAIN +GEN +HOOKS +RELOAD_ERROR$/);
  for (const e of edgesA) {
    const line = text.split('\n').find((l) => l.includes(`127.0.0.1:${e.port}`));
    assert.ok(line, `no row for :${e.port}\n${text}`);
    assert.match(line, new RegExp(`^\\S+ +${e.proc.pid} +127\\.0\\.0\\.1:${e.port} +2 +`));
  }
});

c.test('channels: this host\'s and the cluster\'s subscribers, prefix filter, both forms', async () => {
  const o = await waitFor(async () => {
    const r = await json(a, 'channels');
    const it = r.channels.find((x) => x.channel === CH);
    return it && it.host === 3 && it.cluster === 5 && r.cluster_known ? r : false;
  }, { what: `channels: ${CH} host 3 cluster 5` });
  assert.ok(o.channels.every((x) => x.app === c.app.id));
  assert.ok(o.channels.find((x) => x.channel === OTHER && x.host === 1 && x.cluster === 1));
  const ob = await waitFor(async () => {
    const r = await json(b, 'channels', CH);
    return r.channels.length === 1 && r.channels[0].host === 2 && r.channels[0].cluster === 5 ? r : false;
  }, { what: `host b: ${CH} host 2 cluster 5` });
  assert.equal(ob.prefix, CH);
  const filtered = await json(a, 'channels', 'ops-chan');
  assert.deepEqual(filtered.channels.map((x) => x.channel), [CH]);
  const none = await json(a, 'channels', 'no-such-prefix');
  assert.deepEqual(none.channels, []);
  const text = await human(a, 'channels');
  assert.match(text, /^APP +CHANNEL +HOST +CLUSTER$/m);
  assert.match(text, new RegExp(`^${c.app.id} +${CH} +3 +5$`, 'm'));
  assert.match(text, /^2 channels$/m);
});

c.test('connections: per app on this host (and the cluster where known), both forms', async () => {
  const o = await waitFor(async () => {
    const r = await json(a, 'connections');
    const app = r.apps.find((x) => x.app === c.app.id);
    return app && app.host === clientsA.length && r.host_total === clientsA.length ? r : false;
  }, { what: `connections of ${c.app.id} on host a == ${clientsA.length}` });
  assert.ok('cluster' in o.apps[0]);
  const text = await human(a, 'connections');
  assert.match(text, /^APP +HOST +CLUSTER$/m);
  assert.match(text, new RegExp(`^${c.app.id} +${clientsA.length} +`, 'm'));
});

c.test('stats: the bridge counters, both forms', async () => {
  const o = await json(a, 'stats');
  assert.equal(o.host_id, a.hostId);
  assert.equal(o.ready, true);
  assert.equal(o.edges, 2);
  for (const k of ['publish_ok', 'delivered', 'redis_msgs_in', 'control_requests', 'edge_send_drops']) {
    assert.equal(typeof o.counters[k], 'number', k);
  }
  assert.ok(o.counters.control_requests > 0);
  const text = await human(a, 'stats');
  assert.match(text, /^publish_ok +\d+$/m);
  assert.match(text, /^probe_failures +0$/m);
});

c.test('log-level: sets the bridge\'s level (seen in status) and is forwarded to every edge', async () => {
  const o = await json(a, 'log-level', 'debug');
  assert.equal(o.level, 'debug');
  assert.equal(o.edges, 2);
  assert.equal((await json(a, 'status')).log_level, 'debug');
  const text = await human(a, 'log-level', 'warn');
  assert.match(text, /^log-level sent to 2 edge\(s\) \S+ \S+; bridge log level is now warn$/m);
  assert.equal((await json(a, 'status')).log_level, 'warn');
  assert.match(await human(a, 'status'), /^Log level: +warn$/m);
  await json(a, 'log-level', 'info');
  assert.equal((await json(b, 'status')).log_level, 'info', 'the other host is untouched');
  const bad = await ctl(a, 'log-level', 'loud');
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /invalid log level 'loud'/);
  const missing = await ctl(a, 'log-level');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /LEVEL/);
});

c.test('reload: forwarded to every edge of the host, both forms', async () => {
  const o = await json(a, 'reload');
  assert.equal(o.edges, 2);
  const pids = (await json(a, 'edges')).edges.map((e) => e.edge_id).sort();
  assert.deepEqual([...o.edge_ids].sort(), pids);
  const text = await human(b, 'reload');
  assert.match(text, /^reload sent to 1 edge\(s\) \S+$/m);
});

c.test('usage errors: unknown command, bad arguments and options: exit 2 with a message', async () => {
  const cases = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [[], /missing COMMAND/],
    [['edges', 'extra'], /unexpected argument 'extra'/],
    [['channels', 'a', 'b'], /unexpected argument 'b'/],
    [['status', '--deadline', '5'], /unknown option '--deadline'/],
    [['drain', '--rate', 'fast'], /invalid value for --rate/],
    [['drain', '--deadline', '-1'], /invalid value for --deadline/],
    [['drain', '--deadline'], /needs a value/],
    [['--timeout', '0', 'status'], /timeout/],
    [['stats', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = await ctl(a, ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, re, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});

c.test('no bridge: missing runtime dir, a dead bridge\'s socket, a silent bridge: exit 2, clear message', async (t) => {
  const empty = path.join(c.tmp, 'nobridge');
  fs.mkdirSync(empty);
  const missing = await c.swbctl(['--runtime-dir', empty, '--timeout', '1000', 'status']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /no bridge is running at ipc:\/\/.*nobridge\/control\.ipc/);
  t.diagnostic(`missing bridge: exit 2 after ${missing.ms} ms`);
  /* A bridge killed with -9 leaves its socket file behind. */
  const d = await c.addHost('dead');
  await c.kill9Bridge(d);
  assert.ok(fs.existsSync(path.join(d.dir, 'control.ipc')));
  const dead = await c.swbctl(['--runtime-dir', d.dir, '--timeout', '1000', '--json', 'edges']);
  assert.equal(dead.code, 2, dead.stderr);
  assert.match(dead.stderr, /no bridge is running/);
  assert.equal(dead.stdout, '');
  t.diagnostic(`dead bridge: exit 2 after ${dead.ms} ms`);
  /* A stopped bridge accepts the connection but never answers. */
  await c.startBridge(d);
  process.kill(d.bridge.pid, 'SIGSTOP');
  try {
    const silent = await c.swbctl(['--runtime-dir', d.dir, '--timeout', '500', 'status']);
    assert.equal(silent.code, 2, silent.stderr);
    assert.match(silent.stderr, /did not answer within 500 ms/);
    t.diagnostic(`silent bridge: exit 2 after ${silent.ms} ms`);
  } finally {
    process.kill(d.bridge.pid, 'SIGCONT');
  }
});

c.test('control socket: 0600 by default; --control-group GROUP makes it 0660 and that group\'s', async () => {
  const st = fs.statSync(path.join(a.dir, 'control.ipc'));
  assert.equal(st.mode & 0o777, 0o600);
  const gid = process.getuid() === 0 ? 65534 : process.getgid();
  const g = await c.addHost('grp', { bridgeArgs: ['--control-group', String(gid)] });
  const sg = fs.statSync(path.join(g.dir, 'control.ipc'));
  assert.equal(sg.mode & 0o777, 0o660);
  assert.equal(sg.gid, gid);
  assert.equal((await json(g, 'status')).ready, true);
  const bad = await c.addHost('badgrp', { bridge: false, bridgeArgs: ['--control-group', 'no-such-group-xyz'] });
  await assert.rejects(c.startBridge(bad), /exited/);
  assert.match(bad.bridge.logTail(5), /no group named 'no-such-group-xyz'/);
});

/* Last: after the edges implement drain, the drained edge goes away. */
c.test('drain: an unknown edge is refused (exit 1); one edge or all: forwarded, the reply counts them', async () => {
  const unknown = await ctl(a, 'drain', 'no-such-edge');
  assert.equal(unknown.code, 1, unknown.stderr);
  assert.match(unknown.stderr, /no edge with id 'no-such-edge'/);
  const hb = await c.addHost('drain');
  drainEdge = await c.addEdge(hb);
  const id = (await json(hb, 'edges')).edges[0].edge_id;
  const one = await json(hb, 'drain', id, '--deadline', '30', '--rate', '50');
  assert.equal(one.edges, 1);
  assert.deepEqual(one.edge_ids, [id]);
  const text = await human(hb, 'drain', 'all', '--deadline=30');
  assert.match(text, /^drain sent to [01] edge\(s\)/m);
  assert.ok(drainEdge);
});
