#!/usr/bin/env node
'use strict';
/* publish.js: trigger a Pusher event through a Switchboard edge's HTTP API,
 * signed like the official SDKs (no npm packages needed).
 *
 *   node scripts/publish.js [--host 127.0.0.1] [--port 6001] [--app ID:KEY:SECRET]
 *                           [--channel my-channel] [--event my-event] [--data JSON]
 *                           [--socket-id ID]
 * Prints the HTTP status and body; exits 0 on 200. */
const http = require('node:http');
const crypto = require('node:crypto');

const opt = {
  host: '127.0.0.1', port: '6001', app: process.env.SWB_DEMO_APP || 'demo:demo-key:demo-secret',
  channel: 'my-channel', event: 'my-event', data: '{"message":"hello from Switchboard"}', 'socket-id': '',
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '');
  if (k === 'help' || !(k in opt) || i + 1 >= argv.length) {
    process.stderr.write('usage: node scripts/publish.js [--host H] [--port P] [--app ID:KEY:SECRET] ' +
      '[--channel C] [--event E] [--data JSON] [--socket-id ID]\n');
    process.exit(k === 'help' ? 0 : 2);
  }
  opt[k] = argv[++i];
}
const [id, key, secret] = opt.app.split(':');
const body = JSON.stringify({
  name: opt.event, channels: [opt.channel], data: opt.data,
  ...(opt['socket-id'] ? { socket_id: opt['socket-id'] } : {}),
});
const path = `/apps/${id}/events`;
const params = {
  auth_key: key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0',
  body_md5: crypto.createHash('md5').update(body).digest('hex'),
};
const query = Object.keys(params).sort().map((k) => `${k}=${params[k]}`).join('&');
const sig = crypto.createHmac('sha256', secret).update(`POST\n${path}\n${query}`).digest('hex');
const req = http.request({
  host: opt.host, port: Number(opt.port), method: 'POST', path: `${path}?${query}&auth_signature=${sig}`,
  headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
}, (res) => {
  let text = '';
  res.on('data', (d) => { text += d; });
  res.on('end', () => {
    console.log(`${res.statusCode} ${text}`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
req.on('error', (e) => { console.error(`publish.js: ${e.message}`); process.exit(1); });
req.end(body);
