'use strict';
/* resp.js: a tiny one-shot Redis client (RESP2) for test assertions:
 * CLIENT LIST, PUBSUB CHANNELS/NUMSUB, PING. One connection per command,
 * so it never holds a connection that a test counts. */

const net = require('node:net');

function parseUrl(url) {
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`unsupported redis url ${url}`);
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

function encode(args) {
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/* Parses one reply at buf[off]. Returns {value, off} or null if incomplete.
 * Error replies become Error objects (returned, not thrown). */
function parse(buf, off) {
  if (off >= buf.length) return null;
  const eol = buf.indexOf('\r\n', off);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString('utf8', off + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+': return { value: line, off: next };
    case '-': return { value: new Error(line), off: next };
    case ':': return { value: Number(line), off: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, off: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), off: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, off: next };
      const arr = [];
      let o = next;
      for (let i = 0; i < n; i++) {
        const r = parse(buf, o);
        if (!r) return null;
        arr.push(r.value);
        o = r.off;
      }
      return { value: arr, off: o };
    }
    default:
      throw new Error(`bad RESP type byte ${JSON.stringify(type)}`);
  }
}

/* Every connection of this client is named so, which lets tests tell
 * their own connections apart in CLIENT LIST. */
const TEST_CLIENT_NAME = 'swbtest-harness';

/* redisCommand('redis://127.0.0.1:6379', ['CLIENT', 'LIST']) -> reply.
 * Rejects on connection errors, timeouts and Redis error replies. */
function redisCommand(url, args, { timeout = 3000 } = {}) {
  const { host, port } = parseUrl(url);
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const sock = net.connect({ host, port });
    const finish = (err, val) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(val);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${args[0]} timed out`)), timeout);
    sock.on('connect', () => sock.write(Buffer.concat([
      encode(['CLIENT', 'SETNAME', TEST_CLIENT_NAME]), encode(args)])));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let r;
      try {
        const first = parse(buf, 0); /* the SETNAME reply */
        r = first && parse(buf, first.off);
      } catch (e) { finish(e); return; }
      if (!r) return;
      if (r.value instanceof Error) finish(new Error(`redis ${args.join(' ')}: ${r.value.message}`));
      else finish(null, r.value);
    });
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error('redis connection closed before a reply')));
  });
}

/* CLIENT LIST as an array of {id, addr, name, ...}. */
async function clientList(url) {
  const text = await redisCommand(url, ['CLIENT', 'LIST']);
  return text.split('\n').filter(Boolean).map((line) => {
    const o = {};
    for (const kv of line.trim().split(' ')) {
      const i = kv.indexOf('=');
      if (i > 0) o[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return o;
  });
}

module.exports = { redisCommand, clientList, parseUrl, TEST_CLIENT_NAME };
