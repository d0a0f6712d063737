'use strict';
/* Issue #3 (g): pusher-js's browser build (node_modules/pusher-js/dist/web/
 * pusher.min.js) in headless Chromium (Debian's /usr/bin/chromium driven
 * by playwright-core; no browser download). The test's Node process serves
 * the page, the script and a real /pusher/auth endpoint signed by the
 * `pusher` SDK. The page connects to an edge on host A and subscribes to a
 * presence channel; a Node pusher-js client on host B does too; client
 * events go both ways (with user_id), both see each other as members, and
 * an SDK trigger reaches the page.
 * Skipped ONLY when /usr/bin/chromium is missing (scripts/deps.sh installs
 * it, so in CI it runs). */

const fs = require('node:fs');
const path = require('node:path');
const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cluster, uniqueId, waitFor } = require('../lib/cluster');
const { PjsClient, AppServer, sdk } = require('../lib/backend');

const CHROMIUM = process.env.SWB_CHROMIUM || '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  const msg = `\n${'!'.repeat(78)}\n!! ${CHROMIUM} is missing: the headless-browser compatibility test is SKIPPED.\n` +
    `!! Install it with scripts/deps.sh (Debian package chromium).\n${'!'.repeat(78)}\n`;
  process.stderr.write(msg);
  console.log(`# SKIPPED: ${CHROMIUM} missing`);
}

const c = new Cluster('compat_browser');
const CH = `presence-${uniqueId('browser')}`;
let browser;
let page;
let appServer;
let edgeA;
let edgeB;
let nodeClient;
const pageLog = [];

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>switchboard browser test</title>
<script src="/pusher.min.js"></script></head>
<body><script>
  const cfg = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  window.got = [];
  window.state = { subscribed: false, errors: [], members: [], added: [], removed: [] };
  const pusher = new Pusher(cfg.key, {
    cluster: '', wsHost: '127.0.0.1', wsPort: cfg.wsPort, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: { endpoint: '/pusher/auth', transport: 'ajax' },
  });
  window.pusher = pusher;
  pusher.connection.bind('error', (e) => window.state.errors.push(JSON.stringify(e)));
  const ch = pusher.subscribe(cfg.channel);
  window.ch = ch;
  const members = () => { const ids = []; ch.members.each((m) => ids.push(String(m.id))); return ids.sort(); };
  ch.bind('pusher:subscription_succeeded', () => { window.state.subscribed = true; window.state.members = members(); });
  ch.bind('pusher:subscription_error', (e) => window.state.errors.push(JSON.stringify(e)));
  ch.bind('pusher:member_added', (m) => { window.state.added.push(m.id); window.state.members = members(); });
  ch.bind('pusher:member_removed', (m) => { window.state.removed.push(m.id); window.state.members = members(); });
  ch.bind('client-from-node', (data, meta) => window.got.push({ event: 'client-from-node', data, user_id: meta && meta.user_id }));
  ch.bind('server-event', (data) => window.got.push({ event: 'server-event', data }));
</script></body></html>`;

before(async () => {
  if (!haveChromium) return;
  await c.startRedis();
  const a = await c.addHost('a');
  const b = await c.addHost('b');
  edgeA = await c.addEdge(a);
  edgeB = await c.addEdge(b);

  appServer = new AppServer(c.app, { identity: () => ({ user: 'browser-user', userInfo: { name: 'Chromium' } }) });
  appServer.static('/', { body: PAGE });
  appServer.static('/pusher.min.js', {
    type: 'application/javascript',
    file: path.join(path.dirname(require.resolve('pusher-js/package.json')), 'dist', 'web', 'pusher.min.js'),
  });
  await appServer.listen();
  c.track({ destroy: () => appServer.close() });

  const { chromium } = require('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  c.track({ destroy: () => browser.close().catch(() => {}) });
  page = await browser.newPage();
  page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => pageLog.push(`requestfailed: ${r.url()} ${r.failure() && r.failure().errorText}`));
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  await c.stop();
});

const pageState = () => page.evaluate(() => ({ state: window.state, got: window.got, conn: window.pusher.connection.state }));

/* waitFor with the page's state and log in the error. */
async function waitPage(cond, what, timeout = 15000) {
  try {
    return await waitFor(async () => cond(await pageState()), { timeout, what });
  } catch (e) {
    const st = await pageState().catch((x) => `(no state: ${x.message})`);
    throw new Error(`${e.message}\npage state: ${JSON.stringify(st)}\npage log:\n${pageLog.join('\n')}`);
  }
}

c.test('headless Chromium on host A and pusher-js in Node on host B exchange client events on a presence channel',
  { skip: haveChromium ? false : `${CHROMIUM} missing (install chromium: scripts/deps.sh)` }, async () => {
    const cfg = { key: c.app.key, wsPort: edgeA.port, channel: CH };
    await page.goto(`${appServer.url}/#${encodeURIComponent(JSON.stringify(cfg))}`);
    await waitPage((s) => s.state.subscribed || s.state.errors.length, 'the page subscribed');
    let st = await pageState();
    assert.deepEqual(st.state.errors, [], 'errors in the page');
    assert.equal(st.state.subscribed, true);
    assert.ok(appServer.authRequests.some((r) => r.channel === CH && r.path === '/pusher/auth'),
      'the page did not call /pusher/auth');

    nodeClient = new PjsClient(c, edgeB, { user: 'node-user', userInfo: { name: 'Node' }, name: 'node@B' });
    await nodeClient.connected();
    await nodeClient.subscribe(CH);
    assert.deepEqual(nodeClient.members(CH), ['browser-user', 'node-user']);
    await waitPage((s) => s.state.members.join() === 'browser-user,node-user', 'the page sees node-user join');
    await c.waitNumsub(CH, 2);

    /* Browser -> Node. */
    const fromBrowser = nodeClient.record(CH, 'client-from-browser');
    const ok = await page.evaluate(() => window.ch.trigger('client-from-browser', { text: 'hi from chromium', n: 1 }));
    assert.equal(ok, true);
    await waitFor(() => fromBrowser.length > 0, { what: 'node gets the browser client event' });
    assert.deepEqual(fromBrowser[0].data, { text: 'hi from chromium', n: 1 });
    assert.equal(fromBrowser[0].metadata.user_id, 'browser-user');

    /* Node -> Browser. */
    assert.equal(nodeClient.trigger(CH, 'client-from-node', { text: 'hi from node' }), true);
    await waitPage((s) => s.got.some((g) => g.event === 'client-from-node'), 'the page gets the node client event');
    st = await pageState();
    const g = st.got.find((x) => x.event === 'client-from-node');
    assert.deepEqual(g.data, { text: 'hi from node' });
    assert.equal(g.user_id, 'node-user');

    /* Server SDK -> Browser through host B's API. */
    await sdk(c.app, edgeB).trigger(CH, 'server-event', { from: 'sdk' });
    await waitPage((s) => s.got.some((x) => x.event === 'server-event'), 'the page gets an SDK event');

    /* The node client leaves: the page sees member_removed. */
    nodeClient.disconnect();
    await waitPage((s) => s.state.removed.includes('node-user'), 'the page sees node-user leave');
    st = await pageState();
    assert.deepEqual(st.state.members, ['browser-user']);
    assert.equal(st.conn, 'connected');
    assert.equal(st.got.filter((x) => x.event === 'client-from-node').length, 1);
    assert.deepEqual(st.state.errors, []);
  });
