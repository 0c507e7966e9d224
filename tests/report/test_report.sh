#!/bin/bash
# cowlab report and cowlab history (TAP, host: needs gnuplot), on synthetic
# results whose numbers are known: the figures' data files hold exactly those
# numbers, every figure exists as PNG and SVG beside its script, the HTML is
# self-contained, TCG timings are labelled emulated; history finds an injected
# 20% regression in one configuration of the newest run and nothing in an A/A
# series; bad input exits 2 with a message, a report with nothing to plot exits 1.
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0 failed=0
ok() {	# status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; failed=$((failed + 1)); fi
}
cowlab=$(cd "$(dirname "$0")/../.." && pwd)/build/bin/cowlab

# mk DIR STARTED SLOW: a results dir; SLOW scales reforkbench's 1% refork samples
mk() {
	mkdir -p "$1"
	awk -v started="$2" -v slow="$3" 'function samples(key, base, k,   i, s) {
			s = "["
			for (i = 0; i < 8; i++) s = s (i ? "," : "") sprintf("{\"%s\": %.3f}", key, (base + i) * k)
			return s "]"
		}
		BEGIN {
		printf "{\"schema\": 1, \"suite\": \"test\", \"commit\": \"abc1234\", \"started\": \"%s\",", started
		printf "\"environment\": {\"kernel\": \"6.12.0-test\", \"kernel_name\": \"6.12\", \"accel\": \"tcg\", \"cowlab_vm\": true, \"cpus\": 2},"
		printf "\"workloads\": {"
		printf "\"forkbench\": {\"status\": \"ok\", \"result\": {\"configs\": ["
		printf "{\"variant\": \"fork\", \"thp\": \"never\", \"layout\": \"dense\", \"size_bytes\": 0, \"pte_kb\": 40, \"samples\": %s, \"summary\": {\"call_us\": {\"median\": 104.5}}},", samples("call_us", 100, 1)
		printf "{\"variant\": \"fork\", \"thp\": \"never\", \"layout\": \"dense\", \"size_bytes\": 67108864, \"pte_kb\": 172, \"samples\": %s, \"summary\": {\"call_us\": {\"median\": 1234.5}}}", samples("call_us", 1230, 1)
		printf "]}},"
		printf "\"reforkbench\": {\"status\": \"ok\", \"result\": {\"configs\": ["
		printf "{\"kind\": \"full_refork\", \"size_bytes\": 67108864, \"samples\": %s, \"summary\": {\"us\": {\"median\": 22130.0}}},", samples("us", 22126, 1)
		printf "{\"kind\": \"refork\", \"changed\": \"0%%\", \"size_bytes\": 67108864, \"samples\": %s, \"summary\": {\"us\": {\"median\": 717.0}}},", samples("us", 713, 1)
		printf "{\"kind\": \"refork\", \"changed\": \"1%%\", \"size_bytes\": 67108864, \"samples\": %s, \"summary\": {\"us\": {\"median\": %.1f}}}", samples("us", 2734, slow), 2737.5 * slow
		printf "]}},"
		printf "\"cowbench\": {\"status\": \"ok\", \"bpf\": {\"histograms\": {\"cow.copy\": {\"unit\": \"ns\", \"count\": 4, \"buckets\": [[1000, 1015, 1], [2000, 2031, 3]]}}}, \"result\": {\"configs\": ["
		printf "{\"pattern\": \"seq\", \"mode\": \"off\", \"trap_ratio_to_off\": 1.0, \"time_ratio_to_off\": 1.0, \"samples\": %s, \"summary\": {\"write_ms\": {\"median\": 10}}},", samples("write_ms", 10, 1)
		printf "{\"pattern\": \"seq\", \"mode\": \"16\", \"trap_ratio_to_off\": 0.0588, \"time_ratio_to_off\": 0.7, \"samples\": %s, \"summary\": {\"write_ms\": {\"median\": 7}}}", samples("write_ms", 7, 1)
		printf "]}}}}\n"
	}' >"$1/results.json"
}
echo "TAP version 13"
echo "1..33"
mk "$d/r1" 2026-11-20T10:00:00 1

out=$("$cowlab" report "$d/r1" 2>&1); rc=$?
ok $rc "report: exit 0 ($out)"
all=1
for f in fork_latency page_tables cow_cdf cowahead refork; do
	for e in dat gp png svg; do [ -s "$d/r1/report/$f.$e" ] || { all=0; echo "# missing $f.$e"; }; done
done
ok $((1 - all)) "every figure has its .dat, .gp, .png and .svg"
grep -q "^0% 717.0 22130.0$" "$d/r1/report/refork.dat" && grep -q "^1% 2737.5 22130.0$" "$d/r1/report/refork.dat"
ok $? "refork.dat holds the medians given: refork 717.0 / 2737.5 us beside full 22130.0 us"
grep -q "^64 1234.5$" "$d/r1/report/fork_latency.dat" && grep -q "^64 172 NaN$" "$d/r1/report/page_tables.dat"
ok $? "fork_latency.dat and page_tables.dat hold the input (64 MiB: 1234.5 us, 172 kB)"
grep -q "^2031 1.00000$" "$d/r1/report/cow_cdf.dat" && grep -q "^1015 0.25000$" "$d/r1/report/cow_cdf.dat"
ok $? "the COW CDF is the histogram's cumulative fraction (0.25 at 1015 ns, 1 at 2031 ns)"
[ "$(head -c 4 "$d/r1/report/cowahead.png" | tail -c 3)" = PNG ] && grep -q "<svg" "$d/r1/report/cowahead.svg"
ok $? "images are real PNG and SVG"
grep -q "Timings are emulated" "$d/r1/report/report.md" && grep -q "QEMU TCG" "$d/r1/report/refork.svg"
ok $? "TCG timings labelled emulated in report.md and in the figures"
[ "$(grep -c "<svg" "$d/r1/report/report.html")" = 5 ] && ! grep -q "<img" "$d/r1/report/report.html"
ok $? "report.html inlines its 5 figures as SVG (self-contained)"
grep -q "Not in these results" "$d/r1/report/report.md" && grep -q "swapbench" "$d/r1/report/report.md"
ok $? "figures whose workloads are absent are listed as such"
grep -q "xlabel 'parent RSS (MiB)'" "$d/r1/report/fork_latency.gp" && grep -q "ylabel 'latency in the parent (us" "$d/r1/report/fork_latency.gp"
ok $? "axes carry units"

out=$("$cowlab" report "$d/none" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "No such file"
ok $? "report of a missing directory: exit 2 ($out)"
mkdir -p "$d/bad" && echo '{"schema": 1, "workl' >"$d/bad/results.json"
out=$("$cowlab" report "$d/bad" 2>&1); rc=$?
[ $rc = 2 ]; ok $? "corrupt results.json: exit 2 ($out)"
mkdir -p "$d/empty" && echo '{"schema": 1, "workloads": {"x": {"status": "ok"}}}' >"$d/empty/results.json"
out=$("$cowlab" report "$d/empty" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "nothing to plot"
ok $? "results with nothing to plot: exit 1, never an empty report ($out)"

mk "$d/r2" 2026-11-21T10:00:00 1
mk "$d/r3" 2026-11-22T10:00:00 1
out=$("$cowlab" history -o "$d/h1" "$d/r3" "$d/r1" "$d/r2" 2>&1); rc=$?
[ $rc = 0 ] && ! grep -q "regression" "$d/h1/history.md" && [ -s "$d/h1/reforkbench.png" ]
ok $? "history of three equal runs (given out of order): no regression, exit 0, figures ($out)"
mk "$d/r4" 2026-11-23T10:00:00 1.2
out=$("$cowlab" history -o "$d/h2" "$d/r1" "$d/r2" "$d/r3" "$d/r4" 2>&1); rc=$?
[ $rc = 1 ] && [ "$(grep -c "^- \*\*regression" "$d/h2/history.md")" = 1 ] &&
	grep "regression" "$d/h2/history.md" | grep -q "changed=1%.*+20.0%.*r4"
ok $? "newest run 20% slower in one configuration: exit 1, exactly that one listed ($(grep regression "$d/h2/history.md"))"
# Runs that drift as TCG runs do (the 1% configuration at x1.0, 1.25, 0.8, 1.1): the
# fifth at x1.2 is 20% above the run before it but inside the drift of the earlier runs.
i=0
for f in 1.0 1.25 0.8 1.1 1.2; do i=$((i + 1)); mk "$d/dr$i" "2026-11-0${i}T10:00:00" "$f"; done
out=$("$cowlab" history -o "$d/h4" "$d/dr1" "$d/dr2" "$d/dr3" "$d/dr4" "$d/dr5" 2>&1); rc=$?
[ $rc = 0 ] && ! grep -q "regression.*dr5" "$d/h4/history.md"
ok $? "drifting runs: the fifth, +9% on the run before but inside the earlier runs' drift, is not a regression (exit $rc)"
mk "$d/dr5" 2026-11-05T10:00:00 2
out=$("$cowlab" history -o "$d/h5" "$d/dr1" "$d/dr2" "$d/dr3" "$d/dr4" "$d/dr5" 2>&1); rc=$?
[ $rc = 1 ] && grep "regression" "$d/h5/history.md" | grep -q "changed=1%.*dr5"
ok $? "drifting runs, the fifth at x2: flagged against the earlier runs, exit 1 ($(grep regression "$d/h5/history.md" | grep dr5))"
out=$("$cowlab" history -o "$d/h3" "$d/r1" "$d/bad" 2>&1); rc=$?
[ $rc = 2 ]; ok $? "history with a corrupt input: exit 2 ($out)"

# cowlab baseline: exact counts strictly, timing ratios loosely, raw times never.
# bl FILE TRAPS RATIO_TO_FULL TIME_SCALE [KERNEL]
bl() {
	cat >"$1" <<EOT
{"schema": 1, "commit": "abc", "environment": {"kernel_name": "${5:-6.12}"}, "workloads": {
 "cowbench": {"status": "ok", "result": {"configs": [
  {"pattern": "seq", "mode": "16", "time_ratio_to_off": 0.7,
   "samples": [{"traps_wp": $2, "write_ms": $(awk "BEGIN { print 10 * $4 }")}],
   "summary": {"traps_wp": {"median": $2}, "write_ms": {"median": $(awk "BEGIN { print 10 * $4 }")}}}]}},
 "reforkbench": {"status": "ok", "result": {"configs": [
  {"kind": "refork", "changed": "1%", "size_bytes": 16777216, "pages_changed": 41, "ratio_to_full": $3,
   "samples": [{"us": $(awk "BEGIN { print 300 * $4 }"), "ptes_updated": 41}],
   "summary": {"us": {"median": $(awk "BEGIN { print 300 * $4 }")}, "ptes_updated": {"median": 41}}}]}}}}
EOT
}
bl "$d/base.json" 964 0.15 1
bl "$d/same.json" 964 0.15 1
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/same.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "5 values checked, 0 differ"
ok $? "baseline: an identical run passes, 5 values checked ($out)"
bl "$d/slow.json" 964 0.15 1.5
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/slow.json" 2>&1); rc=$?
[ $rc = 0 ]; ok $? "baseline: raw times 50% slower, same counts and ratios: passes ($out)"
bl "$d/trap.json" 965 0.15 1
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/trap.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "FAIL cowbench mode=16 pattern=seq: traps_wp exactly 965 (baseline 964)"
ok $? "baseline: one COW trap more fails, and says which ($out)"
bl "$d/ratio.json" 964 1.2 1
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/ratio.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "FAIL reforkbench.*ratio_to_full 1.200, baseline 0.150 (x8.00"
ok $? "baseline: refork/full re-fork ratio x8 (change tracking lost) fails ($out)"
# The A/A spread CI saw between two boots of one build (0.121 and 0.262 on 6.1): not a failure.
bl "$d/ratio3.json" 964 0.33 1
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/ratio3.json" 2>&1); rc=$?
[ $rc = 0 ]; ok $? "baseline: the ratio x2.2 (TCG's spread between boots) passes ($out)"
out=$("$cowlab" baseline check --ratio-tolerance 2 --baseline "$d/base.json" "$d/ratio3.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "worse than x2 fails"
ok $? "baseline: the same x2.2 with --ratio-tolerance 2 fails ($out)"
bl "$d/ratio2.json" 964 0.03 1
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/ratio2.json" 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "note: .*improved"
ok $? "baseline: the ratio fell to a fifth: an improvement, noted, passes ($out)"
sed 's/"mode": "16"/"mode": "32"/' "$d/same.json" >"$d/gone.json"
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/gone.json" 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "missing from the new run"
ok $? "baseline: a configuration gone from the new run fails ($out)"
bl "$d/k61.json" 964 0.15 1 6.1
out=$("$cowlab" baseline check --baseline "$d/base.json" "$d/k61.json" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "is for kernel 6.12, the new run is 6.1"
ok $? "baseline: another kernel's run is refused, exit 2 ($out)"
out=$("$cowlab" baseline update --baseline "$d/nb/6.12.json" "$d/same.json" 2>&1) &&
	"$cowlab" baseline check --baseline "$d/nb/6.12.json" "$d/same.json" >/dev/null 2>&1
ok $? "baseline update writes a baseline the same run then passes ($out)"

# cowlab kernels: the kernels of one run side by side
mkdir -p "$d/run/6.1" "$d/run/7.3"
bl "$d/run/6.1/results.json" 964 0.15 1 6.1
bl "$d/run/7.3/results.json" 980 0.30 2 7.3
out=$("$cowlab" kernels "$d/run" 2>&1); rc=$?
ok $rc "kernels: exit 0 over a run with two kernels ($out)"
grep -q '^| configuration | 6.1 | 7.3 |$' "$d/run/kernels/kernels.md"
ok $? "kernels: a column per kernel, in version order"
grep -q '^| mode=16 pattern=seq | 964 | 980 (x1.02) |$' "$d/run/kernels/kernels.md" &&
	grep -q '^| changed=1% kind=refork size_bytes=16777216 | 0.15 | 0.3 (x2.00) |$' "$d/run/kernels/kernels.md"
ok $? "kernels: medians per kernel and the ratio to the first (traps 964/980, ratio_to_full x2.00)"
ls "$d/run/kernels/k-cowbench-traps_wp.png" "$d/run/kernels/k-cowbench-traps_wp.svg" \
	"$d/run/kernels/kernels.json" >/dev/null 2>&1
ok $? "kernels: a figure per workload and metric (PNG and SVG) and kernels.json"
out=$("$cowlab" kernels "$d/run/6.1" 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "at least two kernels"
ok $? "kernels: a single result is refused, exit 2 ($out)"

[ $failed = 0 ]
