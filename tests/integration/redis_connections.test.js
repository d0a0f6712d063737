'use strict';
/* Issue #2: CLIENT LIST shows exactly 2 connections per bridge (named
 * swb-HOSTID-cmd and swb-HOSTID-sub) with 2 and with 20 edges on the host,
 * and with 1 and with 1,000 channels subscribed. Uses its own redis-server
 * so that it can also count every connection Redis has, named or not. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, clientList, waitFor } = require('../lib/cluster');
const { TEST_CLIENT_NAME } = require('../lib/resp');

const c = new Cluster('redis_connections', { ownRedis: true });
let a;
let b;
const clients = [];

before(async () => {
  await c.startRedis();
  a = await c.addHost('a');
  b = await c.addHost('b');
  await c.addEdge(a);
  await c.addEdge(a);
  await c.addEdge(b);
});

after(() => c.stop());

/* Exactly {swb-ID-cmd, swb-ID-sub} for each bridge, and nothing else in
 * Redis but the harness's own one-shot connections (named TEST_CLIENT_NAME;
 * one that just closed may still be listed). */
async function assertTwoPerBridge(what) {
  const list = (await clientList(c.redisUrl)).filter((x) => x.name !== TEST_CLIENT_NAME);
  const names = list.map((x) => x.name || '(unnamed)').sort();
  const want = [a, b].flatMap((h) => [`swb-${h.hostId}-cmd`, `swb-${h.hostId}-sub`]).sort();
  const others = list.filter((x) => !want.includes(x.name));
  assert.equal(others.length, 0, `${what}: unexpected Redis connections: ${JSON.stringify(others.map((x) => [x.name, x.cmd, x.addr]))}`);
  assert.equal(list.length, 4, `${what}: ${JSON.stringify(names)}`);
  assert.deepEqual(names.filter((n) => want.includes(n)), want, `${what}: per-bridge connections ${JSON.stringify(names)}`);
  for (const h of [a, b]) {
    const mine = await c.bridgeConnections(h);
    assert.equal(mine.length, 2, `${what}: bridge ${h.hostId} has ${mine.length} connections`);
  }
  return list;
}

c.test('2 connections per bridge with 2 edges on host A and 1 channel', async () => {
  const e = c.edges[0];
  const ch = uniqueId('one');
  const cl = await c.connect(e, { name: 'one' });
  clients.push(cl);
  await cl.subscribe(ch);
  await c.waitNumsub(ch, 1);
  const list = await assertTwoPerBridge('2 edges, 1 channel');
  const sub = list.find((x) => x.name === `swb-${a.hostId}-sub`);
  assert.equal(c.channelSubs(sub), 1, `host A's subscribe connection should hold 1 channel subscription (besides PREFIX:ctl): ${JSON.stringify(sub)}`);
  const cmd = list.find((x) => x.name === `swb-${a.hostId}-cmd`);
  assert.equal(Number(cmd.sub), 0, 'the command connection subscribes to nothing');
});

c.test('still 2 per bridge with 20 edges on host A', async () => {
  const more = [];
  for (let i = c.edges.filter((e) => e.host === a).length; i < 20; i++) more.push(c.addEdge(a));
  await Promise.all(more);
  const onA = c.edges.filter((e) => e.host === a);
  assert.equal(onA.length, 20);
  await waitFor(async () => (await c.status(a)).edges.length === 20,
    { timeout: 15000, what: 'swbctl status lists 20 edges on host A' });
  await assertTwoPerBridge('20 edges');
});

c.test('still 2 per bridge with 1,000 channels (1,000 clients spread over the 21 edges)', async () => {
  const channels = [];
  const jobs = [];
  for (let i = 0; i < 1000; i++) {
    const e = c.edges[i % c.edges.length];
    const ch = uniqueId(`many${i}`);
    channels.push(ch);
    jobs.push(async () => {
      const cl = await c.connect(e, { name: `many${i}` });
      clients.push(cl);
      await cl.subscribe(ch);
    });
  }
  /* 50 at a time. */
  for (let i = 0; i < jobs.length; i += 50) await Promise.all(jobs.slice(i, i + 50).map((j) => j()));
  const want = new Set(channels.map((ch) => c.redisChannel(ch)));
  await waitFor(async () => {
    const have = await c.pubsubChannels();
    return have.filter((x) => want.has(x)).length === want.size;
  }, { timeout: 20000, what: 'all 1,000 channels in PUBSUB CHANNELS' });
  const list = await assertTwoPerBridge('1,000 channels');
  const subA = c.channelSubs(list.find((x) => x.name === `swb-${a.hostId}-sub`));
  const subB = c.channelSubs(list.find((x) => x.name === `swb-${b.hostId}-sub`));
  /* Edges on A get 20/21 of the channels, B the rest; the first test's channel is on A. */
  const onB = channels.filter((_, i) => c.edges[i % c.edges.length].host === b).length;
  assert.equal(subB, onB, 'host B subscribes exactly to its own clients\' channels');
  assert.equal(subA, 1000 - onB + 1, 'host A subscribes exactly to its own clients\' channels');
});
