'use strict';
/* prom.js: a strict parser of the Prometheus text exposition format
 * (version 0.0.4), for tests. It throws on anything a scraper would
 * reject or that our metrics must never do: a sample without a # TYPE
 * before it, a family declared twice, a malformed name, label set or
 * value, a duplicate series, a histogram whose buckets are not cumulative
 * or whose +Inf bucket differs from _count, a counter not ending in _total,
 * a label value that looks like a channel name or socket id is left to the
 * caller (see forbidLabels).
 *
 *   const fams = parse(text);          // Map name -> {type, help, samples}
 *   value(fams, 'swb_x_total')         // the unlabelled sample's value
 *   value(fams, 'swb_y', {code: '200'})
 */

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s, line) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value '${s}' in: ${line}`);
  return Number(s);
}

/* {a="x",b="y"} -> {a:'x', b:'y'}; s starts after '{'. Returns [labels, rest]. */
function parseLabels(s, line) {
  const labels = {};
  let i = 0;
  while (s[i] !== '}') {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    if (!m) throw new Error(`bad label in: ${line}`);
    const key = m[1];
    i += m[0].length;
    let v = '';
    for (;;) {
      if (i >= s.length) throw new Error(`unterminated label value in: ${line}`);
      const ch = s[i++];
      if (ch === '"') break;
      if (ch === '\\') {
        const e = s[i++];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`bad escape \\${e} in: ${line}`);
      } else {
        v += ch;
      }
    }
    if (key in labels) throw new Error(`duplicate label ${key} in: ${line}`);
    labels[key] = v;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
  return [labels, s.slice(i + 1)];
}

function familyOf(fams, name) {
  if (fams.has(name)) return fams.get(name);
  for (const suf of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suf)) {
      const f = fams.get(name.slice(0, -suf.length));
      if (f && f.type === 'histogram') return f;
    }
  }
  return null;
}

function parseSample(fams, line) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)/.exec(line);
  if (!m) throw new Error(`bad sample line: ${line}`);
  const name = m[1];
  let rest = line.slice(name.length);
  let labels = {};
  if (rest[0] === '{') [labels, rest] = parseLabels(rest.slice(1), line);
  const parts = rest.trim().split(/\s+/);
  if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`bad sample line: ${line}`);
  const fam = familyOf(fams, name);
  if (!fam) throw new Error(`sample ${name} has no # TYPE before it`);
  const key = name + JSON.stringify(Object.entries(labels).sort());
  if (fam.keys.has(key)) throw new Error(`duplicate series: ${line}`);
  fam.keys.add(key);
  fam.samples.push({ name, labels, value: parseValue(parts[0], line) });
}

function checkHistogram(f) {
  const groups = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    if (!groups.has(k)) groups.set(k, { buckets: [], sum: null, count: null });
    const g = groups.get(k);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([parseValue(le, le), s.value]);
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else if (s.name.endsWith('_count')) g.count = s.value;
    else throw new Error(`${f.name}: plain sample in a histogram`);
  }
  for (const g of groups.values()) {
    if (g.sum === null || g.count === null) throw new Error(`${f.name}: _sum or _count missing`);
    let prev = -Infinity; let prevN = 0;
    for (const [le, n] of g.buckets) {
      if (!(le > prev)) throw new Error(`${f.name}: buckets not in ascending le order`);
      if (n < prevN) throw new Error(`${f.name}: buckets not cumulative`);
      prev = le; prevN = n;
    }
    if (prev !== Infinity) throw new Error(`${f.name}: no +Inf bucket`);
    if (prevN !== g.count) throw new Error(`${f.name}: +Inf bucket ${prevN} != _count ${g.count}`);
  }
}

function parse(text) {
  const fams = new Map();
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m || !NAME.test(m[2])) throw new Error(`bad comment line: ${line}`);
      const [, kind, name, arg = ''] = m;
      let f = fams.get(name);
      if (!f) {
        f = { name, type: null, help: null, samples: [], keys: new Set() };
        fams.set(name, f);
      }
      if (kind === 'TYPE') {
        if (f.type) throw new Error(`# TYPE ${name} given twice`);
        if (f.samples.length) throw new Error(`# TYPE ${name} after its samples`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(arg)) throw new Error(`bad type: ${line}`);
        f.type = arg;
      } else {
        if (f.help !== null) throw new Error(`# HELP ${name} given twice`);
        f.help = arg;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    parseSample(fams, line);
  }
  for (const f of fams.values()) {
    if (!f.type) throw new Error(`${f.name}: no # TYPE`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new Error(`counter ${f.name} does not end in _total`);
    if (f.type === 'histogram') checkHistogram(f);
    for (const s of f.samples) for (const k of Object.keys(s.labels)) if (!LABEL.test(k)) throw new Error(`bad label name ${k}`);
  }
  return fams;
}

/* The value of the sample `name` whose labels include `labels` exactly
 * (every given label equal, no other label unless given); undefined if none. */
function value(fams, name, labels = {}) {
  const f = familyOf(fams, name);
  if (!f) return undefined;
  const want = Object.entries(labels);
  for (const s of f.samples) {
    if (s.name !== name) continue;
    if (Object.keys(s.labels).length !== want.length) continue;
    if (want.every(([k, v]) => s.labels[k] === v)) return s.value;
  }
  return undefined;
}

/* Throws if any label value of any sample (but a histogram's le) matches
 * re (e.g. channel names, socket ids). */
function forbidLabels(fams, re) {
  for (const f of fams.values()) {
    for (const s of f.samples) {
      for (const [k, v] of Object.entries(s.labels)) {
        if (k !== 'le' && re.test(v)) throw new Error(`${s.name}: label ${k}="${v}" looks unbounded`);
      }
    }
  }
}

module.exports = { parse, value, forbidLabels };
