'use strict';
/* Local sockets are owner-only (docs/security.md): the bridge's edge socket
 * (bridge.ipc), its control socket (control.ipc) and each edge's delivery
 * socket (edge-ID.ipc) are mode 0600, so only processes of the user the
 * daemons run as can speak to them. */

const { before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Cluster, waitFor } = require('../lib/cluster');

const c = new Cluster('socket_perms');
let host;

before(async () => {
  await c.startRedis();
  host = await c.addHost('a');
  await c.addEdge(host);
});

after(() => c.stop());

c.test('bridge.ipc, control.ipc and every edge-*.ipc are sockets with mode 0600', async () => {
  const names = await waitFor(() => {
    const n = fs.readdirSync(host.dir).filter((f) => f.endsWith('.ipc'));
    return n.some((f) => f.startsWith('edge-')) && n;
  }, { what: 'the edge\'s delivery socket' });
  for (const want of ['bridge.ipc', 'control.ipc']) assert.ok(names.includes(want), `${want} missing: ${names}`);
  for (const f of names) {
    const st = fs.statSync(path.join(host.dir, f));
    assert.ok(st.isSocket(), `${f} is not a socket`);
    assert.equal((st.mode & 0o777).toString(8), '600', `${f} has mode ${(st.mode & 0o777).toString(8)}`);
  }
});
