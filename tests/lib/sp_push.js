'use strict';
/* sp_push.js: a tiny NNG push0 peer over IPC, to hand an edge BridgeMsgs
 * the way its bridge does (the operator commands DrainCmd, LogLevelCmd,
 * ReloadCmd) without NNG in Node. The SP-over-IPC wire format: each side
 * sends an 8-byte header (0x00 'S' 'P' 0x00, protocol id big-endian, two
 * zero bytes; push0 = 0x50, pull0 = 0x51), then every message is a 0x01
 * byte, a 64-bit big-endian length and the body (push0 adds no header).
 * The protobuf encoding of the few messages needed is done by hand. */

const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}

function field(num, wire, payload) {
  const tag = varint((num << 3) | wire);
  if (wire === 0) return Buffer.concat([tag, varint(payload)]);
  const b = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  return Buffer.concat([tag, varint(b.length), b]);
}

/* BridgeMsg bodies (proto/switchboard.proto): drain = 11, log_level = 12, reload = 13. */
const bridgeMsg = {
  drain: ({ deadlineMs = 0, rate = 0 } = {}) => field(11, 2, Buffer.concat([
    deadlineMs ? field(1, 0, deadlineMs) : Buffer.alloc(0), rate ? field(2, 0, rate) : Buffer.alloc(0)])),
  logLevel: (level) => field(12, 2, field(1, 2, level)),
  reload: () => field(13, 2, Buffer.alloc(0)),
};

/* The edge's deliver socket (RUNTIME_DIR/edge-ID.ipc) for an edge whose
 * log names its id. */
function edgeSocket(runtimeDir, edgeLogPath) {
  const m = fs.readFileSync(edgeLogPath, 'utf8').match(/edge id (\d+)/);
  if (!m) throw new Error(`no edge id in ${edgeLogPath}`);
  return path.join(runtimeDir, `edge-${m[1]}.ipc`);
}

/* Connects, completes the SP handshake, sends each body as one message,
 * waits for the socket to drain, and closes. */
function sendBridgeMsgs(socketPath, bodies, { timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`SP handshake with ${socketPath} timed out`)); }, timeout);
    let got = Buffer.alloc(0);
    s.on('connect', () => s.write(Buffer.from([0, 0x53, 0x50, 0, 0, 0x50, 0, 0])));
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (got.length < 8) return;
      if (got[1] !== 0x53 || got[2] !== 0x50 || got.readUInt16BE(4) !== 0x51) {
        s.destroy();
        reject(new Error(`not a pull0 peer: ${got.subarray(0, 8).toString('hex')}`));
        return;
      }
      const frames = bodies.map((b) => {
        const h = Buffer.alloc(9);
        h[0] = 1;
        h.writeBigUInt64BE(BigInt(b.length), 1);
        return Buffer.concat([h, b]);
      });
      s.end(Buffer.concat(frames), () => { clearTimeout(timer); resolve(); });
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

module.exports = { bridgeMsg, edgeSocket, sendBridgeMsgs };
