'use strict';
/* table.js: markdown rows from swb-bench JSON reports (for docs/benchmarks.md).
 *   node tests/bench/table.js REPORT.json [...]
 * One row per step: file, subscribers, rate/s, deliveries/s, lost, dup,
 * p50/p99/p99.9/max ms, server CPU % and µs per delivery. */
const fs = require('fs');
const f = (x, d = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
console.log('| run | conns | rate/s | deliv/s | lost | dup | p50 ms | p99 ms | p99.9 ms | max ms | srv CPU % | srv µs/deliv |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const file of process.argv.slice(2)) {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  const name = file.split('/').slice(-2).join('/');
  for (const s of r.steps) {
    const l = s.latency_ms || {};
    console.log(`| ${name} | ${r.config.connections} | ${s.rate} | ${Math.round(s.deliveries_per_s)} | ${s.lost} | ${s.duplicates} | ` +
      `${f(l.p50)} | ${f(l.p99)} | ${f(l.p999)} | ${f(l.max)} | ${f(s.server_cpu_pct, 1)} | ${f(s.server_cpu_us_per_delivery)} |`);
  }
}
