'use strict';
/* sp_check.js: tells from outside whether an NNG IPC listener still
 * accepts (nng bug #1518 leaves it negotiating but never accepting), the
 * way common/ipc_watchdog.c does: connect as a peer of protocol `peer`
 * (pair1 0x11, req0 0x30, push0 0x50), send the SP header and a frame of
 * the invalid type 0, wait for the listener's header. An accepting
 * listener hands the pipe to its socket, which fails on the frame and
 * closes: EOF. Resolves 'accepting' (header then EOF), 'stalled' (header,
 * then nothing within `timeout` ms), or 'no-answer' (no header). The
 * connection stays open until the header came, so the check itself never
 * triggers the bug. A check parked on a stalled listener also sees EOF
 * when the listener is closed: ask twice to be sure. */

const net = require('node:net');

function spCheck(sockPath, peer, { timeout = 2000 } = {}) {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let done = false;
    const s = net.connect({ path: sockPath });
    const finish = (v) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => finish(got.length >= 8 ? 'stalled' : 'no-answer'), timeout);
    s.on('connect', () => {
      const hdr = Buffer.from([0, 0x53, 0x50, 0, (peer >> 8) & 0xff, peer & 0xff, 0, 0]);
      s.write(Buffer.concat([hdr, Buffer.alloc(9)]));
    });
    s.on('data', (d) => { got = Buffer.concat([got, d]); });
    s.on('end', () => finish(got.length >= 8 ? 'accepting' : 'no-answer'));
    s.on('error', () => finish(got.length >= 8 ? 'accepting' : 'no-answer'));
  });
}

module.exports = { spCheck };
