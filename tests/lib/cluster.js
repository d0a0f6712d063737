'use strict';
/* cluster.js: the integration-test harness. A Cluster owns everything one
 * test file starts: a redis-server on a free port (or a unique key prefix
 * on an external one, SWB_TEST_REDIS_URL), "hosts" (a runtime dir and its
 * swb-bridge), swb-edge processes on free ports, WebSocket clients. Each
 * process writes its output to a log file in the cluster's temp dir; when a
 * test fails the tail of every log is printed. Only pids started here are
 * ever signalled: SIGTERM, a bounded wait, then SIGKILL, in stop() and
 * (SIGKILL) on process exit.
 *
 * Usage (node:test):
 *   const { Cluster } = require('../lib/cluster');
 *   const c = new Cluster('my_test');
 *   before(async () => { await c.startRedis(); const a = await c.addHost('a'); ... });
 *   after(() => c.stop());
 *   c.test('does x', async () => { ... });
 */

const fs = require('node:fs');
const os = require('node:os');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn, execFile } = require('node:child_process');
const { test } = require('node:test');

const { waitFor, GiveUp, SLOW } = require('./wait');
const { redisCommand, clientList } = require('./resp');
const { PusherClient, RawWs } = require('./pusher_ws');
const api = require('./http_api');
const { uniqueId } = require('./ids');

const BIN_DIR = path.resolve(process.env.SWB_BIN_DIR || path.join(__dirname, '..', '..', 'build', 'bin'));
const bin = (name) => path.join(BIN_DIR, name);

/* SWB_TEST_VALGRIND=1: every swb-edge / swb-bridge this harness starts runs
 * under valgrind (memcheck); errors and definite leaks make it exit 99.
 * Suppressions (third-party code only) are in tests/valgrind.supp. */
const VALGRIND = process.env.SWB_TEST_VALGRIND === '1';
const VALGRIND_ARGV = ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full',
  '--errors-for-leak-kinds=definite', '--show-leak-kinds=definite', '--track-fds=no',
  '--child-silent-after-fork=yes', `--suppressions=${path.join(__dirname, '..', 'valgrind.supp')}`];

/* A daemon that exited with one of these codes, or whose log holds one of
 * these lines, had a memory error, undefined behaviour or a leak: the test
 * file fails (Cluster.stop). The exit codes are the ones scripts/test.sh and
 * tests/CMakeLists.txt give ASAN_OPTIONS / UBSAN_OPTIONS and valgrind. */
const REPORT_EXIT_CODES = new Set([86, 87, 99]);
const REPORT_RE = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ERROR SUMMARY: [1-9]|==\d+== Invalid (read|write|free)/;

/* Every child process still running, for the exit handler. */
const live = new Set();
let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const p of live) {
      try { process.kill(p.pid, 'SIGKILL'); } catch (e) { /* already gone */ }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

/* The environment for our children: no inherited SWB_* setting may change
 * what a test asked for. */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWB_')) env[k] = v;
  return { ...env, ...extra };
}

/* One child process with its own log file. */
class Proc {
  constructor(name, cmd, args, logPath, env, { checked = false } = {}) {
    this.name = name;
    this.checked = checked; /* ours: its log and exit code are checked for reports */
    this.cmd = cmd;
    this.args = args;
    this.logPath = logPath;
    this.env = env;
    this.child = null;
    this.exit = null; /* {code, signal} once exited */
  }

  start() {
    hookExit();
    const [cmd, args] = this.checked && VALGRIND
      ? [VALGRIND_ARGV[0], [...VALGRIND_ARGV.slice(1), this.cmd, ...this.args]] : [this.cmd, this.args];
    const fd = fs.openSync(this.logPath, 'a');
    fs.writeSync(fd, `==== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    this.exit = null;
    this.child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: childEnv(this.env) });
    fs.closeSync(fd);
    this.pid = this.child.pid;
    const child = this.child;
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        if (this.child === child) this.exit = { code, signal };
        resolve({ code, signal });
      });
      child.on('error', (e) => {
        live.delete(child);
        if (this.child === child) this.exit = { code: null, signal: null, error: e };
        resolve(this.exit);
      });
    });
    return this;
  }

  get alive() { return this.child !== null && this.exit === null; }

  /* SIGTERM, wait up to `timeout` ms, then SIGKILL and wait again. */
  async stop({ timeout = 5000 } = {}) {
    if (!this.alive) return this.exit;
    timeout *= SLOW;
    this.child.kill('SIGTERM');
    let timer;
    const t = new Promise((r) => { timer = setTimeout(r, timeout, 'timeout'); });
    const first = await Promise.race([this.exited, t]);
    clearTimeout(timer); /* else it holds the test process for `timeout` ms */
    if (first === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return this.exit;
  }

  async kill9() {
    if (!this.alive) return this.exit;
    this.child.kill('SIGKILL');
    return this.exited;
  }

  logTail(lines) { return tail(this.logPath, lines); }

  /* For a checked process that has exited: a sanitizer / valgrind report
   * in its log or a report exit code, as a message; null when clean. */
  report() {
    if (!this.checked) return null;
    let text = '';
    try { text = fs.readFileSync(this.logPath, 'utf8'); } catch (e) { /* no log, no report */ }
    const m = REPORT_RE.exec(text);
    const code = this.exit && this.exit.code;
    if (!m && !REPORT_EXIT_CODES.has(code)) return null;
    const from = m ? Math.max(0, text.lastIndexOf('\n', m.index)) : Math.max(0, text.length - 4000);
    return `${this.name} (pid ${this.pid}) exited ${JSON.stringify(this.exit)} with a memory/UB report `
      + `(log ${this.logPath}):\n${text.slice(from, from + 6000)}`;
  }
}

class Cluster {
  /* name: used for the temp dir. opts.ownRedis: always start a private
   * redis-server (needed to restart it), even when SWB_TEST_REDIS_URL is set. */
  constructor(name, { ownRedis = false } = {}) {
    this.name = name;
    this.uid = crypto.randomBytes(3).toString('hex');
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `swb-${name}-`));
    this.prefix = `swbt-${this.uid}`;
    this.ownRedis = ownRedis || !process.env.SWB_TEST_REDIS_URL;
    this.redisUrl = null;
    this.redisProc = null;
    this.redisPort = null;
    this.app = { id: 'app1', key: 'key-app1', secret: 'secret-app1' };
    this.apps = [this.app];
    this.procs = [];
    this.hosts = {};
    this.edges = [];
    this.clients = [];
    this.failed = false;
    this.stopped = false;
  }

  /* ---- redis ---- */

  async startRedis() {
    if (!this.ownRedis) {
      this.redisUrl = process.env.SWB_TEST_REDIS_URL;
      await waitFor(() => this.redis('PING'), { timeout: 5000, what: `external redis ${this.redisUrl}` });
      return this.redisUrl;
    }
    if (!this.redisPort) this.redisPort = await freePort();
    const dir = path.join(this.tmp, 'redis');
    fs.mkdirSync(dir, { recursive: true });
    const args = ['--port', String(this.redisPort), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
    const redisBin = process.env.SWB_REDIS_SERVER || 'redis-server';
    if (!this.redisProc) {
      this.redisProc = new Proc('redis', redisBin, args, path.join(this.tmp, 'redis.log'));
      this.procs.push(this.redisProc);
    }
    this.redisUrl = `redis://127.0.0.1:${this.redisPort}`;
    /* The port may still be held for a moment after a restart: retry. */
    await waitFor(async () => {
      const ex = this.redisProc.exit;
      if (ex && ex.error) throw new GiveUp(`cannot start ${redisBin}: ${ex.error.message}`);
      if (!this.redisProc.alive) this.redisProc.start();
      return (await this.redis('PING')) === 'PONG';
    }, { timeout: 10000, interval: 50, what: `redis-server on port ${this.redisPort}` });
    return this.redisUrl;
  }

  /* kill -9 redis-server, then start it again on the same port. */
  async restartRedis() {
    if (!this.redisProc) throw new Error('restartRedis needs a redis-server started by this cluster');
    await this.redisProc.kill9();
    return this.startRedis();
  }

  async stopRedis() {
    if (this.redisProc) await this.redisProc.kill9();
  }

  redis(...args) { return redisCommand(this.redisUrl, args); }

  /* Redis pub/sub channel name for a Pusher channel (docs/internal-contracts.md). */
  redisChannel(channel, app = this.app) { return `${this.prefix}:${app.id}:ch:${channel}`; }

  /* This cluster's channels in PUBSUB CHANNELS. */
  async pubsubChannels() { return this.redis('PUBSUB', 'CHANNELS', `${this.prefix}:*`); }

  /* Number of Redis subscribers (= bridges) of a Pusher channel. */
  async numsub(channel, app = this.app) {
    const r = await this.redis('PUBSUB', 'NUMSUB', this.redisChannel(channel, app));
    return Number(r[1]);
  }

  /* Waits until exactly n bridges are subscribed to the channel on Redis. */
  waitNumsub(channel, n, { timeout = 10000, app } = {}) {
    return waitFor(async () => (await this.numsub(channel, app)) === n,
      { timeout, what: `PUBSUB NUMSUB ${channel} == ${n}` });
  }

  /* The number of channel subscriptions on a bridge's -sub connection
   * (a CLIENT LIST entry): its `sub` count minus the PREFIX:ctl channel
   * every connected bridge SUBSCRIBEs for cluster commands such as
   * terminate_connections (docs/cluster-state.md). */
  channelSubs(entry) { return Number(entry.sub) - Cluster.CONTROL_SUBSCRIPTIONS; }

  /* CLIENT LIST entries named by a host's bridge (swb-HOSTID-cmd, -sub, or
   * any other swb-HOSTID-* it might open). */
  async bridgeConnections(host) {
    const all = await clientList(this.redisUrl);
    return all.filter((c) => (c.name || '').startsWith(`swb-${host.hostId}-`));
  }

  /* ---- hosts and bridges ---- */

  async addHost(label, { bridge = true, bridgeArgs = [], redis } = {}) {
    const dir = path.join(this.tmp, label);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const host = { label, hostId: `${label}-${this.uid}`, dir, bridge: null, bridgeArgs, redis };
    this.hosts[label] = host;
    if (bridge) await this.startBridge(host);
    return host;
  }

  bridgeArgv(host) {
    return ['--runtime-dir', host.dir, '--redis', host.redis || this.redisUrl,
      '--host-id', host.hostId, '--redis-prefix', this.prefix, ...host.bridgeArgs];
  }

  /* Starts (or restarts) the host's bridge and waits until swbctl status
   * answers and, with Redis, says connected. */
  async startBridge(host, { waitRedis = true } = {}) {
    if (!host.bridge) {
      host.bridge = new Proc(`bridge-${host.label}`, bin('swb-bridge'), this.bridgeArgv(host),
        path.join(this.tmp, `bridge-${host.label}.log`), undefined, { checked: true });
      this.procs.push(host.bridge);
    }
    host.bridge.start();
    await this.waitBridgeReady(host, { waitRedis });
    return host.bridge;
  }

  async waitBridgeReady(host, { waitRedis = true, timeout = 10000 } = {}) {
    await waitFor(async () => {
      if (!host.bridge.alive) {
        throw new GiveUp(`swb-bridge exited ${JSON.stringify(host.bridge.exit)}:\n${host.bridge.logTail(20)}`);
      }
      const st = await this.status(host);
      if (!st.ok) return false;
      return !waitRedis || (host.redis === 'none') || (st.redis && st.redis.state === 'connected');
    }, { timeout, what: `bridge ${host.hostId} ready` });
  }

  async kill9Bridge(host) { return host.bridge.kill9(); }

  /* kill -9 (default) or SIGTERM the bridge, then start it again. */
  async restartBridge(host, { kill9 = true } = {}) {
    if (kill9) await host.bridge.kill9(); else await host.bridge.stop();
    return this.startBridge(host);
  }

  /* ---- edges ---- */

  appArgs(apps = this.apps) {
    return apps.flatMap((a) => ['--app', `${a.id}:${a.key}:${a.secret}`]);
  }

  /* Writes a JSON apps file (issue #3 format) and returns its path. Each
   * app: {id, key, secret} plus any of enabled, client_events,
   * client_event_rate, max_connections, presence_max_members, webhooks
   * ([{url, events}]); missing settings get Pusher's defaults. */
  writeAppsFile(apps, name = 'apps.json') {
    const full = apps.map((a) => ({
      enabled: true, client_events: true, client_event_rate: 10, max_connections: 0,
      presence_max_members: 100, webhooks: [], ...a,
    }));
    const file = path.join(this.tmp, name);
    fs.writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
    return file;
  }

  /* Starts an edge of `host` on a free port and waits for GET /readyz == 200
   * (unless waitReady is false: then for any HTTP answer on /healthz). */
  /* With appsFile (a path from writeAppsFile) the edge gets --apps-file
   * instead of --app flags; pass the same apps as `apps` for bookkeeping. */
  /* With port, the edge listens there (e.g. a second --reuseport edge on a
   * port another edge holds) and is not retried on another port. */
  async addEdge(host, { args = [], apps, appsFile, waitReady = true, port: fixedPort } = {}) {
    const n = this.edges.length + 1;
    let lastErr;
    for (let attempt = 0; attempt < (fixedPort ? 1 : 3); attempt++) {
      const port = fixedPort || await freePort();
      const appArgv = appsFile ? ['--apps-file', appsFile] : this.appArgs(apps);
      const argv = ['--runtime-dir', host.dir, '--listen', `127.0.0.1:${port}`, ...appArgv, ...args];
      const proc = new Proc(`edge${n}-${host.label}`, bin('swb-edge'), argv,
        path.join(this.tmp, `edge${n}-${host.label}.log`), undefined, { checked: true });
      this.procs.push(proc);
      proc.start();
      const edge = { host, port, proc, name: proc.name, apps: apps || this.apps };
      try {
        await this.waitEdgeReady(edge, { waitReady });
        this.edges.push(edge);
        return edge;
      } catch (e) {
        lastErr = e;
        await proc.stop();
        if (!(e instanceof GiveUp)) break; /* a port clash makes it exit; anything else is real */
        this.procs.splice(this.procs.indexOf(proc), 1);
        fs.renameSync(proc.logPath, `${proc.logPath}.failed-${attempt}`);
      }
    }
    throw lastErr;
  }

  async kill9Edge(edge) { return edge.proc.kill9(); }

  waitEdgeReady(edge, { waitReady = true, timeout = 10000 } = {}) {
    const p = waitReady ? '/readyz' : '/healthz';
    return waitFor(async () => {
      if (!edge.proc.alive) {
        throw new GiveUp(`swb-edge exited ${JSON.stringify(edge.proc.exit)}:\n${edge.proc.logTail(20)}`);
      }
      const r = await api.get(edge.port, p);
      return waitReady ? r.status === 200 : true;
    }, { timeout, what: `edge :${edge.port} ${p}` });
  }

  /* ---- clients and publishing ---- */

  wsUrl(edge, { key = this.app.key, query = 'protocol=7&client=js&version=8.6.0&flash=false', path: p } = {}) {
    const pathPart = p !== undefined ? p : `/app/${key}`;
    return `ws://127.0.0.1:${edge.port}${pathPart}${query ? `?${query}` : ''}`;
  }

  /* A connected PusherClient, closed in stop(). Extra opts go to PusherClient.connect. */
  async connect(edge, opts = {}) {
    const { key, query, path: p, ...rest } = opts;
    const url = this.wsUrl(edge, { key, query, path: p });
    const pending = PusherClient.connect(url, { name: opts.name || `${edge.name}-client`, ...rest });
    const c = await pending;
    this.clients.push(c);
    return c;
  }

  /* Track a client created elsewhere (pusher-js, RawWs) for cleanup. */
  track(closeable) { this.clients.push(closeable); return closeable; }

  rawWs(edge, pathAndQuery) {
    return this.track(new RawWs(edge.port, pathAndQuery || `/app/${this.app.key}?protocol=7`));
  }

  publish(edge, body, app = this.app) { return api.publish(edge.port, app, body); }
  publishBatch(edge, batch, app = this.app) { return api.publishBatch(edge.port, app, batch); }
  request(edge, opts) { return api.request({ port: edge.port, app: this.app, ...opts }); }

  /* ---- swbctl ---- */

  /* Runs swbctl; resolves {code, stdout, stderr, ms}. Never rejects on a
   * non-zero exit. */
  swbctl(args, { timeout = 10000 } = {}) {
    timeout *= SLOW;
    const t0 = Date.now();
    return new Promise((resolve) => {
      execFile(bin('swbctl'), args, { timeout, env: childEnv() }, (err, stdout, stderr) => {
        let code = 0;
        if (err) code = typeof err.code === 'number' ? err.code : (err.killed ? 'timeout' : String(err.code));
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      });
    });
  }

  /* `swbctl --runtime-dir DIR --json status`, parsed. */
  async status(host) {
    const r = await this.swbctl(['--runtime-dir', host.dir, '--json', 'status'], { timeout: 5000 });
    if (r.code !== 0) throw new Error(`swbctl status exited ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }

  /* ---- failures and cleanup ---- */

  logTails(lines = 40) {
    let out = `\n==== ${this.name}: logs in ${this.tmp}\n`;
    for (const p of this.procs) {
      out += `---- ${p.name} (pid ${p.pid}, ${p.alive ? 'running' : `exited ${JSON.stringify(p.exit)}`}) ${p.logPath}\n`;
      out += `${p.logTail(lines)}\n`;
    }
    return out;
  }

  /* test() that prints the logs' tails when the test fails. */
  test(name, opts, fn) {
    if (typeof opts === 'function') { fn = opts; opts = {}; }
    return test(name, opts, async (t) => {
      try {
        await fn(t);
      } catch (e) {
        this.failed = true;
        process.stderr.write(`\n#### ${name} failed: ${e && e.stack}\n${this.logTails()}\n`);
        throw e;
      }
    });
  }

  async stop() {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.clients.map(async (c) => {
      try {
        if (c instanceof PusherClient) await c.close({ timeout: 2000 });
        else if (typeof c.destroy === 'function') c.destroy();
        else if (typeof c.disconnect === 'function') c.disconnect();
      } catch (e) { /* best effort */ }
    }));
    /* Edges first, then bridges, then redis. */
    const order = (p) => (p.name.startsWith('edge') ? 0 : p.name.startsWith('bridge') ? 1 : 2);
    const procs = [...this.procs].sort((a, b) => order(a) - order(b));
    for (const o of [0, 1, 2]) {
      await Promise.all(procs.filter((p) => order(p) === o).map((p) => p.stop()));
    }
    const reports = procs.map((p) => p.report()).filter(Boolean);
    if (reports.length) this.failed = true;
    if (!this.failed && !process.env.SWB_TEST_KEEP) {
      fs.rmSync(this.tmp, { recursive: true, force: true });
    } else {
      process.stderr.write(`# ${this.name}: logs kept in ${this.tmp}\n`);
    }
    if (reports.length) throw new Error(`${this.name}: ${reports.join('\n')}`);
  }
}

/* Non-channel SUBSCRIBEs of every bridge's -sub connection: PREFIX:ctl. */
Cluster.CONTROL_SUBSCRIPTIONS = 1;

module.exports = {
  Cluster, Proc, BIN_DIR, bin, freePort, uniqueId, waitFor,
  PusherClient, RawWs, api, redisCommand, clientList,
};
