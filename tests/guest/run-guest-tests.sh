#!/bin/sh
# Run every guest test program (TAP) in the guest, each between markers that
# tests/run-all reads: "# PROGRAM name" ... "# EXIT name status".
# usage: run-guest-tests.sh [NAME...]   (default: every test_* on PATH)
cd /tmp || exit 1
progs=$*
[ -n "$progs" ] || progs=$(ls /usr/local/bin | grep '^test_' | sort)
for t in $progs; do
	echo "# PROGRAM $t"
	"$t"
	echo "# EXIT $t $?"
done
