'use strict';
/* Issue #5: logs. One line per event in the chosen format: with
 * --log-format json every line a daemon writes is a JSON object
 * {ts, level, prog, pid, msg}, libwebsockets' own messages included (they
 * are routed through our logger, prefixed "lws: "). At info level nothing
 * is logged per message or per connection: hundreds of deliveries,
 * publishes and refused handshakes add no lines. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { Cluster, Proc, bin, uniqueId, waitFor, PusherClient } = require('../lib/cluster');

const c = new Cluster('logs');
let host;

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
});

after(() => c.stop());

const lines = (p) => fs.readFileSync(p.logPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('==== '));

c.test('--log-format json: every line is JSON, libwebsockets\' errors included', async () => {
  /* A port someone else holds: lws reports the failed bind through our logger. */
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, '127.0.0.1', r));
  c.track({ destroy: () => blocker.close() });
  const port = blocker.address().port;
  const p = new Proc('edge-json', bin('swb-edge'), ['--runtime-dir', host.dir, '--listen', `127.0.0.1:${port}`,
    ...c.appArgs(), '--log-format', 'json'], path.join(c.tmp, 'edge-json.log'));
  c.procs.push(p);
  p.start();
  const exit = await waitFor(() => p.exit, { what: 'the edge to give up on a taken port' });
  assert.notEqual(exit.code, 0);
  const parsed = lines(p).map((l) => JSON.parse(l));
  assert.ok(parsed.length > 0);
  for (const o of parsed) {
    assert.deepEqual(Object.keys(o), ['ts', 'level', 'prog', 'pid', 'msg']);
    assert.equal(o.prog, 'swb-edge');
    assert.match(o.level, /^(error|warn|info|debug)$/);
  }
  assert.ok(parsed.some((o) => o.level === 'error' && o.msg.startsWith('lws: ')),
    `an lws error routed into our log: ${JSON.stringify(parsed)}`);
});

c.test('info level: no line per message, publish or refused handshake', async () => {
  const edge = await c.addEdge(host);
  const ch = uniqueId('quiet');
  const subs = [];
  for (let i = 0; i < 5; i++) {
    const s = await c.connect(edge, { name: `quiet${i}` });
    await s.subscribe(ch);
    subs.push(s);
  }
  const before = lines(edge.proc).length;
  const bridgeBefore = lines(host.bridge).length;
  const N = 200;
  for (let i = 0; i < N; i++) await c.publish(edge, { name: 'e', channel: ch, data: { i } });
  await waitFor(() => subs.every((s) => s.events({ event: 'e' }).length === N), { what: 'every delivery' });
  for (let i = 0; i < 20; i++) {
    const bad = c.track(await PusherClient.connect(c.wsUrl(edge, { key: 'no-such-key' }), { expectEstablished: false }));
    await bad.waitClose();
  }
  const added = lines(edge.proc).slice(before);
  const bridgeAdded = lines(host.bridge).slice(bridgeBefore);
  /* 1,000 deliveries, 200 publishes and 20 refusals: at most a handful of lines (none expected). */
  assert.ok(added.length < 5, `edge logged ${added.length} lines:\n${added.join('\n')}`);
  assert.ok(bridgeAdded.length < 5, `bridge logged ${bridgeAdded.length} lines:\n${bridgeAdded.join('\n')}`);
});
