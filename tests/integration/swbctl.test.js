'use strict';
/* swbctl against a running bridge (human and --json status), against a
 * runtime dir without a bridge, unknown commands; and the common flag
 * behaviour of every binary: --help, --version, bad flag -> exit 2. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { Cluster, bin } = require('../lib/cluster');

const c = new Cluster('swbctl');
let a;

before(async () => {
  await c.startRedis();
  a = await c.addHost('a');
  await c.addEdge(a);
  await c.addEdge(a);
});

after(() => c.stop());

function run(file, args, { timeout = 10000 } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout, env: { PATH: process.env.PATH } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : `killed(${err.signal || err.code})`) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

c.test('swbctl status (human) names the host and its edges', async () => {
  const r = await c.swbctl(['--runtime-dir', a.dir, 'status']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(a.hostId), `host id missing:\n${r.stdout}`);
  for (const e of c.edges) assert.ok(r.stdout.includes(String(e.port)), `edge :${e.port} missing:\n${r.stdout}`);
});

c.test('swbctl --json status parses, 2 edges, redis connected', async () => {
  const r = await c.swbctl(['--runtime-dir', a.dir, '--json', 'status']);
  assert.equal(r.code, 0, r.stderr);
  const st = JSON.parse(r.stdout);
  assert.equal(st.ok, true);
  assert.equal(st.host_id, a.hostId);
  assert.equal(st.edges.length, 2);
  assert.equal(st.redis.state, 'connected');
  assert.equal(st.redis.mode, 'redis');
  assert.ok(Array.isArray(st.channels));
  const listens = st.edges.map((e) => e.listen).sort();
  assert.deepEqual(listens, c.edges.map((e) => `127.0.0.1:${e.port}`).sort());
  for (const e of st.edges) assert.equal(typeof e.connections, 'number');
});

c.test('swbctl against a runtime dir with no bridge: non-zero exit, promptly, with a clear message', async () => {
  const empty = path.join(c.tmp, 'empty');
  fs.mkdirSync(empty);
  const t0 = Date.now();
  const r = await c.swbctl(['--runtime-dir', empty, 'status'], { timeout: 10000 });
  const ms = Date.now() - t0;
  assert.notEqual(r.code, 0);
  assert.notEqual(r.code, 'timeout', `swbctl hung for ${ms} ms`);
  assert.ok(ms < 5000, `swbctl took ${ms} ms to give up (it should say so within 1-2 s)`);
  assert.match(r.stderr, /bridge|connect|control|running/i, `message: ${r.stderr}`);
  assert.ok(r.stderr.includes(empty) || /not running|no bridge|cannot connect|connect/i.test(r.stderr), r.stderr);
});

c.test('swbctl unknown command: exit 2', async () => {
  const r = await c.swbctl(['--runtime-dir', a.dir, 'frobnicate']);
  assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
  assert.ok(r.stderr.trim().length > 0, 'a message on stderr');
});

for (const name of ['swb-edge', 'swb-bridge', 'swbctl']) {
  c.test(`${name}: --help exits 0, --version prints the version, a bad flag exits 2 with a message`, async () => {
    const help = await run(bin(name), ['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /usage/i);
    assert.match(help.stdout, /--runtime-dir/);
    const ver = await run(bin(name), ['--version']);
    assert.equal(ver.code, 0, ver.stderr);
    assert.match(ver.stdout, new RegExp(`${name}.*\\d+\\.\\d+\\.\\d+`));
    const bad = await run(bin(name), ['--no-such-flag']);
    assert.equal(bad.code, 2, `exit ${bad.code}`);
    assert.match(bad.stderr, /no-such-flag/);
    const noval = await run(bin(name), ['--runtime-dir']);
    assert.equal(noval.code, 2, `flag without a value: exit ${noval.code}`);
  });
}

c.test('swb-edge: bad flag values exit 2', async () => {
  for (const args of [['--listen', 'nonsense'], ['--app', 'no-colons'], ['--activity-timeout', 'abc'], ['--max-queue', '-1']]) {
    const r = await run(bin('swb-edge'), ['--runtime-dir', c.tmp, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
  }
});

c.test('swb-bridge: bad --redis url exits 2', async () => {
  const r = await run(bin('swb-bridge'), ['--runtime-dir', path.join(c.tmp, 'x'), '--redis', 'http://nope']);
  assert.equal(r.code, 2, `exit ${r.code} ${r.stderr}`);
});
