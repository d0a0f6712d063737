'use strict';
/* pusher_ws.js: a plain Pusher protocol client on the `ws` package, for
 * tests that need to see every frame: connect and await
 * pusher:connection_established, subscribe and await
 * pusher_internal:subscription_succeeded, collect everything received,
 * and the close code. A second, raw client (RawWs) speaks WebSocket over a
 * bare TCP socket for what `ws` will not do: never answer pings, never read. */

const net = require('node:net');
const crypto = require('node:crypto');
const WebSocket = require('ws');
const { waitFor, GiveUp } = require('./wait');

class PusherClient {
  constructor(url, name) {
    this.url = url;
    this.name = name || url;
    this.messages = []; /* every parsed frame, in order */
    this.raw = [];      /* every text frame as received */
    this.closeInfo = null; /* {code, reason} once closed */
    this.error = null;
    this.socketId = null;
    this.activityTimeout = null;
    this.autoPong = true;
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    this.ws.on('message', (data, isBinary) => {
      const s = data.toString('utf8');
      this.raw.push(s);
      let m;
      try { m = JSON.parse(s); } catch (e) { m = { event: '__unparsable__', data: s }; }
      if (isBinary) m = { event: '__binary__', data: s };
      this.messages.push(m);
      /* Like pusher-js: answer the server's JSON ping. */
      if (m && m.event === 'pusher:ping' && this.autoPong) this.send({ event: 'pusher:pong', data: {} });
    });
    this.ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
    });
    this.ws.on('error', (e) => { this.error = e; });
  }

  /* Opens the connection and resolves once the handshake event (or a close)
   * arrived. With {expectEstablished:false} it resolves on either. */
  static async connect(url, { name, timeout = 10000, expectEstablished = true } = {}) {
    const c = new PusherClient(url, name);
    await waitFor(() => c.closeInfo || c.find((m) => m.event === 'pusher:connection_established'),
      { timeout, what: `${c.name}: pusher:connection_established` });
    if (expectEstablished) {
      const m = c.find((x) => x.event === 'pusher:connection_established');
      if (!m) {
        throw new Error(`${c.name}: closed before connection_established ` +
          `(code ${c.closeInfo && c.closeInfo.code}, error ${c.error && c.error.message})`);
      }
      const d = JSON.parse(m.data);
      c.socketId = d.socket_id;
      c.activityTimeout = d.activity_timeout;
    }
    return c;
  }

  find(pred, from = 0) {
    for (let i = from; i < this.messages.length; i++) if (pred(this.messages[i])) return this.messages[i];
    return undefined;
  }

  /* Waits for a frame matching pred at index >= from. */
  waitMessage(pred, { from = 0, timeout = 10000, what = 'a matching frame' } = {}) {
    return waitFor(() => {
      const m = this.find(pred, from);
      if (m) return m;
      if (this.closeInfo) throw new GiveUp(`${this.name}: connection closed (${JSON.stringify(this.closeInfo)}) while waiting for ${what}`);
      return null;
    }, { timeout, what: `${this.name}: ${what}` });
  }

  waitClose({ timeout = 10000 } = {}) {
    return waitFor(() => this.closeInfo, { timeout, what: `${this.name}: close` });
  }

  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  /* Subscribes and resolves with subscription_succeeded; rejects with the
   * pusher:error (or pusher:subscription_error) that came instead. */
  async subscribe(channel, { auth, channelData, timeout = 10000 } = {}) {
    const from = this.messages.length;
    const data = { auth: auth || '', channel };
    if (channelData !== undefined) data.channel_data = channelData;
    this.send({ event: 'pusher:subscribe', data });
    const m = await this.waitMessage((x) =>
      (x.event === 'pusher_internal:subscription_succeeded' && x.channel === channel) ||
      x.event === 'pusher:error' ||
      (x.event === 'pusher:subscription_error' && x.channel === channel),
    { from, timeout, what: `subscription_succeeded on ${channel}` });
    if (m.event !== 'pusher_internal:subscription_succeeded') {
      throw new Error(`${this.name}: subscribe ${channel} failed: ${JSON.stringify(m)}`);
    }
    return m;
  }

  unsubscribe(channel) { this.send({ event: 'pusher:unsubscribe', data: { channel } }); }

  /* Sends pusher:subscribe without waiting; returns the index of the first
   * frame that can be the answer (for waitMessage's `from`). */
  subscribeNoWait(channel, { auth, channelData } = {}) {
    const from = this.messages.length;
    const data = { auth: auth || '', channel };
    if (channelData !== undefined) data.channel_data = channelData;
    this.send({ event: 'pusher:subscribe', data });
    return from;
  }

  /* pusher:signin with {auth, user_data} (as the SDK's authenticateUser
   * returns it); resolves with pusher:signin_success, rejects with the
   * pusher:error or close that came instead. */
  async signin({ auth, user_data: userData }, { timeout = 10000 } = {}) {
    const from = this.messages.length;
    this.send({ event: 'pusher:signin', data: { auth, user_data: userData } });
    const m = await this.waitMessage((x) => x.event === 'pusher:signin_success' || x.event === 'pusher:error',
      { from, timeout, what: 'pusher:signin_success' });
    if (m.event !== 'pusher:signin_success') throw new Error(`${this.name}: signin failed: ${JSON.stringify(m)}`);
    return m;
  }

  /* A client event as pusher-js sends it (data is an object). */
  trigger(channel, event, data) { this.send({ event, channel, data }); }

  /* Frames with this event name (and channel), in order. */
  framesOf(event, channel) {
    return this.messages.filter((m) => m.event === event && (channel === undefined || m.channel === channel));
  }

  /* pusher:ping -> pusher:pong round trip. The edge writes a connection's
   * frames in order, so once the pong is here every frame queued for this
   * client before the ping has been received too. */
  async ping({ timeout = 10000 } = {}) {
    const from = this.messages.length;
    this.send({ event: 'pusher:ping', data: {} });
    return this.waitMessage((x) => x.event === 'pusher:pong', { from, timeout, what: 'pusher:pong' });
  }

  /* Application events (not pusher: / pusher_internal:), optionally filtered. */
  events({ channel, event } = {}) {
    return this.messages.filter((m) => typeof m.event === 'string' &&
      !m.event.startsWith('pusher:') && !m.event.startsWith('pusher_internal:') &&
      (channel === undefined || m.channel === channel) &&
      (event === undefined || m.event === event));
  }

  async close({ timeout = 5000 } = {}) {
    if (this.closeInfo) return;
    try { this.ws.close(1000); } catch (e) { /* not open yet */ }
    try { await this.waitClose({ timeout }); } catch (e) { this.ws.terminate(); }
  }

  terminate() { this.ws.terminate(); }
}

/* ---- raw WebSocket over TCP ---- */

function encodeFrame(opcode, payload, { mask = true } = {}) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  let hdr;
  if (p.length < 126) {
    hdr = Buffer.alloc(2);
    hdr[1] = p.length;
  } else if (p.length < 65536) {
    hdr = Buffer.alloc(4);
    hdr[1] = 126;
    hdr.writeUInt16BE(p.length, 2);
  } else {
    hdr = Buffer.alloc(10);
    hdr[1] = 127;
    hdr.writeBigUInt64BE(BigInt(p.length), 2);
  }
  hdr[0] = 0x80 | opcode;
  if (!mask) return Buffer.concat([hdr, p]);
  hdr[1] |= 0x80;
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(p.length);
  for (let i = 0; i < p.length; i++) body[i] = p[i] ^ key[i & 3];
  return Buffer.concat([hdr, key, body]);
}

/* Parses unmasked server frames from buf; returns {frames, rest}. */
function decodeFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let hl = 2;
    if (len === 126) {
      if (buf.length - off < 4) break;
      len = buf.readUInt16BE(off + 2);
      hl = 4;
    } else if (len === 127) {
      if (buf.length - off < 10) break;
      len = Number(buf.readBigUInt64BE(off + 2));
      hl = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked) hl += 4;
    if (buf.length - off < hl + len) break;
    let payload = buf.subarray(off + hl, off + hl + len);
    if (masked) {
      const key = buf.subarray(off + hl - 4, off + hl);
      payload = Buffer.from(payload.map((x, i) => x ^ key[i & 3]));
    }
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload });
    off += hl + len;
  }
  return { frames, rest: buf.subarray(off) };
}

class RawWs {
  constructor(port, path, { host = '127.0.0.1' } = {}) {
    this.port = port;
    this.path = path;
    this.buf = Buffer.alloc(0);
    this.handshake = null; /* the HTTP response head, once complete */
    this.frames = [];      /* every decoded frame */
    this.closeCode = null; /* from a received close frame */
    this.ended = false;    /* the server closed the TCP connection (FIN or RST) */
    this.bytes = 0;
    this.sock = net.connect({ host, port });
    this.sock.on('data', (d) => this._onData(d));
    this.sock.on('end', () => { this.ended = true; });
    this.sock.on('close', () => { this.ended = true; });
    this.sock.on('error', (e) => { this.error = e; this.ended = true; });
    this.sock.on('connect', () => {
      const key = crypto.randomBytes(16).toString('base64');
      this.sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n` +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
  }

  _onData(d) {
    this.bytes += d.length;
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.handshake) {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      this.handshake = this.buf.toString('latin1', 0, i);
      this.buf = this.buf.subarray(i + 4);
    }
    const { frames, rest } = decodeFrames(this.buf);
    this.buf = rest;
    for (const f of frames) {
      this.frames.push(f);
      if (f.opcode === 8 && this.closeCode === null) {
        this.closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
      }
    }
  }

  texts() {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.payload.toString('utf8')));
  }

  waitText(pred, { timeout = 10000, what = 'a text frame' } = {}) {
    return waitFor(() => this.texts().find(pred), { timeout, what: `raw ws: ${what}` });
  }

  sendText(s) { this.sock.write(encodeFrame(1, typeof s === 'string' ? s : JSON.stringify(s))); }
  sendFrame(opcode, payload) { this.sock.write(encodeFrame(opcode, payload)); }

  async open({ timeout = 10000 } = {}) {
    await this.waitText((m) => m.event === 'pusher:connection_established',
      { timeout, what: 'connection_established' });
    return this;
  }

  async subscribe(channel, { timeout = 10000 } = {}) {
    this.sendText({ event: 'pusher:subscribe', data: { auth: '', channel } });
    return this.waitText((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === channel,
      { timeout, what: `subscription_succeeded on ${channel}` });
  }

  pause() { this.sock.pause(); }
  resume() { this.sock.resume(); }
  destroy() { this.sock.destroy(); }
}

module.exports = { PusherClient, RawWs, encodeFrame, decodeFrames };
