// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab trace, checked against what a workload provably did (forkcow):
 * exact fork, vfork, dup_mmap, page-table and first-run counts per attach
 * method; COW faults exact by difference (2M pages vs M pages); BPF fork
 * latency against the workload's own clock; filters; swap under a memory
 * cgroup; the module's cow-ahead tracepoint; bad input.
 *
 * In the guest (COWLAB_GUEST set: stock 6.1/6.12 with the module loaded)
 * every probe must attach. On a host it adapts to what the kernel allows
 * (the dev hosts are tracepoint-only) and skips, as skips, what needs the VM.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tap.h"

#define K 20
#define V 3
#define M 256

static bool guest, host_full;
static int last_rc;
static char last_err[4096];

/* Run `cowlab trace -j ARGS`; returns the last JSON line, NULL if none. */
static json_t *trace(const char *fmt, ...)
{
	char args[1024], cmd[1400], *buf = NULL, *line, *last = NULL, *save;
	size_t cap = 0, len = 0, n;
	json_t *root = NULL;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cowlab trace -j %s 2>/tmp/test_trace.err", args);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, 4096, f);
		if (!n)
			break;
		len += n;
	}
	buf[len] = 0;
	st = pclose(f);
	last_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	f = fopen("/tmp/test_trace.err", "r");
	last_err[0] = 0;
	if (f) {
		n = fread(last_err, 1, sizeof(last_err) - 1, f);
		last_err[n] = 0;
		fclose(f);
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] == '{')
			last = line;
	if (last)
		root = json_loads(last, 0, NULL);
	if (!root)
		tap_diag("cowlab trace -j %s: exit %d, no JSON; stderr: %s", args, last_rc, last_err);
	free(buf);
	return root;
}

static long long hist(json_t *r, const char *name, const char *field)
{
	json_t *h = json_object_get(json_object_get(r, "histograms"), name);

	return h ? json_integer_value(json_object_get(h, field)) : -1;
}

static double histf(json_t *r, const char *name, const char *field)
{
	json_t *h = json_object_get(json_object_get(r, "histograms"), name);

	return h ? json_number_value(json_object_get(h, field)) : -1;
}

static long long counter(json_t *r, const char *name)
{
	json_t *c = json_object_get(json_object_get(r, "counters"), name);

	return c ? json_integer_value(c) : -1;
}

static const char *method(json_t *r, const char *probe)
{
	json_t *p = json_object_get(json_object_get(r, "probes"), probe);

	return p ? json_string_value(json_object_get(p, "method")) : "missing";
}

static const char *reason(json_t *r, const char *probe)
{
	json_t *p = json_object_get(json_object_get(r, "probes"), probe);

	return p ? json_string_value(json_object_get(p, "reason")) : "";
}

static bool attached(json_t *r, const char *probe)
{
	return r && strcmp(method(r, probe), "unavailable") && strcmp(method(r, probe), "missing");
}

static const char *const all_probes[] = {
	"fork", "firstrun", "dup_mmap", "copy_page_range", "pgtables", "cow", "faults",
	"swapin", "swapread", "swapout", "reclaim", "memcg_reclaim", "cowahead", "refork",
	"swapalloc",
};
#define NPROBES 15

static void test_list(void)
{
	json_t *r = NULL, *all;
	FILE *f = popen("cowlab trace --list -j 2>/dev/null", "r");
	int i;

	if (f) {
		r = json_loadf(f, 0, NULL);
		pclose(f);
	}
	all = json_pack("{s:o}", "probes", r ? r : json_object());
	for (i = 0; i < NPROBES; i++) {
		const char *p = all_probes[i];

		if (guest)
			tap_ok(attached(all, p), "--list: %s attaches on this kernel (%s %s)", p,
			       method(all, p), reason(all, p));
		else
			tap_ok(attached(all, p) || strlen(reason(all, p)) > 10,
			       "--list: %s attaches or says why not (%s: %s)", p, method(all, p),
			       reason(all, p));
	}
	json_decref(all);
}

/* One attach method: exact counts for the probes that method has. */
static void test_method(const char *m, int nplanned)
{
	json_t *r = trace("--attach %s --probes fork,firstrun,dup_mmap,copy_page_range,pgtables,"
			  "cow,faults -- forkcow -k %d -v %d -m %d", m, K, V, M);
	bool is_tp = !strcmp(m, "tracepoint"), is_kp = !strcmp(m, "kprobe");
	int done = tap_n;

	if (!tap_ok(r && last_rc == 0, "[%s] trace a forkcow run (exit %d)", m, last_rc))
		goto skip;
	tap_ok(hist(r, "fork.fork", "count") == K + 1 && hist(r, "fork.vfork", "count") == V,
	       "[%s] fork: %lld fork(2) (want %d), %lld vfork(2) (want %d) via %s", m,
	       hist(r, "fork.fork", "count"), K + 1, hist(r, "fork.vfork", "count"), V,
	       method(r, "fork"));
	if (!is_tp && (guest || attached(r, "dup_mmap"))) {
		tap_ok(hist(r, "dup_mmap", "count") == K + 1, "[%s] dup_mmap: %lld calls (want %d) %s",
		       m, hist(r, "dup_mmap", "count"), K + 1, reason(r, "dup_mmap"));
		tap_ok(hist(r, "copy_page_range.fork", "count") == K + 1 &&
		       hist(r, "copy_page_range.call", "count") >= K + 1,
		       "[%s] copy_page_range: %lld forks (want %d), %lld VMA copies", m,
		       hist(r, "copy_page_range.fork", "count"), K + 1,
		       hist(r, "copy_page_range.call", "count"));
		tap_ok(hist(r, "cow.copy", "count") >= M, "[%s] cow: %lld copied (>= %d), %lld reused",
		       m, hist(r, "cow.copy", "count"), M, hist(r, "cow.reuse", "count"));
	} else if (!guest && !is_tp) {
		tap_ok(!attached(r, "dup_mmap") && !attached(r, "copy_page_range") &&
		       !attached(r, "cow") && strstr(reason(r, "dup_mmap"), "kprobe"),
		       "[%s] dup_mmap, copy_page_range, cow: unavailable here, said why (%s)", m,
		       reason(r, "dup_mmap"));
	}
	if (!is_kp) {
		tap_ok(hist(r, "pgtables.bytes", "count") == K + 1 && hist(r, "pgtables.bytes", "min") > 0,
		       "[%s] pgtables: %lld children received page tables (want %d), min %lld bytes",
		       m, hist(r, "pgtables.bytes", "count"), K + 1, hist(r, "pgtables.bytes", "min"));
		/*
		 * Exact in the guest. On the 6.18 host one first run went unseen once
		 * in about 20 runs under load (cause not found): one is allowed there.
		 */
		long long fr = hist(r, "firstrun", "count");

		tap_ok(counter(r, "forks") == K + 1 + V &&
		       (fr == K + 1 + V || (!guest && fr == K + V)),
		       "[%s] firstrun: %lld children ran, %lld processes created (want %d%s)", m,
		       fr, counter(r, "forks"), K + 1 + V, guest ? "" : "; one unseen allowed here");
	}
	if (strcmp(method(r, "faults"), "fentry") && strcmp(method(r, "faults"), "kprobe"))
		tap_ok(counter(r, "traps.write_protect") >= M, "[%s] faults: %lld write-protect traps "
		       "(>= %d)", m, counter(r, "traps.write_protect"), M);
	else
		tap_ok(counter(r, "traps.write_protect") >= M &&
		       hist(r, "faults.cow.minor", "count") >= M,
		       "[%s] faults: %lld COW faults, %lld write-protect traps (>= %d)", m,
		       hist(r, "faults.cow.minor", "count"), counter(r, "traps.write_protect"), M);
	if (is_tp || is_kp) {
		const char *none = is_tp ? "dup_mmap" : "firstrun";

		tap_ok(!attached(r, none) && strstr(reason(r, none), "variant"),
		       "[%s] %s: unavailable, 'has no %s variant' (%s)", m, none, m, reason(r, none));
	}
skip:
	while (tap_n - done < nplanned)
		tap_ok(false, "[%s] not run: no trace output", m);
	json_decref(r);
}

/*
 * COW faults exactly M: runs writing 2M pages show exactly M more than runs
 * writing M. Five of each that missed no event, in one address-space layout
 * (test_cow_exact says why); the trap counts compared by their minimum.
 */
#define EXACT_RUNS 5
static long long min_of(json_t **r, long long (*get)(json_t *))
{
	long long m = -1, v;
	int i;

	for (i = 0; i < EXACT_RUNS; i++) {
		v = r[i] ? get(r[i]) : -1;
		if (v >= 0 && (m < 0 || v < m))
			m = v;
	}
	return m;
}

/*
 * The most frequent value of the runs (the smallest of the most frequent): background
 * activity could add events to a run, so neither the minimum nor the maximum need be the
 * workload's own count; what most runs agree on is. (Runs whose programs missed events
 * are not given here: test_cow_exact leaves them out.)
 */
static long long mode_of(json_t **r, long long (*get)(json_t *))
{
	long long v[EXACT_RUNS], best = -1;
	int i, j, n = 0, bestc = 0;

	for (i = 0; i < EXACT_RUNS; i++)
		if (r[i] && (v[n] = get(r[i])) >= 0)
			n++;
	for (i = 0; i < n; i++) {
		int c = 0;

		for (j = 0; j < n; j++)
			c += v[j] == v[i];
		if (c > bestc || (c == bestc && v[i] < best)) {
			bestc = c;
			best = v[i];
		}
	}
	return bestc > 1 ? best : min_of(r, get);
}

static long long get_traps(json_t *r) { return counter(r, "traps.write_protect"); }
static long long get_wp(json_t *r) { return hist(r, "cow.copy", "count") + hist(r, "cow.reuse", "count"); }
static long long get_fault(json_t *r) { return hist(r, "faults.cow.minor", "count"); }
static long long get_missed(json_t *r)
{
	return json_integer_value(json_object_get(r, "events_missed"));
}

/* every run's value, for the log: which runs a mode or a minimum left out */
static void diag_runs(const char *what, json_t **a, json_t **b, long long (*get)(json_t *))
{
	char s[256];
	int i, n = 0;

	for (i = 0; i < EXACT_RUNS; i++)
		n += snprintf(s + n, sizeof(s) - n, " %lld", a[i] ? get(a[i]) : -1);
	n += snprintf(s + n, sizeof(s) - n, " |");
	for (i = 0; i < EXACT_RUNS; i++)
		n += snprintf(s + n, sizeof(s) - n, " %lld", b[i] ? get(b[i]) : -1);
	tap_diag("%s per run (%d pages | %d pages):%s", what, M, 2 * M, s);
}

static void test_cow_exact(void)
{
	json_t *a[EXACT_RUNS], *b[EXACT_RUNS];
	long long ta, tb;
	int i, na, nb, pers = personality(0xffffffff);

	/*
	 * One address-space layout for every run: with randomisation the workload's own
	 * count moves (seen on 6.1 for 512 pages: 525 COW faults in 9 runs of 10, 526 in one;
	 * a CI run failed on a mode of 523 against 269), without it 10 runs of 10 agree (270
	 * and 526). personality() is inherited through popen, cowlab trace and exec.
	 */
	if (pers != -1)
		personality(pers | ADDR_NO_RANDOMIZE);
	/* a first run warms the page cache: fault-around then maps the same file pages */
	json_decref(trace("--probes cow,faults -- forkcow -m %d", M));
	/*
	 * Only runs whose programs missed no event count: with preempt=full on one vCPU a
	 * task preempted inside a probe's program makes the kernel skip the program for the
	 * next task on that CPU (seen on 7.3: 521 and 255 where every complete run had 523
	 * and 267; events_missed says so). Up to three times as many runs as needed.
	 */
	for (i = 0; i < EXACT_RUNS; i++)
		a[i] = b[i] = NULL;
	for (i = 0, na = nb = 0; i < 6 * EXACT_RUNS && (na < EXACT_RUNS || nb < EXACT_RUNS); i++) {
		bool small = nb >= EXACT_RUNS || (na < EXACT_RUNS && !(i & 1));	/* a and b in turn */
		json_t *r = trace("--probes cow,faults -- forkcow -m %d", small ? M : 2 * M);

		if (r && get_missed(r)) {
			tap_diag("a run of %d pages missed %lld events: not counted", small ? M : 2 * M,
				 get_missed(r));
			json_decref(r);
		} else if (small) {
			a[na++] = r;
		} else {
			b[nb++] = r;
		}
	}
	if (pers != -1)
		personality(pers);
	if (na < EXACT_RUNS || nb < EXACT_RUNS)
		tap_diag("only %d and %d runs without missed events", na, nb);
	diag_runs("write-protect traps", a, b, get_traps);
	ta = min_of(a, get_traps);
	tb = min_of(b, get_traps);
	tap_ok(ta > 0 && tb - ta == M, "write-protect traps, min of %d runs each: %lld - %lld = %lld "
	       "(want exactly %d)", EXACT_RUNS, tb, ta, tb - ta, M);
	if (guest || attached(a[0], "cow")) {
		long long ca = mode_of(a, get_wp), cb = mode_of(b, get_wp);
		long long fa = mode_of(a, get_fault), fb = mode_of(b, get_fault);

		diag_runs("do_wp_page", a, b, get_wp);
		diag_runs("handle_mm_fault COW kind", a, b, get_fault);

		tap_ok(ca > 0 && cb - ca == M, "do_wp_page (copied + reused), most frequent of the "
		       "runs: %lld - %lld = %lld (want exactly %d)", cb, ca, cb - ca, M);
		tap_ok(fa > 0 && fb - fa == M, "handle_mm_fault COW kind: %lld - %lld = %lld (want "
		       "exactly %d)", fb, fa, fb - fa, M);
	} else {
		tap_skip("do_wp_page: not attachable on this kernel (%s)", reason(a[0], "cow"));
		tap_skip("handle_mm_fault: not attachable on this kernel");
	}
	for (i = 0; i < EXACT_RUNS; i++) {
		json_decref(a[i]);
		json_decref(b[i]);
	}
}

static double median_from(const char *path)
{
	json_t *j = json_load_file(path, 0, NULL);
	double v = j ? json_number_value(json_object_get(j, "median_fork_ns")) : -1;

	json_decref(j);
	return v;
}

/* BPF fork latency against the workload's clock_gettime around fork(2). */
static void test_accuracy(const char *m)
{
	json_t *r = trace("--attach %s --probes fork -- forkcow -k 31 -F -m 32768 -n -o /tmp/forkcow.json",
			  m);
	double user = median_from("/tmp/forkcow.json"), bpf = r ? histf(r, "fork.fork", "p50") : -1;
	double err = user > 0 ? fabs(bpf - user) / user : 1;

	tap_ok(r && hist(r, "fork.fork", "count") == 31 && err <= 0.10,
	       "[%s] fork latency, 128 MiB parent, median of 31: BPF %.0f ns vs user clock %.0f ns "
	       "(%+.1f%%, limit 10%%) via %s", m, bpf, user, 100 * (bpf - user) / (user ? user : 1),
	       r ? method(r, "fork") : "-");
	json_decref(r);
}

static void test_filters(void)
{
	const char *cg = "/sys/fs/cgroup/cowlab-test-trace";
	json_t *r;

	r = trace("-n forkcow --probes fork -- sh -c 'forkcow -k 3 -v 1; true'");
	tap_ok(r && hist(r, "fork.fork", "count") == 3 && hist(r, "fork.vfork", "count") == 1 &&
	       hist(r, "fork.clone", "count") <= 0,
	       "-n forkcow: 3 fork + 1 vfork counted, the shell's own %lld clones not",
	       r ? hist(r, "fork.clone", "count") : -1);
	json_decref(r);
	if (!guest) {
		tap_skip("-c: cgroup tests run in the guest");
		tap_skip("-c: cgroup tests run in the guest");
		return;
	}
	mkdir(cg, 0755);
	r = trace("-c %s --probes fork -- sh -c 'echo $$ > %s/cgroup.procs && forkcow -k 4; true'",
		  cg, cg);
	tap_ok(r && hist(r, "fork.fork", "count") == 4, "-c: %lld forks inside the cgroup (want 4)",
	       r ? hist(r, "fork.fork", "count") : -1);
	json_decref(r);
	r = trace("-c %s --probes fork -- forkcow -k 4", cg);
	tap_ok(r && hist(r, "fork.fork", "count") <= 0, "-c: %lld forks counted outside the cgroup "
	       "(want 0)", r ? hist(r, "fork.fork", "count") : -1);
	json_decref(r);
	rmdir(cg);
}

static void test_swap(void)
{
	const char *cg = "/sys/fs/cgroup/cowlab-test-swap";
	static const char *const h[] = { "swapout", "swapin", "swapread", "memcg_reclaim",
					 "swapalloc" };
	json_t *r;
	int i, ok;

	if (!guest) {
		for (i = 0; i < 6; i++)
			tap_skip("swap under a memory cgroup runs in the guest");
		return;
	}
	if (access("/sys/block/zram0", F_OK) != 0)
		(void)!system("guest-modprobe zram >/dev/null 2>&1");
	ok = system("grep -q zram0 /proc/swaps || { echo 512M > /sys/block/zram0/disksize && "
		    "mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; }") == 0;
	ok = ok && system("grep -q memory /sys/fs/cgroup/cgroup.subtree_control || "
			  "echo +memory > /sys/fs/cgroup/cgroup.subtree_control") == 0;
	mkdir(cg, 0755);
	ok = ok && system("echo 16M > /sys/fs/cgroup/cowlab-test-swap/memory.max") == 0;
	r = ok ? trace("--probes swapin,swapread,swapout,memcg_reclaim,swapalloc,faults -- sh -c "
		       "'echo $$ > %s/cgroup.procs && exec forkcow -s 48'", cg) : NULL;
	for (i = 0; i < 5; i++)
		tap_ok(r && hist(r, h[i], "count") > 0, "memcg 16M, 48 MiB touched, zram swap: "
		       "%s %lld events, p50 %.0f ns via %s", h[i], r ? hist(r, h[i], "count") : -1,
		       r ? histf(r, h[i], "p50") : -1, r ? method(r, h[i]) : "-");
	tap_ok(r && hist(r, "faults.swap.minor", "count") + hist(r, "faults.swap.major", "count") > 0,
	       "faults by kind: %lld swap minor, %lld swap major",
	       r ? hist(r, "faults.swap.minor", "count") : -1,
	       r ? hist(r, "faults.swap.major", "count") : -1);
	json_decref(r);
	rmdir(cg);
}

static void test_cowahead(void)
{
	json_t *r;

	if (!guest) {
		tap_skip("the module's tracepoint needs the module (guest)");
		return;
	}
	r = trace("--probes cowahead -- cowlab exec --cow-ahead=16 -- forkcow -m 1024");
	tap_ok(r && hist(r, "cowahead.batch", "count") > 0 &&
	       hist(r, "cowahead.batch_pages", "sum") >= 900 &&
	       hist(r, "cowahead.batch_pages", "sum") <= 1100,
	       "cow-ahead N=16 on 1024 COW pages: %lld batches made %lld pages writable",
	       r ? hist(r, "cowahead.batch", "count") : -1,
	       r ? hist(r, "cowahead.batch_pages", "sum") : -1);
	json_decref(r);
}

/*
 * reforkbench, 3 fractions x 4 repetitions, no warm-up, no budgeted syncs: per
 * fraction one complete sync to start from, then per repetition a wait for C
 * (one partial call, stopped by its pre-flipped word) and a complete sync (the
 * full re-forks after them make no refork call). The entries
 * re-copied must add up to what reforkbench itself recorded.
 */
static void test_refork_probe(void)
{
	json_t *r, *j, *c, *s;
	long long want = 0;
	size_t i, k;

	if (!guest) {
		tap_skip("the module's tracepoint needs the module (guest)");
		return;
	}
	unlink("/tmp/rfb.json");
	r = trace("--probes refork -- reforkbench --sizes 4M --changed 0,1,100 --reps 4 --warmup 0 "
		  "--preempt 0 --budget-us 0 -q --json /tmp/rfb.json");
	j = json_load_file("/tmp/rfb.json", 0, NULL);
	json_array_foreach(json_object_get(j, "configs"), i, c)
		json_array_foreach(json_object_get(c, "samples"), k, s)
			want += (long long)json_number_value(json_object_get(s, "ptes_updated"));
	tap_ok(r && j && counter(r, "refork.complete") == 15 && counter(r, "refork.partial") == 12 &&
	       hist(r, "refork.sync", "count") == 27 && hist(r, "refork.ptes_updated", "sum") == want &&
	       want == 4 * (0 + 10 + 1024),
	       "refork probe: %lld complete (want 15), %lld partial (want 12), %lld entries re-copied "
	       "(reforkbench recorded %lld, want 4136)", r ? counter(r, "refork.complete") : -1,
	       r ? counter(r, "refork.partial") : -1, r ? hist(r, "refork.ptes_updated", "sum") : -1,
	       want);
	json_decref(j);
	json_decref(r);
}

static void test_interval(void)
{
	char line[65536];
	int n = 0, good = 0;
	FILE *f = popen("cowlab trace -j -i 0.5 -d 1.7 --probes fork 2>/dev/null", "r");

	while (f && fgets(line, sizeof(line), f)) {
		json_t *j = json_loads(line, 0, NULL);

		n++;
		if (j && json_object_get(j, "interval_s") && json_object_get(j, "histograms"))
			good++;
		json_decref(j);
	}
	if (f)
		pclose(f);
	tap_ok(n >= 3 && n <= 4 && good == n, "-j -i 0.5 -d 1.7: %d JSON lines, %d with an interval "
	       "and histograms (want 3 or 4)", n, good);
}

static void expect_error(const char *args, int rc, const char *msg)
{
	json_t *r = trace("%s", args);

	tap_ok(last_rc == rc && strstr(last_err, msg), "%s: exit %d (want %d), says '%s': %s", args,
	       last_rc, rc, msg, last_err);
	json_decref(r);
}

int main(int argc, char **argv)
{
	char path[PATH_MAX * 2], self[PATH_MAX];
	ssize_t n;

	/* find cowlab and forkcow next to this program (build/bin on a host) */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", self);
		snprintf(path, sizeof(path), "%s:%s", dirname(dir), getenv("PATH") ?: "/usr/bin:/bin");
		setenv("PATH", path, 1);
	}
	if (argc == 3 && !strcmp(argv[1], "--as-nobody")) {
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			return 99;
		execl("/bin/sh", "sh", "-c", argv[2], (char *)NULL);
		return 98;
	}
	guest = getenv("COWLAB_GUEST") != NULL;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		tap_plan(1);
		tap_skip("this kernel has no BTF: cowlab trace says so and stops (debug lane)");
		return tap_finish();
	}
	/* a host where fentry or kprobes work gets the full per-method checks */
	host_full = !guest && system("cowlab trace --list --probes dup_mmap >/dev/null 2>&1") == 0;
	tap_plan(NPROBES + (guest ? 8 + 7 + 6 : host_full ? 8 : 6) + 3 + (guest ? 2 : 1) + 3 + 6 +
		 1 + 1 + 1 + 5);
	tap_diag("%s", guest ? "guest: every probe must attach" : "host: what this kernel allows");

	test_list();
	if (guest) {
		test_method("auto", 8);
		test_method("kprobe", 7);
		test_method("tracepoint", 6);
	} else {
		test_method("auto", host_full ? 8 : 6);
	}
	test_cow_exact();
	test_accuracy("auto");
	if (guest)
		test_accuracy("tracepoint");
	test_filters();
	test_swap();
	test_cowahead();
	test_refork_probe();
	test_interval();

	expect_error("--probes fork,bogus -d 0.2", 2, "unknown probe 'bogus'");
	expect_error("-p 4000000 -d 0.2", 2, "no process with PID 4000000");
	expect_error("-c /tmp -d 0.2", 2, "is not a cgroup v2 directory");
	expect_error("--attach magic -d 0.2", 2, "bad --attach 'magic'");
	{
		char cmd[PATH_MAX + 64];

		snprintf(cmd, sizeof(cmd), "%s --as-nobody 'cowlab trace -d 0.2'", self);
		snprintf(path, sizeof(path), "%s 2>/tmp/test_trace.err", cmd);
		n = system(path);
		n = WIFEXITED(n) ? WEXITSTATUS(n) : -1;
		{
			FILE *f = fopen("/tmp/test_trace.err", "r");
			size_t k = f ? fread(last_err, 1, sizeof(last_err) - 1, f) : 0;

			last_err[k] = 0;
			if (f)
				fclose(f);
		}
		tap_ok(n == 1 && strstr(last_err, "CAP_BPF") && strstr(last_err, "CAP_PERFMON"),
		       "as nobody: exit %zd (want 1), names the missing capabilities: %s", n, last_err);
	}
	return tap_finish();
}
