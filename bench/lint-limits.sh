#!/usr/bin/env bash
# Issue 17 #6, before and after, side by side in one run: lint (text, json, sarif) and
# compile on 8 MiB and 16 MiB of "[a]" lines (2 and 4 million doors) and on 16 MiB of
# "x=y" lines (4 million findings), with the built CLI of BEFORE (a git revision) and of
# this working tree, each built in a temporary directory. Wall time, peak RSS (/usr/bin/time -v)
# and exit code; a run is stopped after TIMEOUT seconds.
#   bench/lint-limits.sh [BEFORE] [TIMEOUT]     (BEFORE: default, the parent of the commit adding src/diagnostics/limit.ts)
#   bench/lint-limits.sh ... --write            (also writes bench/results/lint-limits.md)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WRITE=0
ARGS=()
for a in "$@"; do [[ "$a" == --write ]] && WRITE=1 || ARGS+=("$a"); done
added="$(git log --diff-filter=A --format=%H -- src/diagnostics/limit.ts | tail -1)"
BEFORE="${ARGS[0]:-${added:+$added^}}"
[[ -n "$BEFORE" ]] || { echo "give the revision to compare with" >&2; exit 2; }
BEFORE="$(git rev-parse --short "$BEFORE")"
TIMEOUT="${ARGS[1]:-120}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "building $BEFORE in $work/before ..." >&2
mkdir "$work/before"
git archive "$BEFORE" | tar -x -C "$work/before"
ln -s "$ROOT/node_modules" "$work/before/node_modules"
(cd "$work/before" && npm run --silent build >/dev/null)
# This tree, built apart too: dist/ may be rebuilt by someone else during the run.
echo "building this tree in $work/after ..." >&2
mkdir "$work/after"
cp -r package.json tsconfig.json src templates "$work/after/"
ln -s "$ROOT/node_modules" "$work/after/node_modules"
(cd "$work/after" && npm run --silent build >/dev/null)

python3 - "$work" <<'EOF'
import sys
w = sys.argv[1]
open(f'{w}/a8.conf', 'w').write('[a]\n' * (2 << 20))
open(f'{w}/a16.conf', 'w').write('[a]\n' * (4 << 20))
open(f'{w}/x16.conf', 'w').write('x=y\n' * (4 << 20))
EOF

measure() { # CLI ARGS... -> "seconds peak_MB exit"
  local cli="$1"
  shift
  local t="$work/time"
  set +e
  /usr/bin/time -v -o "$t" timeout -s KILL "$TIMEOUT" node "$cli" "$@" >/dev/null 2>"$work/err"
  local rc=$?
  set -e
  local secs rss
  secs="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$t")"
  rss="$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$t")"
  local why=""
  grep -q 'internal error' "$work/err" && why=" internal error"
  grep -q 'heap out of memory' "$work/err" && why=" heap out of memory"
  local mem="$rss MB"
  # Killed: time saw only timeout(1), not the node it ran.
  ((rc == 137)) && why=" killed after ${TIMEOUT} s" && mem="-"
  echo "$secs s | $mem | $rc$why"
}

out="$work/report.md"
{
  echo "# lint and compile on huge configs: $BEFORE vs this tree"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, node $(node --version), timeout ${TIMEOUT} s. a8 / a16: 8 / 16 MiB of"
  echo "\`[a]\` lines (2 / 4 million doors); x16: 16 MiB of \`x=y\` lines (4 million findings). \`bench/lint-limits.sh\`."
  echo
  echo "| input | command | before: time | peak RSS | exit | after: time | peak RSS | exit |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
} >"$out"
for input in a8 a16 x16; do
  for cmd in "lint" "lint -f json" "lint -f sarif" "compile"; do
    # shellcheck disable=SC2086
    b="$(measure "$work/before/dist/cli.js" $cmd "$work/$input.conf")"
    # shellcheck disable=SC2086
    a="$(measure "$work/after/dist/cli.js" $cmd "$work/$input.conf")"
    line="| $input.conf | $cmd | $b | $a |"
    echo "$line" >>"$out"
    echo "$line" >&2
  done
done
cat "$out"
if ((WRITE)); then
  mkdir -p bench/results
  cp "$out" bench/results/lint-limits.md
fi
