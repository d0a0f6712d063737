'use strict';
/* wait.js: bounded waiting for conditions. Tests never sleep in place of a
 * condition: they poll the condition until it holds or a deadline passes,
 * and the error says what was being waited for. */

const { setTimeout: delay } = require('node:timers/promises');

/* Thrown by a condition to stop waiting at once (e.g. the process being
 * waited for has exited); waitFor rethrows it. */
class GiveUp extends Error {}

/* SWB_TEST_SLOW (a factor, default 1): every bounded wait is that many times
 * longer, for daemons running under valgrind (see docs/testing.md). */
const SLOW = Math.max(1, Number(process.env.SWB_TEST_SLOW) || 1);

/* Polls cond() (sync or async) every `interval` ms until it returns a truthy
 * value, which is returned. A cond that throws counts as "not yet" (its last
 * error is quoted when the timeout expires), except GiveUp, which ends the
 * wait at once. */
async function waitFor(cond, { timeout = 10000, interval = 25, what = 'condition' } = {}) {
  timeout *= SLOW;
  const deadline = Date.now() + timeout;
  let lastErr = null;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
      lastErr = null;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? ` (last error: ${lastErr.message || lastErr})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await delay(interval);
  }
}

module.exports = { waitFor, GiveUp, SLOW };
