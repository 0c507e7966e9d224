// SPDX-License-Identifier: GPL-2.0
/*
 * traceoverhead: what cowlab's probes cost the traced workload. Two loops,
 * each timed in alternating blocks with the probes detached and attached
 * (off, on, on, off, ...: drift hits both alike; in an instruction-counted
 * guest, where time does not drift, always off then on, and every operation
 * timed on its own from an idle guest), in one process:
 *   fork  fork() + child exit + wait, parent of --size (default 16 MiB);
 *   cow   fork a child that waits, write every page of --size, release it.
 * Probes: every one this kernel allows (cowlab trace's default), no filter.
 * Reports the median time per operation of each and the overhead: the median
 * of the paired on/off ratios with its distribution-free 95% confidence
 * interval; text and JSON (-j). With --bpf-stats (kernel BPF run-time statistics), it
 * also reports the share of the "on" time spent inside the BPF programs (every
 * process's events: an exact upper bound of what the programs themselves
 * cost; the statistics add two clock reads per program run to "on" blocks).
 * Targets from the BPF issue: <= 2% on fork, <= 5% on cow.
 */
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "jsonout.h"
#include "probelib.h"
#include "stats.h"
#include "util.h"

struct loop {
	const char *name;
	int ops;		/* operations per block */
	double *off, *on;	/* ns per operation, one per block */
	double *ev;		/* BPF program runs per operation in each "on" block (--bpf-stats) */
	double bpf_ns, on_ns;	/* time in the BPF programs / in "on" blocks, all blocks */
	uint64_t runs;		/* BPF program runs in "on" blocks */
};

static char *mem;
static size_t size;

static void touch_all(char v)
{
	size_t i;

	for (i = 0; i < size; i += 4096)
		mem[i] = v;
}

/*
 * A block of @ops operations; returns the time they took in ns (-1: an error). Each one is
 * timed on its own, after cl_settle() (an instruction-counted guest goes idle first, so the
 * deferred frees of one child's exit do not land in the next one's time), and stretched by
 * cl_inject() (the timing lane's injected slowdown).
 */
static int64_t fork_block(int ops)
{
	int64_t ns = 0;
	int i, st;

	for (i = 0; i < ops; i++) {
		uint64_t t0;
		pid_t p;

		cl_settle();
		t0 = cl_now_ns();
		p = fork();
		if (p < 0)
			return -1;
		if (!p)
			_exit(0);
		if (waitpid(p, &st, 0) != p)
			return -1;
		cl_inject(t0);
		ns += (int64_t)(cl_now_ns() - t0);
	}
	return ns;
}

static int64_t cow_block(int ops);

/* An untimed block of each loop: caches, allocator, code just re-translated by an emulator. */
static int warm_up(int fork_ops)
{
	return fork_block(fork_ops / 4 + 1) < 0 || cow_block(1) < 0 ? -1 : 0;
}

static int64_t cow_block(int ops)
{
	int64_t ns = 0;
	int i, st, go[2];
	char c = 0;

	for (i = 0; i < ops; i++) {
		uint64_t t0;
		pid_t p;

		cl_settle();
		t0 = cl_now_ns();
		if (pipe(go))
			return -1;
		p = fork();
		if (p < 0)
			return -1;
		if (!p)
			_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
		touch_all((char)i);
		if (write(go[1], &c, 1) != 1 || waitpid(p, &st, 0) != p)
			return -1;
		close(go[0]);
		close(go[1]);
		cl_inject(t0);
		ns += (int64_t)(cl_now_ns() - t0);
	}
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Distribution-free 95% confidence interval of a median: [x(k), x(n-k+1)] of
 * the sorted sample, k the largest with P(Binomial(n, 1/2) < k) <= 0.025.
 * Returns k (1-based), or 0 when n is too small (n < 6).
 */
static size_t median_ci_rank(size_t n)
{
	double p = 1.0 / (double)(1ULL << (n < 60 ? n : 60)), cdf = 0, c = 1;
	size_t k;

	if (n < 6 || n > 60)
		return n > 60 ? (size_t)(n / 2.0 - 0.98 * sqrt((double)n)) : 0;
	for (k = 0; k <= n; k++) {	/* cdf = P(X <= k) */
		cdf += c * p;
		if (cdf > 0.025)
			return k;	/* P(X < k) = P(X <= k-1) <= 0.025 */
		c = c * (double)(n - k) / (double)(k + 1);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: traceoverhead [--size SIZE] [--reps N] [--fork-ops N] [--cow-ops N] [--probes LIST]\n"
"                     [--bpf-stats] [-j FILE]\n"
"  --size SIZE     parent memory, written before the loops (default 16M)\n"
"  --reps N        blocks with the probes off and as many on, alternating (default 7)\n"
"  --fork-ops N    forks per block (default 100)\n"
"  --cow-ops N     fork + write-all rounds per block (default 4)\n"
"  --probes LIST   probes to attach (default all; see cowlab trace --help)\n"
"  --bpf-stats     also report the time spent inside the BPF programs (kernel BPF\n"
"                  run-time statistics, which add two clock reads per program run)\n"
"  -j FILE         JSON result (default: none; - for stdout)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' }, { "reps", required_argument, NULL, 'r' },
		{ "fork-ops", required_argument, NULL, 'f' }, { "cow-ops", required_argument, NULL, 'c' },
		{ "probes", required_argument, NULL, 'P' }, { "help", no_argument, NULL, 'h' },
		{ "bpf-stats", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct cl_probe_opts po = { 0 };
	struct loop loops[2] = { { .name = "fork", .ops = 100 }, { .name = "cow", .ops = 4 } };
	uint64_t reps = 7, v, sz = 16 << 20;
	const char *out = NULL;
	json_t *res, *jl, *samples;
	char err[2048];
	struct cl_probes *probes;
	int opt, l, r, e, stats_fd, bpf_stats = 0;
	bool icount;

	cl_set_prog("traceoverhead");
	icount = cl_timing_sched() == 1;
	while ((opt = getopt_long(argc, argv, "j:h", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (cl_parse_size(optarg, &sz) || sz < 4096) {
				cl_err("bad --size '%s'", optarg);
				return 2;
			}
			break;
		case 'r':
			if (cl_parse_u64(optarg, 1, 1000, &reps)) {
				cl_err("bad --reps '%s'", optarg);
				return 2;
			}
			break;
		case 'f':
		case 'c':
			if (cl_parse_u64(optarg, 1, 1000000, &v)) {
				cl_err("bad --%s '%s'", opt == 'f' ? "fork-ops" : "cow-ops", optarg);
				return 2;
			}
			loops[opt == 'c'].ops = (int)v;
			break;
		case 'P':
			if (cl_probe_parse(optarg, &po.mask, err, sizeof(err))) {
				cl_err("%s", err);
				return 2;
			}
			break;
		case 'S':
			bpf_stats = 1;
			break;
		case 'j':
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	size = sz;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		cl_err("mmap %zu bytes: %s", size, strerror(errno));
		return 1;
	}
	touch_all(1);
	/*
	 * No probes on this kernel (no BTF, no privileges): say so, measure nothing. Otherwise
	 * they stay loaded for the whole run and are only attached and detached: each load
	 * parses the kernel's BTF (megabytes), glibc kept 16 kB of it each time, and every fork
	 * copies this process's pages: on icount guests the fork blocks grew ~1.5 us a rep (6.1,
	 * 6.12, 7.3), a drift that moved the median of 7 by 0.6% when one rep was off.
	 */
	probes = cl_probes_open(&po, err, sizeof(err));
	if (!probes) {
		cl_err("no probe can attach here, nothing to measure: %s", err);
		res = json_pack("{s:i,s:s,s:s,s:[],s:o}", "schema", 1, "workload", "traceoverhead",
				"unavailable", err, "configs", "environment", cl_environment_json());
		return out && cl_json_write(res, out) ? 1 : 0;
	}
	cl_probes_detach(probes);
	/* per-program run time, while the fd is open; it costs the "on" blocks two clock reads per run */
	stats_fd = bpf_stats ? cl_bpf_stats_enable() : -1;
	if (bpf_stats && stats_fd < 0)
		cl_err("BPF run-time statistics unavailable: %s", strerror(errno));
	for (l = 0; l < 2; l++) {
		loops[l].off = calloc(reps, sizeof(double));
		loops[l].on = calloc(reps, sizeof(double));
		loops[l].ev = calloc(reps, sizeof(double));
	}
	/* a first block of each, untimed: page cache, caches, allocator */
	if (warm_up(loops[0].ops)) {
		cl_err("fork: %s", strerror(errno));
		return 1;
	}
	/*
	 * ... and with the probes, untimed: the first attach does work no later one does (an
	 * icount guest's first "on" block came out 18% below its "off" block once, on 6.12)
	 */
	e = cl_probes_reattach(probes);
	if (e) {
		cl_err("attaching the probes again: %s", strerror(-e));
		return 1;
	}
	if (warm_up(loops[0].ops)) {
		cl_err("fork: %s", strerror(errno));
		return 1;
	}
	cl_probes_detach(probes);
	for (r = 0; r < (int)reps; r++) {
		int half, on;

		/* off-on, then on-off: neither state always comes second */
		for (half = 0; half < 2; half++) {
			struct cl_probes *p = NULL;

			/*
			 * icount: always off, then on, so that an "on" block is judged against
			 * the "off" block right before it, whatever drifts through the run.
			 */
			on = icount ? half : half ^ (r & 1);

			if (on) {
				e = cl_probes_reattach(probes);
				if (e) {
					cl_err("attaching the probes again: %s", strerror(-e));
					return 1;
				}
				p = probes;
			}
			/*
			 * Untimed first: attaching and detaching patch kernel text, and
			 * an emulator (QEMU TCG) then re-translates the code it runs.
			 */
			if (warm_up(loops[0].ops)) {
				cl_err("warm-up: %s", strerror(errno));
				return 1;
			}
			for (l = 0; l < 2; l++) {
				uint64_t ns0 = 0, n0 = 0, ns1, n1;
				int64_t dt;

				if (p)
					cl_probes_run_time(p, &ns0, &n0);
				dt = l ? cow_block(loops[l].ops) : fork_block(loops[l].ops);
				if (dt < 0) {
					cl_err("%s loop: %s", loops[l].name, strerror(errno));
					return 1;
				}
				(on ? loops[l].on : loops[l].off)[r] = (double)dt / loops[l].ops;
				if (p && !cl_probes_run_time(p, &ns1, &n1)) {
					loops[l].bpf_ns += ns1 - ns0;
					loops[l].runs += n1 - n0;
					loops[l].ev[r] = (double)(n1 - n0) / loops[l].ops;
					loops[l].on_ns += dt;
				}
			}
			if (p)
				cl_probes_detach(p);
		}
		fprintf(stderr, "\rtraceoverhead: %d/%d", r + 1, (int)reps);
	}
	fprintf(stderr, "\n");

	res = json_object();
	jl = json_array();
	printf("probe overhead, %llu MiB parent, %llu blocks each, median per operation:\n",
	       (unsigned long long)(sz >> 20), (unsigned long long)reps);
	for (l = 0; l < 2; l++) {
		double *ratio = calloc(reps, sizeof(double)), lo, hi, ov, bpf_pct;
		double *pe = calloc(reps, sizeof(double));
		json_t *summ;
		size_t pe_n;
		struct cl_summary a, b, rs;
		size_t k;

		/* paired: each "on" block against the "off" block next to it */
		for (r = 0; r < (int)reps; r++)
			ratio[r] = loops[l].on[r] / loops[l].off[r];
		cl_summarize(loops[l].off, reps, &a);
		cl_summarize(loops[l].on, reps, &b);
		cl_summarize(ratio, reps, &rs);
		qsort(ratio, reps, sizeof(double), cmp_double);
		k = median_ci_rank(reps);
		lo = k ? ratio[k - 1] : ratio[0];
		hi = k ? ratio[reps - k] : ratio[reps - 1];
		ov = 100.0 * (rs.median - 1);
		bpf_pct = loops[l].on_ns > 0 ? 100 * loops[l].bpf_ns / loops[l].on_ns : -1;
		printf("  %-5s off %9.1f us  on %9.1f us  overhead %+5.1f%% (95%% CI %+.1f%% .. %+.1f%%%s)"
		       "  target %s\n", loops[l].name, a.median / 1e3, b.median / 1e3, ov,
		       100 * (lo - 1), 100 * (hi - 1), k ? "" : ", too few blocks for a CI",
		       l ? "<= 5%" : "<= 2%");
		if (stats_fd >= 0)
			printf("        in the BPF programs: %.2f%% of the time (%.0f runs per "
			       "operation, %.0f ns per run)\n", bpf_pct,
			       (double)loops[l].runs / (reps * loops[l].ops),
			       loops[l].runs ? loops[l].bpf_ns / loops[l].runs : 0);
		samples = json_array();
		pe_n = 0;
		for (r = 0; r < (int)reps; r++) {
			json_t *sm = json_pack("{s:f,s:f}", "off_ns_per_op", loops[l].off[r],
					       "on_ns_per_op", loops[l].on[r]);

			/*
			 * With --bpf-stats: what one probe event costs the workload, per BPF
			 * program run: this "on" block's excess over the fastest "off" block
			 * (against the paired one, one slow "off" block cut the estimate to a
			 * third), or in an icount guest (ns are instructions; every operation
			 * starts from an idle guest) over the "off" block right before it. The
			 * statistics' own two clock reads per run are included.
			 */
			if (stats_fd >= 0 && loops[l].ev[r] > 0) {
				pe[pe_n] = (loops[l].on[r] - (icount ? loops[l].off[r] : a.min)) /
					   loops[l].ev[r];
				json_object_set_new(sm, "probe_ns_per_event", json_real(pe[pe_n++]));
			}
			json_array_append_new(samples, sm);
		}
		/* below 6 blocks there is no 95% interval: the range, and null for the CI */
		summ = json_pack("{s:o,s:o}", "off_ns_per_op", cl_summary_json(loops[l].off, reps),
				 "on_ns_per_op", cl_summary_json(loops[l].on, reps));
		/* every block must have it, or none: compare pairs samples by position */
		if (pe_n == reps)
			json_object_set_new(summ, "probe_ns_per_event", cl_summary_json(pe, pe_n));
		free(pe);
		json_array_append_new(jl, json_pack("{s:s,s:i,s:o,s:o,s:f,s:o,s:o,s:f,s:f,s:f,s:f,s:I}",
			"loop", loops[l].name, "ops_per_block", loops[l].ops, "samples", samples,
			"summary", summ,
			"overhead_pct", ov,
			"ci95_low_pct", k ? json_real(100 * (lo - 1)) : json_null(),
			"ci95_high_pct", k ? json_real(100 * (hi - 1)) : json_null(),
			"range_low_pct", 100 * (ratio[0] - 1), "range_high_pct", 100 * (ratio[reps - 1] - 1),
			"target_pct", l ? 5.0 : 2.0,
			"bpf_time_pct", stats_fd >= 0 ? bpf_pct : -1.0,
			"bpf_runs", (json_int_t)loops[l].runs));
		free(ratio);
	}
	json_object_set_new(res, "schema", json_integer(1));
	json_object_set_new(res, "workload", json_string("traceoverhead"));
	json_object_set_new(res, "size_bytes", json_integer((json_int_t)sz));
	json_object_set_new(res, "reps", json_integer((json_int_t)reps));
	json_object_set_new(res, "configs", jl);
	json_object_set_new(res, "environment", cl_environment_json());
	json_object_set_new(res, "probes", cl_probes_status_json(probes));
	cl_probes_close(probes);
	for (l = 0; l < 2; l++) {
		free(loops[l].off);
		free(loops[l].on);
		free(loops[l].ev);
	}
	if (out && cl_json_write(res, out))
		return 1;
	json_decref(res);
	return 0;
}
