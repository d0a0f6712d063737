'use strict';
/* Constant-time comparison audit (docs/security.md): every comparison of
 * a secret-derived value (signature, HMAC, body_md5, secret, auth) in the
 * C sources goes through swb_ct_equal (CRYPTO_memcmp), never memcmp /
 * strcmp / strncmp / bcmp, whose time reveals how many leading bytes of
 * a guess were right. The unit test test_common.c test_ct_equal checks
 * swb_ct_equal itself. This test fails on a new plain comparison whose
 * arguments (string literals aside) name such a value. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const SECRETISH = /\b\w*(sig|signature|secret|hmac|md5|mac|auth|digest|sha[0-9]*|hex)\w*\b/i;
const COMPARE = /\b(memcmp|strcmp|strncmp|strcasecmp|strncasecmp|bcmp)\s*\(/;

function cFiles(dir) {
  return fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith('.c')).map((f) => path.join(dir, f));
}

test('no secret-derived value is compared with memcmp/strcmp', () => {
  const offenders = [];
  let ct = 0;
  for (const file of [...cFiles('edge'), ...cFiles('bridge'), ...cFiles('common')]) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/"(\\.|[^"\\])*"/g, '""').replace(/\/\*.*?\*\//g, '');
      if (/swb_ct_equal\s*\(/.test(code)) ct++;
      if (COMPARE.test(code) && SECRETISH.test(code.slice(code.search(COMPARE)))) {
        offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(offenders, [], 'plain comparisons of secret-derived values');
  /* The checks that must be constant-time do use it: channel/sign-in auth
   * (key, signature) and the HTTP API (key, body_md5, signature). */
  assert.ok(ct >= 5, `expected at least 5 swb_ct_equal calls in edge/, found ${ct}`);
});
