#!/usr/bin/env bash
# Times examples/anonymize against anonip on the reference access log, as
# BENCHMARKS.md's anonymize section reports: anonip, anonymize on every
# core, anonymize on one (-j 1), and two one-core processes at once (what
# the machine's cores give together). With a commit as the argument, its
# anonymize is timed beside this one's, one core each, by hyperfine, which
# runs all of one command's runs before the other's (it does not
# interleave them): on a shared machine run it twice and compare; then
# both on every core, alternated, each run timed on its own. Needs
# hyperfine, anonip and python3 (apt-get install hyperfine anonip python3).
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
	# The same two on every core, alternated 15 times, so that a burst
	# of other work hits both alike: each one's times, sorted, in ms.
	for _ in $(seq 15); do
		for b in anonymize-base anonymize; do
			s=$(date +%s%N)
			"$tmp/$b" < "$log" > /dev/null
			echo "$b $(($(date +%s%N) - s))"
		done
	done | sort -k1,1 -k2,2n | awk '{t[$1] = t[$1] sprintf(" %.1f", $2 / 1e6)} END {for (b in t) print b " (every core):" t[b]}'
	exit
fi
RE='^(\S+) [^"]*"[^"]*" \d+ \d+ "[^"]*" "[^"]*"(?: "([^",]+)(?:, ([^",]+))?(?:, ([^",]+))?")?$'
# anonip takes seconds a run, anonymize a tenth of one: anonymize gets 20
# runs, so that a run that a burst of other work hits moves its mean less;
# the ratios to anonip's time are printed at the end.
hyperfine --warmup 1 --runs 5 --export-json "$tmp/anonip.json" \
	"anonip -4 8 -6 80 --regex '$RE' < $log > /dev/null"
hyperfine --warmup 3 --runs 20 --export-json "$tmp/anonymize.json" \
	"$tmp/anonymize < $log > /dev/null" \
	"$tmp/anonymize -j 1 < $log > /dev/null" \
	"sh -c '$tmp/anonymize -j 1 < $log > /dev/null & $tmp/anonymize -j 1 < $log > /dev/null; wait'"
python3 - "$tmp/anonip.json" "$tmp/anonymize.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))["results"][0]
for r in json.load(open(sys.argv[2]))["results"]:
    x = a["mean"] / r["mean"]
    e = x * ((a["stddev"] / a["mean"]) ** 2 + (r["stddev"] / r["mean"]) ** 2) ** 0.5
    print(f"{x:.1f}x ± {e:.1f} anonip's mean ({a['median'] / r['median']:.1f}x its median): {r['command']}")
EOF
