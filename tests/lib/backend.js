'use strict';
/* backend.js: the "app backend" of the issue #3 tests, built on the
 * official `pusher` server SDK, the way a real app does it:
 * - it signs channel authorizations (authorizeChannel) and user sign-ins
 *   (authenticateUser) for pusher-js clients, through pusher-js's
 *   customHandler options, and for raw protocol clients;
 * - it calls the HTTP API of an edge (sdk(app, edge));
 * - for a browser, it serves a real /pusher/auth and /pusher/user-auth
 *   endpoint plus static files from the test's own Node process (AppServer).
 * PjsClient wraps one unmodified pusher-js (Node build) client and records
 * everything it receives. */

const http = require('node:http');
const fs = require('node:fs');
const PusherSdk = require('pusher');
const PusherJs = require('pusher-js');
const { waitFor, GiveUp } = require('./wait');

/* An SDK instance for `app` talking to `edge`'s HTTP API (or, without an
 * edge, only for signing). */
function sdk(app, edge) {
  return new PusherSdk({
    appId: app.id, key: app.key, secret: app.secret,
    host: '127.0.0.1', port: String(edge ? edge.port : 1), useTLS: false,
  });
}

/* Presence channel_data as the backend hands it to the SDK. */
function presenceData(userId, userInfo) {
  const d = { user_id: userId };
  if (userInfo !== undefined) d.user_info = userInfo;
  return d;
}

/* {auth} for private-, {auth, channel_data} for presence- (user required). */
function authorize(app, socketId, channel, { user, userInfo } = {}) {
  const data = channel.startsWith('presence-') ? presenceData(user, userInfo) : undefined;
  return sdk(app).authorizeChannel(socketId, channel, data);
}

/* {auth, user_data} for pusher:signin. */
function authenticate(app, socketId, user, userInfo) {
  const u = { id: user };
  if (userInfo !== undefined) u.user_info = userInfo;
  return sdk(app).authenticateUser(socketId, u);
}

/* The same auth value with a wrong signature (last hex digit changed). */
function forge(auth) {
  const last = auth.slice(-1);
  return auth.slice(0, -1) + (last === '0' ? '1' : '0');
}

/* Raw-client helper: subscribe a PusherClient (pusher_ws.js) to a private
 * or presence channel with a signature from the SDK. */
function subscribeAuthed(client, app, channel, { user, userInfo, forged = false, timeout } = {}) {
  const a = authorize(app, client.socketId, channel, { user, userInfo });
  return client.subscribe(channel, {
    auth: forged ? forge(a.auth) : a.auth, channelData: a.channel_data, timeout,
  });
}

/* One pusher-js client (Node build, unmodified). opts: app, name, user,
 * userInfo (presence and sign-in identity), forged (sign channels with a
 * wrong signature). */
class PjsClient {
  constructor(cluster, edge, { app = cluster.app, name, user, userInfo, forged = false } = {}) {
    this.name = name || `pusher-js@${edge.name}`;
    this.app = app;
    this.user = user;
    this.frames = []; /* every message pusher-js received: {event, channel, data, user_id} */
    this.errors = []; /* connection 'error' events */
    this.states = []; /* connection state changes */
    this.chans = {};  /* name -> {succeeded, errors: [], events: [], added: [], removed: []} */
    this.pusher = new PusherJs(app.key, {
      cluster: '', wsHost: '127.0.0.1', wsPort: edge.port, forceTLS: false,
      enabledTransports: ['ws'], disableStats: true,
      channelAuthorization: {
        customHandler: ({ socketId, channelName }, cb) => {
          try {
            const r = authorize(app, socketId, channelName, { user, userInfo });
            if (forged) r.auth = forge(r.auth);
            cb(null, r);
          } catch (e) { cb(e, null); }
        },
      },
      userAuthentication: {
        customHandler: ({ socketId }, cb) => {
          try { cb(null, authenticate(app, socketId, user, userInfo)); } catch (e) { cb(e, null); }
        },
      },
    });
    /* pusher-js's ws client arms a 30 s close timer when close() is called
     * on a socket the server already closed, which keeps the test process
     * alive: only disconnect a client that is not disconnected already. */
    cluster.track({ destroy: () => { if (!['disconnected', 'failed'].includes(this.state)) this.pusher.disconnect(); } });
    this.pusher.connection.bind('message', (m) => this.frames.push(m));
    this.pusher.connection.bind('error', (e) => this.errors.push(e));
    this.pusher.connection.bind('state_change', (s) => {
      this.states.push(s.current);
      if (s.current === 'connected') this.guardClose();
    });
  }

  /* pusher-js (Node build) reacts to a server close such as 4009 by
   * calling close() on its already-closed WebSocket, which arms a 30 s
   * timer that nothing clears: the test process would linger 30 s at the
   * end. Make close() on a CLOSED socket a no-op (test-side only). */
  guardClose() {
    const conn = this.pusher.connection.connection;
    const sock = conn && conn.transport && conn.transport.socket;
    if (!sock || sock.swbGuarded || typeof sock.close !== 'function') return;
    const orig = sock.close.bind(sock);
    sock.close = (...a) => (sock.readyState === 3 ? undefined : orig(...a));
    sock.swbGuarded = true;
  }

  get socketId() { return this.pusher.connection.socket_id; }
  get state() { return this.pusher.connection.state; }

  async connected({ timeout = 15000 } = {}) {
    await waitFor(() => this.state === 'connected',
      { timeout, what: `${this.name}: pusher-js connected (state ${this.state})` });
    return this;
  }

  /* Subscribes and records the channel's events. Resolves once
   * pusher:subscription_succeeded fired; with {expectError:true} once
   * pusher:subscription_error or a connection error arrived instead (and
   * throws if the subscription succeeded). */
  async subscribe(channel, { expectError = false, timeout = 10000 } = {}) {
    const rec = { succeeded: false, errors: [], events: [], added: [], removed: [], data: null };
    this.chans[channel] = rec;
    const errBefore = this.errors.length;
    const ch = this.pusher.subscribe(channel);
    rec.channel = ch;
    ch.bind('pusher:subscription_succeeded', (d) => { rec.succeeded = true; rec.data = d; });
    ch.bind('pusher:subscription_error', (e) => rec.errors.push(e));
    ch.bind('pusher:member_added', (m) => rec.added.push(m.id));
    ch.bind('pusher:member_removed', (m) => rec.removed.push(m.id));
    ch.bind_global((event, data) => {
      if (!event.startsWith('pusher:') && !event.startsWith('pusher_internal:')) rec.events.push({ event, data });
    });
    if (expectError) {
      await waitFor(() => {
        if (rec.succeeded) throw new GiveUp(`${this.name}: ${channel} subscribed although an error was expected`);
        return rec.errors.length > 0 || this.errors.length > errBefore;
      }, { timeout, what: `${this.name}: an error for ${channel}` });
      return rec;
    }
    await waitFor(() => {
      if (rec.errors.length) throw new GiveUp(`${this.name}: ${channel}: ${JSON.stringify(rec.errors)}`);
      return rec.succeeded;
    }, { timeout, what: `${this.name}: pusher:subscription_succeeded on ${channel}` });
    return rec;
  }

  /* Binds one event on a channel, recording {data, metadata} (bind_global
   * does not get the metadata that carries user_id). */
  record(channel, event) {
    const list = [];
    this.chans[channel].channel.bind(event, (data, metadata) => list.push({ data, metadata }));
    return list;
  }

  /* Sorted member ids of a presence channel as pusher-js sees them. */
  members(channel) {
    const m = this.chans[channel].channel.members;
    const ids = [];
    m.each((x) => ids.push(String(x.id)));
    return ids.sort();
  }

  trigger(channel, event, data) { return this.chans[channel].channel.trigger(event, data); }
  unsubscribe(channel) { this.pusher.unsubscribe(channel); }
  signin() { this.pusher.signin(); }
  disconnect() { this.pusher.disconnect(); }

  /* Frames of a given event (and channel) pusher-js received. */
  framesOf(event, channel) {
    return this.frames.filter((f) => f.event === event && (channel === undefined || f.channel === channel));
  }

  /* A ping round trip through pusher-js's own connection: once the pong is
   * back, every frame the edge queued for this client before has arrived. */
  async ping({ timeout = 10000 } = {}) {
    const from = this.frames.length;
    this.pusher.send_event('pusher:ping', {});
    await waitFor(() => this.frames.slice(from).some((f) => f.event === 'pusher:pong'),
      { timeout, what: `${this.name}: pusher:pong` });
  }
}

/* A tiny app server for the browser test: POST /pusher/auth and
 * /pusher/user-auth (form-encoded, as pusher-js's web build sends them,
 * answered with the SDK's signatures), and GET of registered static
 * files/strings. identity(req) gives {user, userInfo} for presence/sign-in. */
class AppServer {
  constructor(app, { identity = () => ({ user: 'browser-user', userInfo: { name: 'Browser' } }) } = {}) {
    this.app = app;
    this.identity = identity;
    this.routes = new Map(); /* path -> {type, body | file} */
    this.authRequests = [];
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  static(pathname, { type = 'text/html; charset=utf-8', body, file }) {
    this.routes.set(pathname, { type, body, file });
  }

  handle(req, res) {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && (url.pathname === '/pusher/auth' || url.pathname === '/pusher/user-auth')) {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const socketId = form.get('socket_id');
        const channel = form.get('channel_name');
        this.authRequests.push({ path: url.pathname, socketId, channel });
        try {
          const { user, userInfo } = this.identity(req);
          const body = url.pathname === '/pusher/auth'
            ? authorize(this.app, socketId, channel, { user, userInfo })
            : authenticate(this.app, socketId, user, userInfo);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        } catch (e) {
          res.writeHead(403, { 'content-type': 'text/plain' });
          res.end(String(e.message));
        }
      });
      return;
    }
    const r = this.routes.get(url.pathname);
    if (req.method !== 'GET' || !r) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store' });
    res.end(r.file ? fs.readFileSync(r.file) : r.body);
  }

  listen() {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = this.server.address().port;
      this.url = `http://127.0.0.1:${this.port}`;
      resolve(this);
    }));
  }

  close() {
    return new Promise((resolve) => {
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }
}

module.exports = { sdk, presenceData, authorize, authenticate, forge, subscribeAuthed, PjsClient, AppServer };
