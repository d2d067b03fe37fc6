#!/usr/bin/env bash
# Runs every fuzz target in the module for a fixed number of executions.
#
# The budget is a count (-fuzztime=Nx), not a duration: with a duration, Go's
# fuzz coordinator (go1.26 and earlier) can report a bare "context deadline
# exceeded" failure when the deadline fires while a worker is mid-input
# (golang/go#75804), which fails CI with no crasher to show for it. A count
# has no deadline to race; a slow machine only takes longer.
#
# FUZZEXECS (default 50000) is the budget of a fast target. Targets whose
# inputs are expensive (a streaming Writer fed in chunks, a report built from
# a whole rollup) run a fifth of it so each target takes a few seconds
# here.
#
# Most of a cold run used to be compilation: `go test -fuzz` accepts one
# target per run and built and linked the instrumented test binary again for
# each. Now each package's fuzz binary is built once (`go test -c -fuzz`,
# which instruments it the same way) and run once per target, from the
# package directory so that testdata/fuzz seeds are found, with the fuzz
# cache `go test` itself would use. A real finding is written under
# testdata/fuzz and fails the run.
set -euo pipefail
GO=${GO:-go}
FUZZEXECS=${FUZZEXECS:-50000}
bin=$(mktemp -d)
log=$bin/log
trap 'rm -rf "$bin"' EXIT
cache=$($GO env GOCACHE)/fuzz
stamp() { date -u +%H:%M:%S; }
n=0
while read -r pkg dir; do
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
  [ -n "$targets" ] || continue
  start=$SECONDS
  exe=$bin/$(echo "$pkg" | tr / _).test
  if ! $GO test -c -fuzz=. -o "$exe" "$pkg" >"$log" 2>&1; then
    cat "$log"
    echo "fuzz: $pkg does not build"
    exit 1
  fi
  echo "$(stamp) fuzz $pkg: built in $((SECONDS - start))s; targets: $(echo $targets)"
  for target in $targets; do
    execs=$FUZZEXECS
    case "$target" in
      FuzzWriter | FuzzReport) execs=$((FUZZEXECS / 5)) ;;
    esac
    start=$SECONDS
    if ! (cd "$dir" && "$exe" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="${execs}x" \
      -test.timeout=10m -test.fuzzcachedir="$cache/$pkg") >"$log" 2>&1; then
      cat "$log"
      echo "fuzz: $pkg $target failed after $n passed"
      exit 1
    fi
    echo "$(stamp) fuzz $pkg $target: ${execs} execs, $((SECONDS - start))s"
    n=$((n + 1))
  done
done < <($GO list -f '{{.ImportPath}} {{.Dir}}' ./...)
echo "$(stamp) fuzz: $n passed, 0 failed"
