'use strict';
/* check_report.js FILE SCENARIO: assert an swb-bench JSON report (smoke.sh).
 * Keys must exist; correctness must hold (no losses, no duplicates,
 * deliveries == expected); timings are never asserted. */
const fs = require('node:fs');
const [file, scenario] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const errors = [];
const need = (obj, keys, where) => {
  for (const k of keys) if (!(k in obj)) errors.push(`missing key ${where}.${k}`);
};
need(r, ['tool', 'version', 'mode', 'ok', 'error', 'config', 'setup', 'steps', 'stopped_early', 'totals',
         'processes', 'memory', 'wall_s'], 'report');
need(r.config, ['targets', 'publish_target', 'connections', 'workers', 'pattern', 'channels', 'rate_steps'], 'config');
need(r.setup, ['requested', 'subscribed', 'failed', 'seconds', 'connect_rate', 'handshake_ms'], 'setup');
need(r.totals, ['expected', 'received', 'lost', 'duplicates', 'late', 'http_errors', 'disconnects'], 'totals');
need(r.memory, ['server_rss_start_kb', 'server_rss_kb', 'server_hwm_kb', 'server_rss_per_connection_kb',
                'kernel_tcp_sockets', 'kernel_tcp_buffers_kb'], 'memory');
if (r.ok !== true) errors.push(`ok is ${r.ok}: ${r.error}`);
if (r.setup.subscribed !== r.config.connections || r.setup.failed !== 0)
  errors.push(`setup: ${r.setup.subscribed} of ${r.config.connections} subscribed, ${r.setup.failed} failed`);
if (!r.processes.length) errors.push('no server processes measured');
for (const p of r.processes) {
  need(p, ['pid', 'name', 'cpu_s', 'rss_kb', 'hwm_kb'], 'processes[]');
  if (p.exited) errors.push(`server process ${p.pid} (${p.name}) exited during the run`);
}
if (r.mode === 'idle') {
  if (typeof r.memory.server_rss_per_connection_kb !== 'number') errors.push('idle: no RSS per connection');
} else {
  if (!r.steps.length) errors.push('no steps');
  for (const s of r.steps) {
    need(s, ['rate', 'publishes_ok', 'expected', 'received', 'lost', 'duplicates', 'deliveries_per_s',
             'latency_ms', 'server_cpu_s', 'server_cpu_us_per_delivery'], 'steps[]');
    need(s.latency_ms, ['p50', 'p90', 'p99', 'p999', 'max'], 'steps[].latency_ms');
  }
  const t = r.totals;
  if (!(t.expected > 0)) errors.push('expected no deliveries at all');
  if (t.received !== t.expected) errors.push(`received ${t.received} != expected ${t.expected}`);
  if (t.lost !== 0) errors.push(`lost ${t.lost}`);
  if (t.duplicates !== 0) errors.push(`duplicates ${t.duplicates}`);
  if (t.http_errors !== 0) errors.push(`http errors ${t.http_errors}`);
  if (t.disconnects !== 0) errors.push(`disconnects ${t.disconnects}`);
}
if (errors.length) {
  console.log(`FAIL: ${scenario}: ${errors.join('; ')}`);
  process.exit(1);
}
const t = r.totals;
console.log(`ok: ${scenario}: ${r.setup.subscribed} subscribed` +
            (r.mode === 'idle' ? `, ${r.memory.server_rss_per_connection_kb} KiB RSS/connection`
                               : `, ${t.received}/${t.expected} deliveries, 0 lost, 0 duplicates`));
