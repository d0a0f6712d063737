#!/usr/bin/env bash
# plot.sh: latency (p50, p99) against delivery rate, Switchboard vs the
# socket.io anchor, as a PNG (gnuplot; Debian: apt-get install gnuplot-nox).
#
#   tests/bench/plot.sh OUT.png SWB_BROADCAST.json[,...] [ANCHOR_FANOUT.json[,...]]
#
# SWB_BROADCAST.json: swb-bench reports (broadcast.sh / cross_host.sh), one
# point per step: deliveries_per_s, latency_ms.p50 / p99 (steps with losses
# are left out). ANCHOR_FANOUT.json: the anchor's c-fanout-S*.json (its
# loadgen's series[].steps[]: achieved_deliveries_per_s, latency.p50_ms /
# p99_ms). The CSVs used are written next to the PNG (OUT.swb.csv,
# OUT.anchor.csv).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OUT.png SWB.json[,...] [ANCHOR.json[,...]]" >&2; exit 2; }
out=$1 swb=$2 anchor=${3:-}
command -v gnuplot >/dev/null || { echo "gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
base=${out%.png}
node -e '
const fs = require("fs");
const [swb, anchor, base] = process.argv.slice(1);
const rows = (files, pick) => files ? files.split(",").flatMap((f) => pick(JSON.parse(fs.readFileSync(f, "utf8")))) : [];
const s = rows(swb, (r) => r.steps.filter((x) => x.lost === 0 && x.latency_ms && x.latency_ms.p99 !== null)
  .map((x) => [x.deliveries_per_s, x.latency_ms.p50, x.latency_ms.p99]));
const a = rows(anchor, (r) => r.series.flatMap((se) => se.steps)
  .filter((x) => x.missing === 0 && x.latency && x.latency.p99_ms !== null)
  .map((x) => [x.achieved_deliveries_per_s, x.latency.p50_ms, x.latency.p99_ms]));
const csv = (v) => v.sort((p, q) => p[0] - q[0]).map((x) => x.join(",")).join("\n") + "\n";
fs.writeFileSync(`${base}.swb.csv`, csv(s));
fs.writeFileSync(`${base}.anchor.csv`, csv(a));
' "$swb" "$anchor" "$base"
plots="'$base.swb.csv' using 1:2 with linespoints lw 2 pt 7 title 'Switchboard p50', \
'$base.swb.csv' using 1:3 with linespoints lw 2 pt 5 title 'Switchboard p99'"
if [ -s "$base.anchor.csv" ]; then
  plots="$plots, '$base.anchor.csv' using 1:2 with linespoints lw 2 dt 2 pt 6 title 'socket.io + redis-adapter p50', \
'$base.anchor.csv' using 1:3 with linespoints lw 2 dt 2 pt 4 title 'socket.io + redis-adapter p99'"
fi
gnuplot <<GP
set terminal pngcairo size 900,560 font "sans,10"
set output '$out'
set datafile separator ','
set title 'Broadcast latency (publish -> receive) vs delivery rate, 1,000 subscribers over 2 hosts, one 2-core box'
set xlabel 'deliveries per second'
set ylabel 'latency (ms)'
set logscale xy
set grid
set key left top
plot $plots
GP
echo "$out"
