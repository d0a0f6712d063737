'use strict';
/* http_api.js: a Pusher HTTP API caller that signs requests exactly as the
 * official SDKs do (pusher-protocol.md §7.1), with knobs to break each part
 * of the signature on purpose. */

const { SLOW } = require('./wait');
const http = require('node:http');
const crypto = require('node:crypto');

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
const hmac = (secret, s) => crypto.createHmac('sha256', secret).update(s).digest('hex');

/* The string to sign: METHOD \n PATH \n sorted k=v&... (no auth_signature,
 * keys lower-cased, values not escaped). */
function stringToSign(method, path, params) {
  const q = Object.keys(params)
    .filter((k) => k !== 'auth_signature')
    .map((k) => [k.toLowerCase(), params[k]])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `${method.toUpperCase()}\n${path}\n${q}`;
}

function sign(secret, method, path, params) {
  return hmac(secret, stringToSign(method, path, params));
}

/* request({port, app:{id,key,secret}, method, path, body, ...overrides})
 * -> {status, text, json}. `path` defaults to /apps/{id}/events.
 * Overrides: timestamp (seconds), bodyMd5, signature, key, query (extra
 * signed params), unsigned (skip auth params entirely), signPath (sign a
 * different path than the one requested). */
function request(opts) {
  const {
    port, host = '127.0.0.1', app, method = 'POST',
    timestamp = Math.floor(Date.now() / 1000), query = {}, unsigned = false,
  } = opts;
  const path = opts.path || `/apps/${app.id}/events`;
  const body = opts.body === undefined ? null
    : (typeof opts.body === 'string' || Buffer.isBuffer(opts.body)) ? opts.body : JSON.stringify(opts.body);
  const params = { ...query };
  if (!unsigned) {
    params.auth_key = opts.key !== undefined ? opts.key : app.key;
    params.auth_timestamp = String(timestamp);
    params.auth_version = '1.0';
    if (body !== null) params.body_md5 = opts.bodyMd5 !== undefined ? opts.bodyMd5 : md5(body);
    params.auth_signature = opts.signature !== undefined ? opts.signature
      : sign(app.secret, method, opts.signPath || path, params);
  }
  const qs = Object.entries(params).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const headers = {};
  if (body !== null) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: qs ? `${path}?${qs}` : path, headers, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch (e) { json = undefined; }
          resolve({ status: res.statusCode, text, json, headers: res.headers });
        });
        res.on('error', reject);
      });
    req.setTimeout(15000 * SLOW, () => req.destroy(new Error(`HTTP ${method} ${path} timed out`)));
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

/* Triggers an event; throws unless the answer is 200. */
async function publish(port, app, { name, channels, channel, data, socket_id: socketId }) {
  const body = { name, data: typeof data === 'string' ? data : JSON.stringify(data) };
  if (channels) body.channels = channels;
  if (channel) body.channel = channel;
  if (socketId) body.socket_id = socketId;
  const r = await request({ port, app, body });
  if (r.status !== 200) throw new Error(`publish to :${port} -> ${r.status} ${r.text}`);
  return r;
}

async function publishBatch(port, app, batch) {
  const r = await request({ port, app, path: `/apps/${app.id}/batch_events`, body: { batch } });
  if (r.status !== 200) throw new Error(`batch publish to :${port} -> ${r.status} ${r.text}`);
  return r;
}

/* Plain GET (for /readyz, /healthz, /metrics). Resolves {status, text}. */
function get(port, path, { host = '127.0.0.1', timeout = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeout * SLOW, () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

module.exports = { request, publish, publishBatch, get, sign, stringToSign, md5, hmac };
