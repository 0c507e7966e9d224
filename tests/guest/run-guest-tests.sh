#!/bin/sh
# Run every guest test program (TAP) in the guest, each between markers that
# tests/run-all reads: "# PROGRAM name" ... "# EXIT name status".
# After every program the kernel is quiesced (cl_quiesce: every CPU switches away from lazy
# mms, an RCU grace period, delayed works) and the kernel log it produced is judged: a
# splat fails a pseudo-program "kernel-log/NAME" that names the program it followed.
# On a kernel with kmemleak (the debug lane), leaks found after the suite fail it:
# boot-time objects are scanned and cleared first, then the suite runs, then a
# scan reports only what the suite left behind.
# usage: run-guest-tests.sh [NAME...]   (default: every test_* on PATH)
#        run-guest-tests.sh --skip NAME...   (every test_* but these)
cd /tmp || exit 1
skip=
if [ "$1" = --skip ]; then
	shift
	skip=" $* "
	set --
fi
progs=$*
[ -n "$progs" ] || progs=$(ls /usr/local/bin | grep '^test_' | sort)
. judge-log.sh
kmemleak_start
dmesg -c >/dev/null 2>&1
for t in $progs; do
	case $skip in *" $t "*) continue ;; esac
	echo "# PROGRAM $t"
	"$t"
	echo "# EXIT $t $?"
	judge_log "$t"
done
kmemleak_judge "the suite"
