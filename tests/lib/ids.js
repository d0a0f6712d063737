'use strict';
/* ids.js: unique ids for event data, channel names and prefixes, so every
 * delivery can be counted and tests sharing a Redis never collide. */

const crypto = require('node:crypto');

let seq = 0;
const run = crypto.randomBytes(3).toString('hex');
function uniqueId(prefix = 'e') { return `${prefix}-${run}-${++seq}`; }

module.exports = { uniqueId };
