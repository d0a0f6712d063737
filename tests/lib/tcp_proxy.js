'use strict';
/* tcp_proxy.js: a TCP proxy between a bridge and Redis for fault tests.
 * Each connection's first bytes are sniffed for its CLIENT SETNAME, so the
 * test can pick the bridge's subscribe connection. Faults:
 *   stall(name)  keep the named connections open but stop forwarding
 *                Redis -> bridge bytes on them (a wedged connection);
 *   hold()       accept new connections but do not connect them upstream
 *                (their bytes are buffered) until release();
 *   delayUp(name, ms)  forward bridge -> Redis bytes of connections named
 *                `name` ms late (order kept): Redis then runs that
 *                connection's commands late relative to the others'.
 * Only sockets this proxy created are ever closed. */

const net = require('node:net');

class TcpProxy {
  constructor(targetPort, targetHost = '127.0.0.1') {
    this.targetPort = targetPort;
    this.targetHost = targetHost;
    this.conns = [];
    this.holding = false;
    this.delays = {};
    this.server = null;
    this.port = null;
  }

  start() {
    this.server = net.createServer((sock) => this.onConn(sock));
    return new Promise((resolve, reject) => {
      this.server.on('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.port = this.server.address().port;
        resolve(this.port);
      });
    });
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }

  onConn(client) {
    const c = { client, up: null, name: '', sniff: '', stalled: false, pending: [], closed: false, held: false };
    this.conns.push(c);
    client.on('data', (d) => {
      if (c.sniff.length < 4096) {
        c.sniff += d.toString('latin1');
        const m = /SETNAME\r\n\$\d+\r\n([^\r]+)\r\n/i.exec(c.sniff);
        if (m) c.name = m[1];
      }
      const ms = this.delays[c.name] || 0;
      const forward = () => { if (c.up && c.up.connecting === false) c.up.write(d); else c.pending.push(d); };
      if (ms > 0) setTimeout(forward, ms); else forward();
    });
    client.on('error', () => {});
    client.on('close', () => {
      c.closed = true;
      if (c.up) c.up.destroy();
    });
    if (this.holding) c.held = true; else this.connectUp(c);
  }

  connectUp(c) {
    c.held = false;
    if (c.closed) return;
    const up = net.connect(this.targetPort, this.targetHost);
    c.up = up;
    up.on('connect', () => {
      for (const d of c.pending) up.write(d);
      c.pending = [];
    });
    up.on('data', (d) => { if (!c.stalled) c.client.write(d); });
    up.on('error', () => {});
    up.on('close', () => c.client.destroy());
  }

  /* Stop forwarding Redis -> client on open connections named `name`.
   * Returns how many were stalled. */
  stall(name) {
    let n = 0;
    for (const c of this.conns) {
      if (!c.closed && c.name === name) {
        c.stalled = true;
        n++;
      }
    }
    return n;
  }

  /* Open connections named `name` (stalled or not). */
  open(name) { return this.conns.filter((c) => !c.closed && c.name === name); }

  delayUp(name, ms) { this.delays[name] = ms; }

  hold() { this.holding = true; }

  heldCount() { return this.conns.filter((c) => c.held && !c.closed).length; }

  release() {
    this.holding = false;
    for (const c of this.conns) if (c.held) this.connectUp(c);
  }

  close() {
    for (const c of this.conns) {
      c.client.destroy();
      if (c.up) c.up.destroy();
    }
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

module.exports = { TcpProxy };
