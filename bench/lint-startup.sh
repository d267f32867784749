#!/usr/bin/env bash
# Time `knockc lint` on a typical config, Node start-up included: 20 runs,
# prints the mean. Uses hyperfine when installed (apt-get install hyperfine),
# a bash loop otherwise. Builds dist/ first if it is missing.
#   bench/lint-startup.sh [CONFIG] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CONFIG="${1:-fixtures/seed-fr-monitoring-opencloseSSH.conf}"
RUNS="${2:-20}"
[[ -f dist/cli.js ]] || npx tsc -p tsconfig.json
CMD="node dist/cli.js lint $CONFIG"
# The config must lint without an error for the timing to mean anything.
node dist/cli.js lint "$CONFIG" >/dev/null 2>&1 || { rc=$?; [[ $rc -le 1 ]] || { echo "lint failed (exit $rc): $CMD" >&2; exit 1; }; }

if command -v hyperfine >/dev/null 2>&1; then
  json="$(mktemp)"
  trap 'rm -f "$json"' EXIT
  # -i: lint exits 1 when the config has error findings; that is still a timing.
  hyperfine -N -i --warmup 3 --runs "$RUNS" --export-json "$json" "$CMD" >&2
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results[0];
    const ms = (s) => (s * 1000).toFixed(1);
    console.log(`lint start-up: mean ${ms(r.mean)} ms ± ${ms(r.stddev)} ms (min ${ms(r.min)}, max ${ms(r.max)}, ${r.times.length} runs, hyperfine)`);
  ' "$json"
else
  for _ in 1 2 3; do $CMD >/dev/null 2>&1 || true; done # warm-up (page cache)
  total=0
  min=""
  max=0
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    $CMD >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000))
    total=$((total + ms))
    ((ms > max)) && max=$ms
    [[ -z "$min" || $ms -lt $min ]] && min=$ms
  done
  awk -v t="$total" -v n="$RUNS" -v lo="$min" -v hi="$max" \
    'BEGIN { printf "lint start-up: mean %.1f ms (min %.1f, max %.1f, %d runs, bash loop)\n", t / n / 1000, lo / 1000, hi / 1000, n }'
fi
