#!/usr/bin/env bash
# Times examples/anonymize against anonip on the reference access log, as
# BENCHMARKS.md's anonymize section reports: anonip, anonymize on every
# core, anonymize on one (-j 1), and two one-core processes at once (what
# the machine's cores give together). With a commit as the argument, its
# anonymize is timed beside this one's, one core each, by hyperfine, which
# runs all of one command's runs before the other's (it does not
# interleave them): on a shared machine run it twice and compare. Needs
# hyperfine and anonip (apt-get install hyperfine anonip).
#
#   scripts/anonymize-bench.sh            # the figures of the section
#   scripts/anonymize-bench.sh e767ee0    # one core, against that commit
set -euo pipefail
cd "$(dirname "$0")/.."
log=${CLICKANON_ACCESS_LOG:-/tmp/access.log}
[ -s "$log" ] || (cd ../shared/tools/genlog && go run . -o "$log")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; git worktree remove --force "$tmp/base" 2>/dev/null || true' EXIT
go build -o "$tmp/anonymize" ./examples/anonymize
uptime
if [ $# -gt 0 ]; then
	git worktree add -q --detach "$tmp/base" "$1"
	(cd "$tmp/base" && go build -o "$tmp/anonymize-base" ./examples/anonymize)
	hyperfine --warmup 3 --runs 20 \
		"$tmp/anonymize-base -j 1 < $log > /dev/null" \
		"$tmp/anonymize -j 1 < $log > /dev/null"
	exit
fi
RE='^(\S+) [^"]*"[^"]*" \d+ \d+ "[^"]*" "[^"]*"(?: "([^",]+)(?:, ([^",]+))?(?:, ([^",]+))?")?$'
hyperfine --warmup 1 --runs 5 \
	"anonip -4 8 -6 80 --regex '$RE' < $log > /dev/null" \
	"$tmp/anonymize < $log > /dev/null" \
	"$tmp/anonymize -j 1 < $log > /dev/null" \
	"sh -c '$tmp/anonymize -j 1 < $log > /dev/null & $tmp/anonymize -j 1 < $log > /dev/null; wait'"
