'use strict';
/* The edge's Pusher protocol basics (pusher-protocol.md §1, §2):
 * connection_established format, ping/pong, fatal close codes, bad input
 * answered with pusher:error while the connection stays usable, oversized
 * frames, and the server-side liveness check (close 4201). */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, PusherClient, uniqueId, waitFor, api } = require('../lib/cluster');
const { waitDeliveryWorks } = require('../lib/deliveries');

const c = new Cluster('edge_protocol');
let edge;
let quick; /* an edge that pings quiet clients after 1 s and gives them 1 s */

before(async () => {
  await c.startRedis();
  const a = await c.addHost('a');
  edge = await c.addEdge(a);
  quick = await c.addEdge(a, { args: ['--activity-timeout', '1', '--pong-timeout', '1'] });
});

after(() => c.stop());

/* Opens a connection that is expected to be refused; returns the client
 * once closed. */
async function refused(url, name) {
  const cl = c.track(await PusherClient.connect(url, { name, expectEstablished: false }));
  await cl.waitClose();
  return cl;
}

c.test('connection_established: first frame, data is a JSON string with socket_id and activity_timeout', async () => {
  const cl = await c.connect(edge, { name: 'hello' });
  const first = cl.messages[0];
  assert.equal(first.event, 'pusher:connection_established', `first frame: ${cl.raw[0]}`);
  assert.equal(typeof first.data, 'string', 'data must be a string (double-encoded JSON)');
  const d = JSON.parse(first.data);
  assert.match(d.socket_id, /^\d+\.\d+$/);
  assert.equal(typeof d.activity_timeout, 'number');
  assert.ok(d.activity_timeout > 0, 'activity_timeout must be > 0');
  const other = await c.connect(edge, { name: 'hello2' });
  assert.notEqual(other.socketId, cl.socketId, 'socket ids are unique');
  const q = await c.connect(quick, { name: 'hello-quick' });
  assert.equal(q.activityTimeout, 1, '--activity-timeout is what the client is told');
});

c.test('/healthz, /readyz and /metrics answer', async () => {
  const h = await api.get(edge.port, '/healthz');
  assert.equal(h.status, 200, h.text);
  const r = await api.get(edge.port, '/readyz');
  assert.equal(r.status, 200, `readyz with the bridge up: ${r.text}`);
  const m = await api.get(edge.port, '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /^swb_edge_connections \d+$/m, 'a Prometheus gauge of connections');
});

c.test('pusher:ping is answered with pusher:pong', async () => {
  const cl = await c.connect(edge, { name: 'ping' });
  const pong = await cl.ping();
  assert.equal(pong.event, 'pusher:pong');
  /* Also with data as a string, or without data. */
  let from = cl.messages.length;
  cl.send('{"event":"pusher:ping","data":"{}"}');
  await cl.waitMessage((m) => m.event === 'pusher:pong', { from });
  from = cl.messages.length;
  cl.send('{"event":"pusher:ping"}');
  await cl.waitMessage((m) => m.event === 'pusher:pong', { from });
});

c.test('unknown app key: pusher:error 4001, then close 4001', async () => {
  const cl = await refused(c.wsUrl(edge, { key: 'no-such-key' }), 'badkey');
  assert.equal(cl.closeInfo.code, 4001, `close code ${JSON.stringify(cl.closeInfo)}`);
  const err = cl.messages[0];
  assert.ok(err && err.event === 'pusher:error', `first frame should be pusher:error: ${cl.raw[0]}`);
  assert.equal(err.data.code, 4001);
  assert.equal(cl.find((m) => m.event === 'pusher:connection_established'), undefined);
});

c.test('unsupported protocol version: close 4007', async () => {
  const cl = await refused(c.wsUrl(edge, { query: 'protocol=99&client=js' }), 'proto99');
  assert.equal(cl.closeInfo.code, 4007, JSON.stringify(cl.closeInfo));
});

c.test('protocol versions 5, 6 and 7 are accepted', async () => {
  for (const v of [5, 6, 7]) await c.connect(edge, { name: `proto${v}`, query: `protocol=${v}` });
});

c.test('missing protocol version: close 4008', async () => {
  const cl = await refused(c.wsUrl(edge, { query: 'client=js&version=1' }), 'noproto');
  assert.equal(cl.closeInfo.code, 4008, JSON.stringify(cl.closeInfo));
});

c.test('bad path: close 4005', async () => {
  const cl = await refused(c.wsUrl(edge, { path: '/nope/key-app1' }), 'badpath');
  assert.equal(cl.closeInfo.code, 4005, JSON.stringify(cl.closeInfo));
});

c.test('invalid channel name: pusher:error, connection stays usable', async () => {
  const cl = await c.connect(edge, { name: 'badchan' });
  for (const bad of ['has space', 'bad!char', 'x'.repeat(165), '']) {
    await assert.rejects(cl.subscribe(bad), /failed/, `subscribe ${JSON.stringify(bad)} should fail`);
  }
  await cl.ping();
  const ok = uniqueId('good');
  await cl.subscribe(ok);
  await waitDeliveryWorks((body) => c.publish(edge, body), ok, [cl]);
  assert.equal(cl.closeInfo, null);
});

c.test('malformed JSON and wrong shapes: pusher:error, connection stays usable', async () => {
  const cl = await c.connect(edge, { name: 'badjson' });
  for (const junk of ['{not json', '[]', '"str"', '{"event":42}', '{"event":"pusher:subscribe","data":42}', '{}']) {
    const from = cl.messages.length;
    cl.send(junk);
    await cl.waitMessage((m) => m.event === 'pusher:error', { from, what: `pusher:error for ${junk}` });
  }
  const ch = uniqueId('after-junk');
  await cl.subscribe(ch);
  await waitDeliveryWorks((body) => c.publish(edge, body), ch, [cl]);
  assert.equal(cl.closeInfo, null);
});

c.test('more than the per-connection subscription cap: pusher:error, earlier subscriptions keep working', async () => {
  const cl = await c.connect(edge, { name: 'cap' });
  const chans = [];
  let refusedAt = null;
  for (let i = 0; i < 101 && refusedAt === null; i++) {
    const ch = uniqueId(`cap${i}`);
    try {
      await cl.subscribe(ch);
      chans.push(ch);
    } catch (e) {
      refusedAt = i;
    }
  }
  assert.ok(refusedAt !== null && refusedAt >= 100, `cap should be at least 100 subscriptions (refused at ${refusedAt})`);
  await waitDeliveryWorks((body) => c.publish(edge, body), chans[0], [cl]);
});

c.test('oversized WebSocket message: close 1009', async () => {
  const cl = await c.connect(edge, { name: 'big' });
  cl.send(JSON.stringify({ event: 'client-big', channel: 'x', data: 'x'.repeat(4 * 1024 * 1024) }));
  await cl.waitClose();
  assert.equal(cl.closeInfo.code, 1009, JSON.stringify(cl.closeInfo));
  /* Others are unaffected. */
  await c.connect(edge, { name: 'after-big' }).then((x) => x.ping());
});

c.test('a client that does not answer server pings is closed with 4201; one that answers stays', async () => {
  /* ws answers ping frames by itself; PusherClient answers pusher:ping. */
  const good = await c.connect(quick, { name: 'answers-pings' });
  const raw = c.rawWs(quick, `/app/${c.app.key}?protocol=7`);
  await raw.open();
  await waitFor(() => raw.closeCode !== null || raw.ended, { timeout: 15000, what: 'server closes the silent client' });
  assert.equal(raw.closeCode, 4201, `close code ${raw.closeCode} (frames: ${raw.frames.map((f) => f.opcode)})`);
  assert.ok(raw.frames.some((f) => f.opcode === 9) || raw.texts().some((m) => m.event === 'pusher:ping'),
    'the server pinged before closing');
  assert.equal(good.closeInfo, null, `the client that answers was closed too: ${JSON.stringify(good.closeInfo)}`);
  await good.ping();
});
