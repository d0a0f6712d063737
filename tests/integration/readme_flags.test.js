'use strict';
/* README.md must tell the truth about flags: every flag that a binary's
 * --help lists has a row in that binary's README table (`| \`--flag`), and
 * every row names a flag the binary still has. swb-bench's flags are
 * documented in tests/bench/README.md. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const bin = process.env.SWB_BIN_DIR || path.join(__dirname, '..', '..', 'build', 'bin');
const root = path.join(__dirname, '..', '..');

function helpFlags(name) {
  const out = execFileSync(path.join(bin, name), ['--help'], { encoding: 'utf8' });
  const flags = new Set();
  for (const m of out.matchAll(/^\s+(--[a-z0-9-]+)/gm)) flags.add(m[1]);
  flags.delete('--help');
  flags.delete('--version');
  assert.ok(flags.size > 0, `${name} --help lists no flags`);
  return flags;
}

/* The rows of the table under the README heading that starts with `### \`NAME`. */
function tableFlags(readme, name) {
  const start = readme.indexOf('### `' + name);
  assert.ok(start >= 0, `README has no section for ${name}`);
  const next = readme.indexOf('\n## ', start + 1);
  const nextSub = readme.indexOf('\n### ', start + 1);
  const end = Math.min(...[next, nextSub].filter((i) => i > 0), readme.length);
  const flags = new Set();
  for (const m of readme.slice(start, end).matchAll(/^\| `(--[a-z0-9-]+)/gm)) flags.add(m[1]);
  return flags;
}

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

for (const name of ['swb-edge', 'swb-bridge', 'swbctl']) {
  test(`README's ${name} table matches ${name} --help`, () => {
    const have = helpFlags(name);
    const documented = tableFlags(readme, name);
    const missing = [...have].filter((f) => !documented.has(f));
    const stale = [...documented].filter((f) => !have.has(f));
    assert.deepEqual(missing, [], `flags of ${name} missing from README.md`);
    assert.deepEqual(stale, [], `README.md documents flags ${name} no longer has`);
  });
}

test('tests/bench/README.md documents every swb-bench flag', () => {
  const benchReadme = fs.readFileSync(path.join(root, 'tests', 'bench', 'README.md'), 'utf8');
  const missing = [...helpFlags('swb-bench')].filter((f) => !benchReadme.includes('`' + f));
  assert.deepEqual(missing, [], 'swb-bench flags missing from tests/bench/README.md');
});
