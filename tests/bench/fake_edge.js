'use strict';
/* fake_edge.js MODE: a stand-in edge for smoke.sh that speaks just enough
 * Pusher to check swb-bench's WebSocket client on what the real edge never
 * sends. It prints its port on stdout and serves until killed.
 *   frames:  connection_established in 3 fragments (a ping in between), each
 *            frame split over several TCP writes; subscription_succeeded; a
 *            pusher:ping; a 70,000-byte message (64-bit length); a 300-byte
 *            one (16-bit length).
 *   hostile: the handshake, then a frame header announcing 2^62 bytes. */
const net = require('node:net');
const crypto = require('node:crypto');
const mode = process.argv[2] || 'frames';

function frame(op, payload, fin = true) {
  const p = Buffer.from(payload);
  let h;
  if (p.length < 126) h = Buffer.from([(fin ? 0x80 : 0) | op, p.length]);
  else if (p.length <= 0xffff) { h = Buffer.alloc(4); h[0] = (fin ? 0x80 : 0) | op; h[1] = 126; h.writeUInt16BE(p.length, 2); }
  else { h = Buffer.alloc(10); h[0] = (fin ? 0x80 : 0) | op; h[1] = 127; h.writeBigUInt64BE(BigInt(p.length), 2); }
  return Buffer.concat([h, p]);
}
const text = (s, fin = true) => frame(1, s, fin);

/* write buf in small pieces, a few ms apart */
async function dribble(sock, buf, piece = 7) {
  for (let i = 0; i < buf.length; i += piece) {
    sock.write(buf.subarray(i, i + piece));
    await new Promise((r) => setTimeout(r, 1));
  }
}

const server = net.createServer((sock) => {
  let head = '';
  let upgraded = false;
  sock.on('error', () => {});
  sock.on('data', async (d) => {
    if (!upgraded) {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      upgraded = true;
      const key = /Sec-WebSocket-Key: (.*)\r\n/i.exec(head)[1].trim();
      const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      const est = JSON.stringify({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: '1.2', activity_timeout: 120 }) });
      const a = est.slice(0, 10), b = est.slice(10, 30), c = est.slice(30);
      await dribble(sock, Buffer.concat([text(a, false), frame(9, 'hi'), frame(0, b, false), frame(0, c, true)]));
      return;
    }
    /* client frames are masked; we only need to see the subscribe */
    const len = d[1] & 0x7f, off = len === 126 ? 8 : 6, mask = d.subarray(off - 4, off);
    const body = Buffer.from(d.subarray(off, off + (len === 126 ? d.readUInt16BE(2) : len)).map((x, i) => x ^ mask[i & 3])).toString();
    if (!body.includes('pusher:subscribe')) return;
    const channel = JSON.parse(body).data.channel;
    sock.write(text(JSON.stringify({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' })));
    if (mode === 'hostile') {
      const h = Buffer.alloc(10); h[0] = 0x81; h[1] = 127; h.writeBigUInt64BE(1n << 62n, 2);
      sock.write(h);
      return;
    }
    await dribble(sock, Buffer.concat([
      text('{"event":"pusher:ping","data":{}}'),
      text(JSON.stringify({ event: 'big', channel, data: 'x'.repeat(70000) })),
      text(JSON.stringify({ event: 'medium', channel, data: 'y'.repeat(300) })),
    ]), 997);
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
