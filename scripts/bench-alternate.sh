#!/usr/bin/env bash
# Alternates the test binaries of one package at several commits, as
# BENCHMARKS.md's "test binaries alternated" figures are measured: on a
# shared machine a burst of other work then hits every commit alike. For
# each commit and benchmark it prints every run's ns/op and allocs/op, in
# the order they ran, and the median ns/op.
#
#   scripts/bench-alternate.sh PACKAGE BENCH RUNS COMMIT...
#   scripts/bench-alternate.sh ./clickstore/track \
#       '^BenchmarkHandler$/^(bare-handler|tracked)$' 6 7ea7c53 HEAD
#
# COMMIT may be any revision; "." is the working tree as it is. Extra
# test flags go in BENCHFLAGS (default: -test.benchtime 150ms).
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,13p' "$0"; exit 2; }
cd "$(dirname "$0")/.."
pkg=$1 bench=$2 runs=$3
shift 3
tmp=$(mktemp -d)
cleanup() {
	for d in "$tmp"/src-*; do [ -d "$d" ] && git worktree remove --force "$d"; done
	rm -rf "$tmp"
}
trap cleanup EXIT
i=0
for rev in "$@"; do
	i=$((i + 1))
	if [ "$rev" = . ]; then
		src=.
	else
		src=$tmp/src-$i
		git worktree add -q --detach "$src" "$rev"
	fi
	(cd "$src" && go test -c -o "$tmp/bin-$i" "$pkg")
done
dir=$(go list -f '{{.Dir}}' "$pkg") # the binaries run where go test runs them
uptime
for _ in $(seq "$runs"); do
	i=0
	for rev in "$@"; do
		i=$((i + 1))
		(cd "$dir" && "$tmp/bin-$i" -test.run '^$' -test.bench "$bench" -test.benchmem ${BENCHFLAGS:--test.benchtime 150ms}) |
			awk -v rev="$rev" '/^Benchmark/ {print rev, $1, $3, $7}'
	done
done | awk '{print; k = $1 " " $2; ns[k] = ns[k] " " $3}
END {
	print "medians (ns/op):"
	for (k in ns) {
		n = split(substr(ns[k], 2), v, " ")
		for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (v[b] + 0 < v[a] + 0) { t = v[a]; v[a] = v[b]; v[b] = t }
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		print "  " k ": " m
	}
}'
