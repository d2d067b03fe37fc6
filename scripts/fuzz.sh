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
# here. go test accepts one -fuzz target per run, so this walks them one by
# one; a real finding is written under testdata/fuzz and fails the run.
set -euo pipefail
GO=${GO:-go}
FUZZEXECS=${FUZZEXECS:-50000}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0
for pkg in $($GO list ./...); do
  dir=$($GO list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    execs=$FUZZEXECS
    case "$target" in
      FuzzWriter | FuzzReport) execs=$((FUZZEXECS / 5)) ;;
    esac
    start=$SECONDS
    if ! $GO test -run='^$' -fuzz="^${target}\$" -fuzztime="${execs}x" -timeout=10m "$pkg" >"$log" 2>&1; then
      cat "$log"
      echo "fuzz: $pkg $target failed after $n passed"
      exit 1
    fi
    echo "fuzz $pkg $target: ${execs} execs, $((SECONDS - start))s"
    n=$((n + 1))
  done
done
echo "fuzz: $n passed, 0 failed"
