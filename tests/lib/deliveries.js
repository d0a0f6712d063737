'use strict';
/* deliveries.js: exactly-once bookkeeping for fan-out tests. Every published
 * event carries a unique id in its data; a Ledger records which clients must
 * get which id, waits until they all have, and then asserts, for every
 * client and every id, a count of exactly 1 (expected) or 0 (not). */

const assert = require('node:assert/strict');
const { waitFor, SLOW } = require('./wait');
const { uniqueId } = require('./ids');

/* The id inside an application event's data string, or undefined. */
function idOf(msg) {
  if (typeof msg.data !== 'string') return undefined;
  try {
    const d = JSON.parse(msg.data);
    return d && typeof d === 'object' ? d.id : undefined;
  } catch (e) {
    return undefined;
  }
}

function countIds(client) {
  const counts = new Map();
  for (const m of client.events()) {
    const id = idOf(m);
    if (id !== undefined) counts.set(id, (counts.get(id) || 0) + 1);
  }
  return counts;
}

class Ledger {
  /* clients: every client that might receive anything (PusherClient). */
  constructor(clients) {
    this.clients = clients;
    this.expected = new Map(); /* id -> {to: Set(client), event, channel(s), data} */
  }

  /* Records that exactly `to` must receive id (as event `event` with data
   * string `data` on one of `channels`). */
  expect(id, to, { event, channels, data } = {}) {
    this.expected.set(id, { to: new Set(to), event, channels, data });
  }

  /* Waits until every expected delivery is there. */
  waitAll({ timeout = 10000 } = {}) {
    return waitFor(() => {
      for (const c of this.clients) {
        const counts = countIds(c);
        for (const [id, e] of this.expected) {
          if (e.to.has(c) && !counts.get(id)) return false;
        }
      }
      return true;
    }, { timeout, what: 'all expected deliveries' }).catch((err) => {
      throw new Error(`${err.message}\n${this.report()}`);
    });
  }

  report() {
    const lines = [];
    for (const c of this.clients) {
      const counts = countIds(c);
      const missing = [];
      const extra = [];
      for (const [id, e] of this.expected) {
        const n = counts.get(id) || 0;
        if (e.to.has(c) && n !== 1) missing.push(`${id}x${n}`);
        if (!e.to.has(c) && n !== 0) extra.push(`${id}x${n}`);
      }
      if (missing.length || extra.length) {
        lines.push(`  ${c.name} (${c.socketId}): wrong count for expected [${missing.join(', ')}] unexpected [${extra.join(', ')}]`);
      }
    }
    return lines.length ? `deliveries:\n${lines.join('\n')}` : 'deliveries: all as expected';
  }

  /* The exactly-once / nobody-else assertion, plus the frame format. */
  assertExact() {
    for (const c of this.clients) {
      const counts = countIds(c);
      for (const [id, e] of this.expected) {
        const n = counts.get(id) || 0;
        assert.equal(n, e.to.has(c) ? 1 : 0,
          `${c.name}: event ${id} received ${n} times, expected ${e.to.has(c) ? 1 : 0}\n${this.report()}`);
      }
      for (const m of c.events()) {
        const e = this.expected.get(idOf(m));
        if (!e) continue;
        assert.equal(typeof m.data, 'string', `${c.name}: data must be a string: ${JSON.stringify(m)}`);
        if (e.event !== undefined) assert.equal(m.event, e.event, `${c.name}: event name`);
        if (e.data !== undefined) assert.equal(m.data, e.data, `${c.name}: data must arrive unchanged`);
        if (e.channels !== undefined) {
          assert.ok(e.channels.includes(m.channel), `${c.name}: channel ${m.channel} not in ${e.channels}`);
        }
      }
    }
  }
}

/* Publishes probe events (name "probe") through `publish(body)` until every
 * client in `clients` has received one; returns the number of probes sent.
 * Used to wait until interest has reached every bridge and edge (or until
 * delivery resumed after a fault) by observing delivery itself. A publish
 * that fails (503 while Redis or the bridge is down) counts as "not yet". */
async function waitDeliveryWorks(publish, channel, clients, { timeout = 15000, perTry = 1000 } = {}) {
  const deadline = Date.now() + timeout * SLOW;
  let sent = 0;
  let lastErr = null;
  for (;;) {
    const id = uniqueId('probe');
    try {
      await publish({ name: 'probe', channels: [channel], data: JSON.stringify({ id, probe: true }) });
      sent++;
      const left = Math.max(1, Math.min(perTry, deadline - Date.now()));
      await waitFor(() => clients.every((c) => c.events({ event: 'probe' }).some((m) => idOf(m) === id)),
        { timeout: left, what: 'probe delivery' });
      return sent;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const who = clients.filter((c) => !c.events({ event: 'probe' }).length).map((c) => c.name);
      throw new Error(`delivery on ${channel} did not work within ${timeout} ms ` +
        `(${sent} probes accepted; clients without any probe: [${who.join(', ')}]; last: ${lastErr && lastErr.message})`);
    }
  }
}

module.exports = { Ledger, idOf, countIds, waitDeliveryWorks };
