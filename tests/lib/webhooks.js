'use strict';
/* webhooks.js: a local HTTP server that receives an app's webhooks and
 * checks each request with the official SDK's webhook helper
 * (pusher.webhook({headers, rawBody}).isValid(), getEvents()). It can
 * answer the next N requests with an error status, to test retries.
 *
 *   const sink = await new WebhookSink([app]).listen();
 *   apps file: webhooks: [{url: sink.url, events: [...]}]
 *   sink.delivered({name: 'channel_occupied', channel}) -> events of
 *   requests that were valid and answered 2xx. */

const http = require('node:http');
const { sdk } = require('./backend');
const { waitFor } = require('./wait');

class WebhookSink {
  /* apps: the apps whose signatures are accepted (by X-Pusher-Key). */
  constructor(apps, { path = '/hook' } = {}) {
    this.apps = apps;
    this.path = path;
    this.requests = []; /* {at, method, url, headers, rawBody, key, valid, events, status, app} */
    this.failQueue = []; /* statuses to answer with, one per request, before 200 */
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const key = req.headers['x-pusher-key'];
      const app = this.apps.find((a) => a.key === key);
      let valid = false;
      let events = null;
      let error = null;
      if (app) {
        try {
          const wh = sdk(app).webhook({ headers: req.headers, rawBody });
          valid = wh.isValid();
          if (valid) events = wh.getEvents();
        } catch (e) { error = e.message; }
      }
      let time = null;
      try { time = JSON.parse(rawBody).time_ms; } catch (e) { /* recorded as invalid below */ }
      let status = 200;
      let parsed = [];
      try { parsed = JSON.parse(rawBody).events || []; } catch (e) { /* invalid: recorded below */ }
      const fi = this.failQueue.findIndex((f) => !f.match ||
        parsed.some((ev) => Object.entries(f.match).every(([k, v]) => ev[k] === v)));
      if (fi >= 0) status = this.failQueue.splice(fi, 1)[0].status;
      this.requests.push({
        at: Date.now(), method: req.method, url: req.url, headers: req.headers, rawBody, key,
        app: app && app.id, valid, events, status, error, time_ms: time,
      });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status < 300 ? '{}' : '{"error":"test sink says no"}');
    });
  }

  /* Answer the next request with this status (e.g. 500); with `match`,
   * the next request holding an event with those fields. */
  failNext(status, match) { this.failQueue.push({ status, match }); }

  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = this.server.address().port;
      this.url = `http://127.0.0.1:${this.port}${this.path}`;
      resolve(this);
    }));
  }

  close() {
    return new Promise((resolve) => {
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }

  /* Events of valid requests we answered 2xx (what the app "got"),
   * filtered by any of the event's fields; each with .app and .time_ms. */
  delivered(match = {}, { app } = {}) {
    const out = [];
    for (const r of this.requests) {
      if (!r.valid || r.status >= 300) continue;
      if (app && r.app !== app.id) continue;
      for (const e of r.events || []) {
        if (Object.entries(match).every(([k, v]) => e[k] === v)) out.push({ ...e, app: r.app, time_ms: r.time_ms });
      }
    }
    return out;
  }

  /* Every event of every request (valid or not, any status). */
  allEvents(match = {}) {
    const out = [];
    for (const r of this.requests) {
      for (const e of r.events || []) {
        if (Object.entries(match).every(([k, v]) => e[k] === v)) out.push({ ...e, status: r.status, app: r.app });
      }
    }
    return out;
  }

  invalid() { return this.requests.filter((r) => !r.valid); }

  waitDelivered(match, { n = 1, timeout = 10000, app } = {}) {
    return waitFor(() => this.delivered(match, { app }).length >= n,
      { timeout, what: `webhook ${JSON.stringify(match)} x${n}` })
      .catch((e) => { throw new Error(`${e.message}; requests so far: ${this.summary()}`); });
  }

  summary() {
    return JSON.stringify(this.requests.map((r) => ({
      status: r.status, valid: r.valid, app: r.app, events: r.events ? r.events.map((e) => `${e.name}:${e.channel}${e.user_id ? `:${e.user_id}` : ''}`) : r.rawBody.slice(0, 200),
    })));
  }
}

module.exports = { WebhookSink };
