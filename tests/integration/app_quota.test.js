'use strict';
/* max_connections is a cluster-wide limit per app: two hosts (one edge
 * each), an app with max_connections 3; 2 clients on host A and 1 on host
 * B are accepted; once the bridges' totals have propagated (swbctl status
 * shows 3 cluster-wide on both hosts), a 4th connection on either host is
 * refused with 4004, although neither edge holds 3 itself (a per-edge
 * limit would accept it); after one client leaves, a new one is accepted
 * again (bounded wait: the totals are eventually consistent, ~1-2 s).
 * With --redis none the limit counts the host's edges together. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, waitFor } = require('../lib/cluster');

const c = new Cluster('app_quota');
const appQ = { id: 'appq', key: 'key-appq', secret: 'secret-appq' };
const apps = [c.app, appQ];
let hostA;
let hostB;
let edgeA;
let edgeB;
let solo;
let soloE1;
let soloE2;

before(async () => {
  const file = c.writeAppsFile([{ ...c.app }, { ...appQ, max_connections: 3 }]);
  await c.startRedis();
  hostA = await c.addHost('a');
  hostB = await c.addHost('b');
  edgeA = await c.addEdge(hostA, { appsFile: file, apps });
  edgeB = await c.addEdge(hostB, { appsFile: file, apps });
  solo = await c.addHost('solo', { redis: 'none' });
  soloE1 = await c.addEdge(solo, { appsFile: file, apps });
  soloE2 = await c.addEdge(solo, { appsFile: file, apps });
});

after(() => c.stop());

async function clusterCount(host) {
  const st = await c.status(host);
  const a = st.cluster && st.cluster.app_connections && st.cluster.app_connections[appQ.id];
  return a ? a.cluster : -1;
}

function waitClusterCount(n) {
  return waitFor(async () => (await clusterCount(hostA)) === n && (await clusterCount(hostB)) === n,
    { what: `both bridges report ${n} ${appQ.id} connections cluster-wide`, timeout: 10000, interval: 100 });
}

async function expectRefused(edge, name) {
  const cl = await c.connect(edge, { name, key: appQ.key, expectEstablished: false });
  await cl.waitClose();
  assert.equal(cl.closeInfo.code, 4004, `${name}: close ${JSON.stringify(cl.closeInfo)} frames ${JSON.stringify(cl.messages)}`);
  assert.equal(cl.find((m) => m.event === 'pusher:connection_established'), undefined, `${name} was established`);
  const err = cl.find((m) => m.event === 'pusher:error');
  assert.ok(err, `${name}: no pusher:error`);
}

c.test('max_connections counts every host: the 4th connection is refused 4004 on either host; a slot frees when one leaves', async () => {
  const a1 = await c.connect(edgeA, { name: 'a1', key: appQ.key });
  await c.connect(edgeA, { name: 'a2', key: appQ.key });
  await c.connect(edgeB, { name: 'b1', key: appQ.key });
  await waitClusterCount(3);
  /* Neither edge holds 3 itself: only the cluster-wide count refuses these. */
  await expectRefused(edgeA, 'over-on-A');
  await expectRefused(edgeB, 'over-on-B');
  /* Other apps are not limited. */
  await c.connect(edgeB, { name: 'other-app', key: c.app.key });

  await a1.close();
  await waitFor(async () => {
    const again = await c.connect(edgeB, { name: 'again-on-B', key: appQ.key, expectEstablished: false });
    if (again.find((m) => m.event === 'pusher:connection_established')) return true;
    await again.waitClose();
    assert.equal(again.closeInfo.code, 4004);
    return false;
  }, { what: 'a new appq connection on host B is accepted once one left on host A', timeout: 10000, interval: 200 });
  await waitClusterCount(3);
  await expectRefused(edgeA, 'over-again-on-A');
});

c.test('--redis none: max_connections counts the host\'s edges together', async () => {
  await c.connect(soloE1, { name: 's1', key: appQ.key });
  await c.connect(soloE1, { name: 's2', key: appQ.key });
  const s3 = await c.connect(soloE2, { name: 's3', key: appQ.key });
  await waitFor(async () => (await clusterCount(solo)) === 3,
    { what: 'the solo bridge reports 3 appq connections', timeout: 10000, interval: 100 });
  await expectRefused(soloE1, 'over-on-solo-edge1');
  await s3.close();
  await waitFor(async () => {
    const again = await c.connect(soloE1, { name: 'again-on-solo', key: appQ.key, expectEstablished: false });
    if (again.find((m) => m.event === 'pusher:connection_established')) return true;
    await again.waitClose();
    return false;
  }, { what: 'a new appq connection on the solo host is accepted once one left', timeout: 10000, interval: 200 });
});
