'use strict';
/* Issue #5: configuration. Every daemon reads `--config FILE` (env
 * SWB_CONFIG; INI, keys = long flag names), with the precedence flag >
 * env > file > default, shown from outside by --check-config, which prints
 * the effective configuration with each value's source and exits 0
 * ("config ok"), or exits 2 with a message naming the file, line and key.
 * An edge configured only through a file serves; the annotated examples
 * in deploy/ are valid. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { Cluster, bin, Proc, waitFor, api, freePort } = require('../lib/cluster');

const c = new Cluster('config');
const root = path.join(__dirname, '..', '..');

before(async () => { await c.startRedis(); });
after(() => c.stop());

/* Runs a binary with exactly these SWB_* variables; never rejects. */
function run(name, args, env = {}) {
  const clean = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWB_')) clean[k] = v;
  return new Promise((resolve) => {
    execFile(bin(name), args, { env: { ...clean, ...env }, timeout: 10000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

function conf(name, text) {
  const p = path.join(c.tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

/* "key = value    # source" lines of a --check-config dump. */
function effective(stdout, key) {
  const m = stdout.match(new RegExp(`^${key} = (.*?)    # (.*)$`, 'm'));
  return m ? { value: m[1], from: m[2] } : null;
}

c.test('precedence: flag > env > file > default, as --check-config shows', async () => {
  const file = conf('prec.conf', '# precedence\nmax-queue = 2000\ndrain-rate = 7\napp = app1:key-app1:secret-app1\n');
  const flag = await run('swb-edge', ['--config', file, '--check-config', '--max-queue', '4000'], { SWB_MAX_QUEUE: '3000' });
  assert.equal(flag.code, 0, flag.stderr);
  assert.match(flag.stdout, /^config ok/m);
  assert.deepEqual(effective(flag.stdout, 'max-queue'), { value: '4000', from: '--max-queue' });

  const env = await run('swb-edge', ['--check-config'], { SWB_CONFIG: file, SWB_MAX_QUEUE: '3000' });
  assert.equal(env.code, 0, env.stderr);
  assert.deepEqual(effective(env.stdout, 'max-queue'), { value: '3000', from: 'SWB_MAX_QUEUE' });

  const fromFile = await run('swb-edge', ['--config', file, '--check-config']);
  assert.deepEqual(effective(fromFile.stdout, 'max-queue'), { value: '2000', from: `${file}:2` });
  assert.deepEqual(effective(fromFile.stdout, 'drain-rate'), { value: '7', from: `${file}:3` });
  /* secrets never appear in the dump */
  assert.deepEqual(effective(fromFile.stdout, 'app'), { value: 'app1:key-app1:***', from: `${file}:4` });
  assert.ok(!fromFile.stdout.includes('secret-app1'));

  const def = await run('swb-edge', ['--check-config', '--app', 'a:b:c']);
  assert.deepEqual(effective(def.stdout, 'max-queue'), { value: '1048576', from: 'default' });

  const bridge = await run('swb-bridge', ['--check-config', '--config',
    conf('bridge-prec.conf', 'heartbeat = 2\n[swb-edge]\nmax-queue = 1\n[swb-bridge]\nredis = none\n')], { SWB_HEARTBEAT: '3' });
  assert.equal(bridge.code, 0, bridge.stderr);
  assert.deepEqual(effective(bridge.stdout, 'heartbeat'), { value: '3', from: 'SWB_HEARTBEAT' });
  assert.equal(effective(bridge.stdout, 'redis').value, 'none', 'its own [swb-bridge] section applies');
});

c.test('--check-config on bad files: exit 2 naming the file, line and key', async () => {
  const cases = [
    ['unknown.conf', 'app = a:b:c\nno-such-flag = 1\n', /unknown.conf:2: unknown key 'no-such-flag'/],
    ['badint.conf', 'app = a:b:c\n\nmax-queue = lots\n', /invalid value 'lots' for key 'max-queue' at .*badint.conf:3/],
    ['syntax.conf', 'app = a:b:c\njust words\n', /syntax.conf:2: syntax error/],
    ['badapp.conf', 'app = ok:app:secret\napp = no-secret-here\n', /invalid app .*expected ID:KEY:SECRET \(app from .*badapp.conf:2\)/],
    ['badlevel.conf', 'app = a:b:c\nlog-level = loud\n', /invalid log-level 'loud' \(from .*badlevel.conf:2\)/],
    ['appsfile.conf', `apps-file = ${path.join(c.tmp, 'missing-apps.json')}\n`, /missing-apps.json/],
  ];
  for (const [name, text, re] of cases) {
    const r = await run('swb-edge', ['--config', conf(name, text), '--check-config']);
    assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, name);
    assert.doesNotMatch(r.stdout, /config ok/);
  }
  const missing = await run('swb-edge', ['--config', path.join(c.tmp, 'nope.conf'), '--check-config']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read config file '.*nope.conf'/);
  const bridge = await run('swb-bridge', ['--config', conf('bridge-bad.conf', 'redis = none\nlisten = x\n'), '--check-config']);
  assert.equal(bridge.code, 2);
  assert.match(bridge.stderr, /bridge-bad.conf:2: unknown key 'listen'/);
});

c.test('the annotated examples in deploy/ pass --check-config', async () => {
  const apps = conf('example-apps', 'app1:key-app1:secret-app1\n');
  const edge = await run('swb-edge', ['--config', path.join(root, 'deploy', 'switchboard-edge.conf'),
    '--apps-file', apps, '--check-config']);
  assert.equal(edge.code, 0, edge.stderr);
  assert.match(edge.stdout, /^config ok/m);
  const bridge = await run('swb-bridge', ['--config', path.join(root, 'deploy', 'switchboard-bridge.conf'), '--check-config']);
  assert.equal(bridge.code, 0, bridge.stderr);
  assert.match(bridge.stdout, /^config ok/m);
});

c.test('daemons configured only through files serve', async () => {
  const host = await c.addHost('a', { bridge: false });
  const port = await freePort();
  const bconf = conf('bridge.conf', `runtime-dir = ${host.dir}\nredis = ${c.redisUrl}\nhost-id = ${host.hostId}\nredis-prefix = ${c.prefix}\n`);
  const bridge = new Proc('bridge-conf', bin('swb-bridge'), ['--config', bconf], path.join(c.tmp, 'bridge-conf.log'));
  c.procs.push(bridge);
  bridge.start();
  const econf = conf('edge.conf', `runtime-dir = ${host.dir}\nlisten = 127.0.0.1:${port}\napp = ${c.app.id}:${c.app.key}:${c.app.secret}\n`);
  const edgeProc = new Proc('edge-conf', bin('swb-edge'), [], path.join(c.tmp, 'edge-conf.log'), { SWB_CONFIG: econf });
  c.procs.push(edgeProc);
  edgeProc.start();
  const edge = { port, proc: edgeProc, name: 'edge-conf' };
  await waitFor(async () => (await api.get(port, '/readyz')).status === 200, { what: 'edge from its config file ready' });
  const cl = await c.connect(edge, { name: 'conf-client' });
  await cl.subscribe('conf-ch');
  await c.publish(edge, { name: 'hello', channel: 'conf-ch', data: '{}' });
  await cl.waitMessage((m) => m.event === 'hello');
});
