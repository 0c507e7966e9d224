#!/bin/sh
# cowlab compare (TAP), on synthetic results whose answer is known: an A/A
# comparison finds nothing, a 20% slowdown injected into one configuration is
# flagged there and only there, an improvement is not a regression, and bad
# input is refused with a message and exit 2; with several runs per side, drift
# between runs is noise (Welch on run medians) while a real change still shows.
# Runs on the host and in the guest.
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0 failed=0
ok() {	# status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; failed=$((failed + 1)); fi
}
PATH=$(dirname "$0"):$PATH	# build/bin on a host
command -v cowlab >/dev/null || PATH=$(cd "$(dirname "$0")/../.." && pwd)/build/bin:$PATH

# results.json with two cowbench configurations; FACTOR scales mode=16's write_ms
mk() {	# file factor_seq16 factor_seqoff
	awk -v f="$2" -v g="$3" 'BEGIN {
		printf "{\"schema\": 1, \"workloads\": {\"cowbench\": {\"status\": \"ok\", \"result\": {\"configs\": ["
		for (c = 0; c < 2; c++) {
			m = c ? "16" : "off"; k = c ? f : g
			printf "%s{\"pattern\": \"seq\", \"mode\": \"%s\", \"samples\": [", c ? "," : "", m
			for (i = 0; i < 10; i++)
				printf "%s{\"write_ms\": %.3f, \"traps_wp\": %d}", i ? "," : "", (100 + i) * k, 1000
			printf "], \"summary\": {\"write_ms\": {}, \"traps_wp\": {}}}"
		}
		printf "]}}}}\n" }' >"$1"
}
echo "TAP version 13"
echo "1..25"
mk "$d/a.json" 1 1
mk "$d/b.json" 1 1
mk "$d/slow.json" 1.2 1
mk "$d/fast.json" 0.8 1

out=$(cowlab compare "$d/a.json" "$d/b.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "0 significant regressions, 0 significant improvements"
ok $? "A/A: nothing significant (exit $rc)"

out=$(cowlab compare "$d/a.json" "$d/slow.json" 2>&1); rc=$?
[ $rc = 1 ]; ok $? "20% slower in one configuration: exit 1 (got $rc)"
[ "$(echo "$out" | grep -c REGRESSION)" = 1 ] && echo "$out" | grep REGRESSION | grep -q "mode=16.*write_ms.*+20.0%"
ok $? "flagged there and only there: $(echo "$out" | grep REGRESSION)"

out=$(cowlab compare "$d/a.json" "$d/fast.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "improved"
ok $? "20% faster: marked improved, exit 0 (got $rc)"

out=$(cowlab compare -j "$d/a.json" "$d/slow.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q '"regressions": 1' && echo "$out" | grep -q '"verdict": "REGRESSION"'
ok $? "-j: the same verdict in JSON (exit $rc)"

out=$(cowlab compare "$d/a.json" "$d/missing.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "missing.json: No such file"
ok $? "a missing file: exit 2 with a message ($out)"

echo '{"schema": 1, "workloads": {' >"$d/corrupt.json"
out=$(cowlab compare "$d/a.json" "$d/corrupt.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "corrupt.json"
ok $? "corrupt JSON: exit 2 with a message ($out)"

echo '{"schema": 7, "workloads": {}}' >"$d/schema.json"
out=$(cowlab compare "$d/schema.json" "$d/a.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "not a cowlab results file of schema 1"
ok $? "wrong schema: exit 2 with a message ($out)"

echo '{"schema": 1, "workloads": {}}' >"$d/empty.json"
out=$(cowlab compare "$d/a.json" "$d/empty.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "no configuration is in both"
ok $? "nothing in common: exit 2, says so ($out)"
# Several runs per side: every run drifts as a whole by a factor, as TCG runs do.
i=0
for f in 1.0 1.3 0.8; do i=$((i + 1)); mk "$d/da$i.json" "$f" "$f"; done
i=0
for f in 1.2 0.9 1.05; do i=$((i + 1)); mk "$d/db$i.json" "$f" "$f"; done
out=$(cowlab compare "$d/da2.json" "$d/db2.json" 2>&1); rc=$?
[ "$(echo "$out" | grep -c improved)" = 2 ]
ok $? "one run per side, 2 runs that drifted by 0.69x: Mann-Whitney flags both configurations (the drift it cannot see)"
out=$(cowlab compare -b "$d/da1.json" -b "$d/da2.json" -b "$d/da3.json" \
	-n "$d/db1.json" -n "$d/db2.json" -n "$d/db3.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "4 metrics compared (Welch's t on run medians.*0 significant regressions, 0 significant improvements" &&
	echo "$out" | grep -q "runs: 3 baseline, 3 new"
ok $? "3 runs per side with the same drift: Welch on run medians flags nothing (exit $rc)"
i=0
for f in 1.0 1.02 0.98; do i=$((i + 1)); mk "$d/qa$i.json" "$f" "$f"; done
i=0
for f in 1.01 0.99 1.0; do i=$((i + 1)); mk "$d/qb$i.json" "$(awk -v f="$f" 'BEGIN { print f * 1.2 }')" "$f"; done
out=$(cowlab compare -b "$d/qa1.json" -b "$d/qa2.json" -b "$d/qa3.json" \
	-n "$d/qb1.json" -n "$d/qb2.json" -n "$d/qb3.json" 2>&1); rc=$?
[ $rc = 1 ] && [ "$(echo "$out" | grep -c REGRESSION)" = 1 ] &&
	echo "$out" | grep REGRESSION | grep -q "mode=16.*write_ms.*+20.*%"
ok $? "3 runs per side, 20% slower in mode=16 over 2% drift: flagged there only, exit 1 ($(echo "$out" | grep REGRESSION))"
out=$(cowlab compare -j -b "$d/qa1.json" -b "$d/qa2.json" -n "$d/qb1.json" -n "$d/qb2.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q '"test": "welch-t-run-medians"' && echo "$out" | grep -q '"base_runs": 2'
ok $? "-j with runs: the test and run counts in JSON (exit $rc)"
out=$(cowlab compare -b "$d/qa1.json" -n "$d/qb1.json" -n "$d/qb2.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "1 baseline and 2 new runs: give one run per side, or at least two"
ok $? "1 baseline run against 2 new: exit 2, says why ($out)"
out=$(cowlab compare -b "$d/qa1.json" -b "$d/corrupt.json" -n "$d/qb1.json" -n "$d/qb2.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "corrupt.json"
ok $? "a corrupt run among several: exit 2 with a message ($out)"
out=$(cowlab compare "$d/a.json" "$d/b.json" --inject cowbench:1.2 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "injected: 20 timing samples of cowbench in the new runs x1.2" &&
	[ "$(echo "$out" | grep -c "write_ms.*+20.0%.*REGRESSION")" = 2 ] && ! echo "$out" | grep traps_wp | grep -q REGRESSION
ok $? "--inject cowbench:1.2 on an A/A pair: both write_ms flagged, the trap counts untouched (exit $rc)"
out=$(cowlab compare "$d/a.json" "$d/b.json" --inject forkbench:1.2 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "no timing samples of that workload"
ok $? "--inject into a workload that is not there: exit 2 ($out)"
out=$(cowlab compare "$d/a.json" "$d/b.json" --inject cowbench 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "bad --inject 'cowbench' (WORKLOAD:FACTOR"
ok $? "--inject without a factor: exit 2 ($out)"
# Clocks: instruction-counted times never compare with emulated or real ones.
sed 's/"schema": 1,/"schema": 1, "environment": {"clock": "icount", "accel": "tcg"},/' "$d/a.json" >"$d/ia.json"
sed 's/"schema": 1,/"schema": 1, "environment": {"clock": "icount", "accel": "tcg"},/' "$d/slow.json" >"$d/islow.json"
sed 's/"schema": 1,/"schema": 1, "environment": {"accel": "tcg"},/' "$d/b.json" >"$d/tb.json"
out=$(cowlab compare "$d/ia.json" "$d/tb.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "ia.json has icount times, .*tb.json has emulated times: not comparable"
ok $? "an icount run against an emulated one: exit 2, says why ($out)"
out=$(cowlab compare "$d/ia.json" "$d/islow.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "(medians, threshold 5%; icount times; p from Mann-Whitney U on raw samples, not required): 1 regressions"
ok $? "two icount runs compare, and say their clock and that the threshold decides (exit $rc)"
# icount runs: a 1% slower median counts at a 0.5% threshold although the test cannot see it
# (the samples overlap: p ~ 0.6); the same change between two wall-clock runs does not
mk "$d/p1.json" 1.01 1
sed 's/"schema": 1,/"schema": 1, "environment": {"clock": "icount", "accel": "tcg"},/' "$d/p1.json" >"$d/ip1.json"
out=$(cowlab compare -t 0.5 "$d/ia.json" "$d/ip1.json" 2>&1); rc=$?
[ $rc = 1 ] && [ "$(echo "$out" | grep -c REGRESSION)" = 1 ] && echo "$out" | grep REGRESSION | grep -q "mode=16" &&
	cowlab compare -t 0.5 "$d/a.json" "$d/p1.json" >/dev/null &&
	cowlab compare -j -t 0.5 "$d/ia.json" "$d/ip1.json" | grep -q '"verdict_by": "threshold"'
ok $? "icount medians: a 1% change is flagged at 0.5% by the threshold alone, wall-clock medians need p (exit $rc)"
out=$(cowlab compare -j "$d/a.json" "$d/b.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q '"clock": "wall"'
ok $? "runs without a clock field or accel are wall time, and the JSON names the clock (exit $rc)"
# --stat min: only mode=16's fastest sample is 1% slower (100 -> 101); its median is unchanged
sed 's/"write_ms": 100.000/"write_ms": 101.000/2' "$d/a.json" >"$d/tail.json"
out=$(cowlab compare -s min -t 0.5 "$d/a.json" "$d/tail.json" 2>&1); rc=$?
[ $rc = 1 ] && [ "$(echo "$out" | grep -c REGRESSION)" = 1 ] && echo "$out" | grep REGRESSION | grep -q "mode=16" &&
	echo "$out" | grep -q "minima, threshold 0.5%" && cowlab compare -t 0.5 "$d/a.json" "$d/tail.json" >/dev/null
ok $? "--stat min: a 1% slower minimum in mode=16 only is flagged at 0.5% without p (the medians are not) (exit $rc)"
out=$(cowlab compare -s mean "$d/a.json" "$d/b.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "bad --stat 'mean' (median or min)"
ok $? "--stat mean: exit 2 ($out)"
out=$(cowlab compare -j -s min "$d/a.json" "$d/b.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q '"stat": "min"'
ok $? "-j names the statistic (exit $rc)"
[ $failed = 0 ]
