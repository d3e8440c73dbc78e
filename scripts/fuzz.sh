#!/usr/bin/env bash
# Runs every fuzz target of the module for a while, then prints executions per target.
# Targets are found in the sources (every `func FuzzXxx(` in a _test.go file), so a target
# added anywhere is run without touching this script.
#
# Environment:
#   FUZZTIME          time per target (default 10s)
#   FUZZMINIMIZETIME  time to minimize each new interesting input (default 1s; Go's default
#                     of 60s let the targets with large seeds, conrep's and the demo
#                     loader's, spend their whole budget minimizing: 2-7 executions in 60s)
#   FUZZPARALLEL      fuzzing workers per target (default: go test's, GOMAXPROCS)
#   FUZZPKGS          space-separated package directories to limit the run (e.g. "./conrep ./demo")
# Exit status: 1 when a target failed (its crasher is kept under testdata/fuzz/ as go test does).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-10s}
mt=${FUZZMINIMIZETIME:-1s}
par=()
[ -n "${FUZZPARALLEL:-}" ] && par=(-parallel "$FUZZPARALLEL")

# targets: "DIR NAME" lines, sorted, from the sources.
targets() {
  local dirs=${FUZZPKGS:-.}
  dirs=$(printf '%s\n' $dirs | sed -E 's#^\./(.)#\1#') # "./x" would match --exclude-dir='.[!.]*'
  # shellcheck disable=SC2086 # FUZZPKGS is a list of directories
  grep -rE --include='*_test.go' --exclude-dir='.[!.]*' --exclude-dir=testdata \
    '^func Fuzz[A-Za-z0-9_]*\(' $dirs |
    sed -E 's#^(\./)?(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#./\2 \3#; s#^(\./)?[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#. \2#' |
    sed -E 's#^\./\./#./#' | sort -u
}

list=$(targets)
if [ -z "$list" ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi
results=()
failed=0
while read -r dir name; do
  echo "== $dir $name (fuzztime $t, minimizetime $mt)"
  log=$(mktemp)
  rc=0
  go test -run '^$' -fuzz "^$name\$" -fuzztime "$t" -fuzzminimizetime "$mt" "${par[@]}" "$dir" 2>&1 | tee "$log" || rc=$?
  # go test -fuzz reports progress as "fuzz: elapsed: 3s, execs: 12345 (4115/sec), ...".
  execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -n 1 || true)
  rm -f "$log"
  if [ "$rc" -ne 0 ]; then
    failed=1
    results+=("$(printf '  FAIL  %-12s %-24s %s' "$dir" "$name" "${execs:-no executions reported}")")
  else
    results+=("$(printf '  ok    %-12s %-24s %s' "$dir" "$name" "${execs:-no executions reported}")")
  fi
done <<<"$list"

echo
echo "== fuzz summary (fuzztime $t, minimizetime $mt)"
printf '%s\n' "${results[@]}"
exit "$failed"
