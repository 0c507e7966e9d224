#!/bin/sh
# The cowlab command in the guest (TAP): status, cowahead set/get/stats/off on another
# process, exec on an unmodified program whose children inherit the policy, and the
# exact messages and exit codes for bad input.
n=0 fail=0
ok() {	# status description
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fail=1; fi
}
has() { case $1 in *"$2"*) return 0 ;; esac; return 1; }

echo "TAP version 13"
echo "1..15"
out=$(cowlab status 2>&1); rc=$?
has "$out" "features: cowahead yes"; ok $(( rc + $? )) "status: module loaded with cowahead (exit $rc)"

sleep 1000 &
victim=$!
out=$(cowlab cowahead set -p $victim -w 32 --adaptive 2>&1); rc=$?
has "$out" "cow-ahead on pid $victim: adaptive up to 32 pages"; ok $(( rc + $? )) "set -p PID: $out"
out=$(cowlab cowahead get -p $victim 2>&1); rc=$?
[ "$out" = "adaptive up to 32 pages" ]; ok $(( rc + $? )) "get -p PID: $out"
out=$(cowlab cowahead stats -p $victim -j 2>&1); rc=$?
has "$out" '"wp_faults": 0'; ok $(( rc + $? )) "stats -j on an idle process: no COW faults"
cowlab cowahead off -p $victim; rc=$?
out=$(cowlab cowahead get -p $victim 2>&1); rc2=$?
[ $rc = 0 ] && [ $rc2 = 1 ] && has "$out" "pid $victim has no cow-ahead policy"
ok $? "off, then get: exit 1, '$out'"
kill $victim

# An unmodified program (busybox sh) under cowlab exec; its child inherits the policy.
out=$(cowlab exec --cow-ahead=16,adaptive -- /bin/sh -c 'cowlab cowahead get' 2>&1); rc=$?
[ "$out" = "adaptive up to 16 pages, keep-exec" ]; ok $(( rc + $? )) "exec: the program's child inherits: $out"
out=$(cowlab exec --cow-ahead=16 -- /bin/sh -c 'exit 5' 2>&1); rc=$?
[ $rc = 5 ]; ok $? "exec returns the program's exit status (got $rc)"

out=$(cowlab cowahead set -p 999999 -w 4 2>&1); rc=$?
[ $rc = 1 ] && [ "$out" = "cowlab: set: no process 999999 (or it has exited)" ]; ok $? "bad pid: exit $rc, '$out'"
out=$(cowlab cowahead set -p $$ -w 999 2>&1); rc=$?
has "$out" "invalid policy (window 1..512"; ok $(( (rc != 1) + $? )) "window 999: exit $rc, '$out'"
out=$(cowlab cowahead set -p $$ 2>&1); rc=$?
[ $rc = 2 ] && has "$out" "give the window with -w PAGES"; ok $? "set without -w: exit $rc, '$out'"
out=$(cowlab cowahead set -w 4 2>&1); rc=$?
[ $rc = 2 ] && has "$out" "cowahead set: name the process with -p PID"; ok $? "set without -p: exit $rc, '$out'"
out=$(cowlab version --bogus 2>&1); rc=$?
[ $rc = 2 ] && has "$out" "version: unexpected argument '--bogus'"; ok $? "version with an argument: exit $rc, '$out'"
out=$(cowlab exec --cow-ahead=0 -- true 2>&1); rc=$?
[ $rc = 2 ] && has "$out" "bad --cow-ahead '0'"; ok $? "exec --cow-ahead=0: exit $rc, '$out'"
out=$(su -s /bin/sh nobody -c 'cowlab cowahead set -p 1 -w 4' 2>&1); rc=$?
[ $rc = 1 ] && has "$out" "not allowed to act on pid 1"; ok $? "unprivileged, pid 1: exit $rc, '$out'"
out=$(cowbench --writer nobody 2>&1); rc=$?
[ $rc = 2 ] && has "$out" "bad --writer 'nobody' (parent, child or alone)"; ok $? "cowbench --writer nobody: exit $rc, '$out'"
exit $fail
