#!/bin/sh
# cowlab compare (TAP), on synthetic results whose answer is known: an A/A
# comparison finds nothing, a 20% slowdown injected into one configuration is
# flagged there and only there, an improvement is not a regression, and bad
# input is refused with a message and exit 2. Runs on the host and in the guest.
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
echo "1..9"
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
[ $failed = 0 ]
