# Sourced by the guest runners: judge_log NAME quiesces the kernel and judges the kernel
# messages since the last call (a pseudo-program "kernel-log/NAME" in the TAP stream that
# names the program they followed).
# The last pattern is the module's own oracle: a VERIFY pass found an entry that the
# incremental sync before it skipped (fuzz_ioctl once printed it and passed).
splat_re='(WARNING:|BUG:|Oops|Kernel panic|general protection fault|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|sleeping function called from invalid context|unreferenced object 0x|suspected memory leak|page_table_check|Call Trace|Bad rss-counter|Bad page|non-zero pgtables_bytes|refork VERIFY: tracking missed)'
judge_log() {
	cl_quiesce
	log=$(dmesg -c 2>/dev/null)
	echo "# PROGRAM kernel-log/$1"
	echo "1..1"
	bad=$(printf '%s\n' "$log" | grep -E "$splat_re" | head -1)
	if [ -z "$bad" ]; then
		echo "ok 1 kernel log clean after $1 (quiesced)"
	else
		echo "not ok 1 kernel log after $1: $bad"
		printf '%s\n' "$log" | grep -E -A 30 "$splat_re" | head -80 | sed 's/^/# /'
	fi
	echo "# EXIT kernel-log/$1 0"
}

# On a kernel with kmemleak (the debug lane): kmemleak_start scans and clears what boot left,
# kmemleak_judge WHAT then fails a pseudo-program "kmemleak" on anything WHAT left behind.
kml=/sys/kernel/debug/kmemleak
kmemleak_start() {
	[ -w $kml ] || return 0
	echo scan >$kml
	echo clear >$kml
}
kmemleak_judge() {
	[ -w $kml ] || return 0
	echo "# PROGRAM kmemleak"
	echo "1..1"
	sleep 6		# kmemleak does not report objects younger than 5 s
	echo scan >$kml
	echo scan >$kml
	leaks=$(cat $kml)
	if [ -z "$leaks" ]; then
		echo "ok 1 kmemleak: nothing leaked by $1"
	else
		echo "not ok 1 kmemleak: $1 leaked memory"
		echo "$leaks" | head -60
	fi
	echo "# EXIT kmemleak 0"
}
