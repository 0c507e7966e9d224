// SPDX-License-Identifier: GPL-2.0
/*
 * reforkbench: what re-synchronising a speculative child costs, by refork and
 * by a full re-fork, and how fast a refork stops when asked.
 *
 * For each parent size P maps SIZE bytes (4 KiB pages, THP off) and writes
 * every page. Then, same process, same run, for each CHANGED%:
 *   refork   P writes CHANGED% of its pages (distinct pages, random order),
 *            then COWLAB_IOC_REFORK on C (only P's region: RANGES), complete;
 *            P's wall time for the ioctl and the module's counts;
 *   full     P writes the same CHANGED% of its pages, then kills C, reaps it
 *            and forks a new C: P's time for the three. Starting over after the
 *            same changes, so that both free C's diverged copies (a full
 *            re-fork measured after no change frees nothing: at 100% changed
 *            C's exit frees as many pages as the refork releases);
 *   budget   (at --budget-changed%) syncs with a --budget-us time budget,
 *            called again until one completes: the calls it takes;
 *   preempt  (at --preempt-size) every page changed, a helper process flips the
 *            stop word after a random delay within the full sync time; the
 *            latency is the time from the flip to the ioctl's return.
 * The ratio refork/full at each changed fraction is the headline.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "jsonout.h"
#include "refork.h"
#include "stats.h"
#include "util.h"

#define PAGE		4096UL
#define MAX_SIZES	8
#define MAX_FRACS	8
#define MAX_REPS	1000
#define PMD_SZ		(2UL << 20)

static uint8_t *mem;
static size_t npages;
static uint32_t *order;
static uint64_t rng = 0x2545F4914F6CDD1DULL;

struct shared {
	volatile uint32_t stop;
	volatile uint64_t flip_ns;
};

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: reforkbench [options]\n\n"
		"Re-synchronising a speculative child: refork (cowlab module) against a full\n"
		"re-fork (kill + fork), by parent size and fraction of pages changed; and the\n"
		"latency of stopping a refork with its stop word.\n\n"
		"  -s, --sizes LIST        parent sizes (default 64M,256M,1G)\n"
		"  -c, --changed LIST      percent of pages P changes before each sync\n"
		"                          (default 0,0.1,1,10,100)\n"
		"  -r, --reps N            measured repetitions (default 5)\n"
		"  -w, --warmup N          discarded warm-up repetitions (default 1)\n"
		"  -p, --preempt N         stop-word samples (default 20, 0 = none)\n"
		"      --preempt-size SIZE parent size for them (default: the second size)\n"
		"      --budget-us LIST    time budgets of the budgeted syncs' calls, in us\n"
		"                          (1..1000000; default 100, 0 = none)\n"
		"      --budget-changed P  percent of pages changed before them (default 0.1)\n"
		"      --runs-only         re-copy every difference as a run (zap + copy_page_range),\n"
		"                          the module's in-place re-sync off: for comparison\n"
		"  -j, --json FILE         write results as JSON (- for stdout)\n"
		"  -q, --quiet             no table on stdout\n\n"
		"Needs /dev/cowlab with refork (the guest of `cowlab vm`); without it the\n"
		"JSON says unavailable and the exit status is 0.\n");
}

/* A comma-separated list of budgets in microseconds (1..1000000). */
static int parse_budgets(const char *arg, double *out)
{
	char *list = strdup(arg), *tok, *save;
	int n = 0;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (n == MAX_FRACS || cl_parse_u64(tok, true, 1000000, &v)) {
			cl_err("bad --budget-us '%s' (1 to 1000000 us, at most %d)", tok, MAX_FRACS);
			free(list);
			return -1;
		}
		out[n++] = (double)v;
	}
	free(list);
	return n;
}

static void shuffle(void)
{
	size_t i;

	for (i = 0; i < npages; i++)
		order[i] = i;
	for (i = npages - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
}

static void change(size_t n)
{
	size_t i;

	shuffle();
	for (i = 0; i < n; i++)
		((uint64_t *)(mem + (size_t)order[i] * PAGE))[rnd() % (PAGE / 8)] = rnd();
}

/* --runs-only: every difference re-copied as a run (the module's in-place path off) */
static uint32_t rf_flags;

static int refork_budget(struct cl_spec *s, struct cowlab_refork *r, uint32_t flags, uint32_t *word,
			 uint64_t budget_ns)
{
	static struct cowlab_range rg;

	rg.start = (uintptr_t)mem;
	rg.end = (uintptr_t)mem + npages * PAGE;
	memset(r, 0, sizeof(*r));
	r->flags = COWLAB_RF_RANGES | rf_flags | flags;
	r->nr_ranges = 1;
	r->ranges = (uintptr_t)&rg;
	if (word) {
		r->stop_addr = (uintptr_t)word;
		r->stop_val = 0;
	}
	r->budget_ns = budget_ns;
	return cowlab_refork(s, r, CL_RF_WAIT_PARKED | CL_RF_NO_FALLBACK, NULL);
}

static int refork(struct cl_spec *s, struct cowlab_refork *r, uint32_t flags, uint32_t *word)
{
	return refork_budget(s, r, flags, word, 0);
}

/*
 * Starting over after P changed @nchg pages: kill C, reap it, fork a new C.
 * @us gets @reps times (after @warmup); the number kept is returned (-1: fork failed).
 */
static int full_refork(struct cl_spec *spec, int fd, size_t nchg, double *us, int reps,
		       int warmup)
{
	int r, n = 0;

	for (r = 0; r < reps + warmup; r++) {
		uint64_t t0;
		pid_t p;

		change(nchg);
		usleep(20000);		/* C settles (parked, or still starting: a fresh C) */
		t0 = cl_now_ns();
		kill(spec->pid, SIGKILL);
		waitpid(spec->pid, NULL, 0);
		p = fork();
		if (p == 0)
			cl_spec_child(fd, NULL, NULL);
		if (p < 0) {
			cl_err("fork: %s", strerror(errno));
			return -1;
		}
		cl_inject(t0);
		if (r >= warmup)
			us[n++] = (double)(cl_now_ns() - t0) / 1e3;
		spec->pid = p;
	}
	return n;
}

static json_t *summary_obj(const char *name, double *x, size_t n)
{
	return json_pack("{s:o}", name, cl_summary_json(x, n));
}

static int parse_list(const char *arg, double *out, int max, bool size, const char *what)
{
	char *list = strdup(arg), *tok, *save;
	int n = 0;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		char *end;
		double d;

		if (n == max)
			goto bad;
		if (size) {
			if (cl_parse_size(tok, &v) || v < PAGE || v > (64ULL << 30))
				goto bad;
			out[n++] = (double)v;
		} else {
			d = strtod(tok, &end);
			if (*end || end == tok || d < 0 || d > 100)
				goto bad;
			out[n++] = d;
		}
		continue;
bad:
		cl_err("bad %s '%s'", what, tok);
		free(list);
		return -1;
	}
	free(list);
	if (!n)
		cl_err("no %s given", what);
	return n ? n : -1;
}

int main(int argc, char **argv)
{
	enum { OPT_PSIZE = 256, OPT_BUDGET, OPT_BCHANGED, OPT_RUNS };
	static const struct option lo[] = {
		{ "sizes", required_argument, NULL, 's' }, { "changed", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' }, { "warmup", required_argument, NULL, 'w' },
		{ "preempt", required_argument, NULL, 'p' },
		{ "preempt-size", required_argument, NULL, OPT_PSIZE },
		{ "budget-us", required_argument, NULL, OPT_BUDGET },
		{ "budget-changed", required_argument, NULL, OPT_BCHANGED },
		{ "runs-only", no_argument, NULL, OPT_RUNS },
		{ "json", required_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	double sizes[MAX_SIZES], fracs[MAX_FRACS];
	int nsizes = -1, nfracs = -1, c, si, fi, r, fd;
	uint64_t reps = 5, warmup = 1, npre = 20, psize = 0, budget_us, v;
	double budgets[MAX_FRACS];
	int nbudgets = -1, bi;
	double bchanged = 0.1;
	const char *json = NULL;
	bool quiet = false;
	struct cowlab_version ver;
	struct shared *sh;
	json_t *root, *arr;

	cl_set_prog("reforkbench");
	cl_timing_sched();
	while ((c = getopt_long(argc, argv, "s:c:r:w:p:j:qh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			nsizes = parse_list(optarg, sizes, MAX_SIZES, true, "size");
			if (nsizes < 0)
				return 2;
			break;
		case 'c':
			nfracs = parse_list(optarg, fracs, MAX_FRACS, false, "changed percentage");
			if (nfracs < 0)
				return 2;
			break;
		case 'r':
		case 'w':
		case 'p':
			if (cl_parse_u64(optarg, c == 'r', MAX_REPS, &v)) {
				cl_err("bad --%s '%s'", c == 'r' ? "reps" : c == 'w' ? "warmup" : "preempt",
				       optarg);
				return 2;
			}
			*(c == 'r' ? &reps : c == 'w' ? &warmup : &npre) = v;
			break;
		case OPT_PSIZE:
			if (cl_parse_size(optarg, &psize) || psize < PAGE) {
				cl_err("bad --preempt-size '%s'", optarg);
				return 2;
			}
			break;
		case OPT_BUDGET:
			if (!strcmp(optarg, "0")) {
				nbudgets = 0;
				break;
			}
			nbudgets = parse_budgets(optarg, budgets);
			if (nbudgets < 0)
				return 2;
			break;
		case OPT_BCHANGED:
			if (parse_list(optarg, &bchanged, 1, false, "--budget-changed percentage") != 1)
				return 2;
			break;
		case OPT_RUNS: rf_flags |= COWLAB_RF_RUNS_ONLY; break;
		case 'j': json = optarg; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		cl_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (nsizes < 0)
		nsizes = parse_list("64M,256M,1G", sizes, MAX_SIZES, true, "size");
	if (nfracs < 0)
		nfracs = parse_list("0,0.1,1,10,100", fracs, MAX_FRACS, false, "changed percentage");
	if (nbudgets < 0)
		nbudgets = parse_budgets("100", budgets);
	if (!psize)
		psize = (uint64_t)sizes[nsizes > 1 ? 1 : 0];

	root = json_pack("{s:s, s:i, s:o}", "workload", "reforkbench", "schema", 1, "environment",
			 cl_environment_json());
	fd = open(COWLAB_DEVICE, O_RDWR);
	if (fd < 0 || ioctl(fd, COWLAB_IOC_VERSION, &ver) || !(ver.features & COWLAB_FEAT_REFORK)) {
		const char *why = fd < 0 ? "no /dev/cowlab (module not loaded)" :
				  "the loaded module offers no refork";

		cl_err("%s: nothing to measure", why);
		json_object_set_new(root, "unavailable", json_string(why));
		json_object_set_new(root, "configs", json_array());
		return json && cl_json_write(root, json) ? 1 : 0;
	}
	json_object_set_new(root, "params", json_pack("{s:I, s:I, s:I, s:I, s:b}", "reps",
			    (json_int_t)reps, "warmup", (json_int_t)warmup, "preempt_samples",
			    (json_int_t)npre, "preempt_size_bytes", (json_int_t)psize, "runs_only",
			    !!(rf_flags & COWLAB_RF_RUNS_ONLY)));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	arr = json_array();
	if (!quiet)
		printf("%8s %8s %12s %10s %12s %12s %12s\n", "size", "changed", "sync_us", "vs_full",
		       "ptes_upd", "runs", "compared");

	for (si = 0; si < nsizes; si++) {
		uint64_t size = (uint64_t)sizes[si];
		double *full = calloc(reps, sizeof(double)), full_med;
		struct cl_summary s;
		struct cl_spec spec;
		struct cowlab_refork rr;
		char label[32];
		json_t *smp;
		uint8_t *raw;
		int n = 0, nfull;

		npages = size / PAGE;
		/* 2 MiB-aligned, so that runs split at the same page-table boundaries every time */
		raw = mmap(NULL, npages * PAGE + PMD_SZ, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mem = raw == MAP_FAILED ? MAP_FAILED :
		      (uint8_t *)(((uintptr_t)raw + PMD_SZ - 1) & ~(PMD_SZ - 1));
		order = calloc(npages, sizeof(*order));
		if (mem == MAP_FAILED || !order) {
			cl_err("%s: cannot map %llu bytes", __func__, (unsigned long long)size);
			return 1;
		}
		madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
		memset(mem, 1, npages * PAGE);
		snprintf(label, sizeof(label), "%lluM", (unsigned long long)(size >> 20));

		if (cl_spec_start(&spec, fd, NULL, NULL)) {
			cl_err("fork: %s", strerror(errno));
			return 1;
		}
		for (fi = 0; fi < nfracs; fi++) {
			size_t nchg = (size_t)(fracs[fi] / 100.0 * (double)npages + 0.5);
			double *us = calloc(reps, sizeof(double)), *pu = calloc(reps, sizeof(double));
			double *ru = calloc(reps, sizeof(double)), *ps = calloc(reps, sizeof(double));
			unsigned int trk = 0;
			char chg[32];
			int bad = 0;

			if (fracs[fi] > 0 && nchg == 0)
				nchg = 1;
			snprintf(chg, sizeof(chg), "%g%%", fracs[fi]);
			refork(&spec, &rr, 0, NULL);		/* start from a synced C */
			n = 0;
			for (r = 0; r < (int)(reps + warmup); r++) {
				uint64_t t0;
				int ret;

				change(nchg);
				/* Time the sync, not C's way back to RF_WAIT after the last one. */
				cl_spec_wait_parked(&spec);
				cl_settle();
				t0 = cl_now_ns();
				ret = refork(&spec, &rr, 0, NULL);
				if (ret || rr.status != COWLAB_RF_COMPLETE) {
					bad++;
					continue;
				}
				if (r < (int)warmup)
					continue;
				cl_inject(t0);
				us[n] = (double)(cl_now_ns() - t0) / 1e3;
				pu[n] = (double)rr.ptes_updated;
				ps[n] = (double)rr.ptes_scanned;
				trk |= rr.tracking;
				ru[n++] = (double)rr.ranges_updated;
			}
			if (!n) {
				cl_err("%s %s: every refork failed", label, chg);
				return 1;
			}
			nfull = full_refork(&spec, fd, nchg, full, (int)reps, (int)warmup);
			if (nfull < 0)
				return 1;
			cl_summarize(full, nfull, &s);
			full_med = s.median;
			smp = json_array();
			for (r = 0; r < nfull; r++)
				json_array_append_new(smp, json_pack("{s:f}", "us", full[r]));
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o}",
				"kind", "full_refork", "changed", chg, "size_bytes", (json_int_t)size,
				"pages", (json_int_t)npages, "pages_changed", (json_int_t)nchg,
				"samples", smp, "summary", summary_obj("us", full, nfull)));
			if (!quiet)
				printf("%8s %8s %12.0f %10s %12s %12s %12s\n", label, chg, full_med,
				       "(full)", "-", "-", "-");
			cl_summarize(us, n, &s);
			smp = json_array();
			for (r = 0; r < n; r++)
				json_array_append_new(smp, json_pack("{s:f, s:f, s:f, s:f}", "us", us[r],
						      "ptes_updated", pu[r], "runs_updated", ru[r],
						      "ptes_scanned", ps[r]));
			json_array_append_new(arr, json_pack(
				"{s:s, s:s, s:I, s:I, s:I, s:f, s:i, s:s, s:o, s:{s:o, s:o, s:o, s:o}}",
				"kind", "refork", "changed", chg, "size_bytes", (json_int_t)size,
				"pages", (json_int_t)npages, "pages_changed", (json_int_t)nchg,
				"ratio_to_full", full_med > 0 ? s.median / full_med : 0.0,
				"failed_runs", bad,
				"tracking", (trk & COWLAB_RF_TRK_FULL) ? "full" :
					    (trk & COWLAB_RF_TRK_INCREMENTAL) ? "incremental" : "none",
				"samples", smp, "summary",
				"us", cl_summary_json(us, n), "ptes_updated", cl_summary_json(pu, n),
				"runs_updated", cl_summary_json(ru, n),
				"ptes_scanned", cl_summary_json(ps, n)));
			if (!quiet)
				printf("%8s %8s %12.0f %10.3f %12.0f %12.0f %12.0f%s\n", label, chg,
				       s.median, full_med > 0 ? s.median / full_med : 0.0, pu[0], ru[0],
				       ps[0], bad ? "  (some failed)" : "");
			free(us);
			free(ps);
			free(pu);
			free(ru);
		}

		for (bi = 0; bi < nbudgets; bi++) {
			size_t nchg = (size_t)(bchanged / 100.0 * (double)npages + 0.5);
			double *calls = calloc(reps, sizeof(double)), *cus = calloc(reps, sizeof(double));
			double *cpu = calloc(reps, sizeof(double)), *upc = calloc(reps, sizeof(double));
			int incomplete = 0;
			char chg[32];

			budget_us = (uint64_t)budgets[bi];
			if (bchanged > 0 && nchg == 0)
				nchg = 1;
			snprintf(chg, sizeof(chg), "%g%%", bchanged);
			refork(&spec, &rr, 0, NULL);		/* start from a synced C */
			n = 0;
			for (r = 0; r < (int)(reps + warmup); r++) {
				uint64_t t0, upd = 0;
				int k, ret = 0;

				change(nchg);
				cl_spec_wait_parked(&spec);
				cl_settle();
				t0 = cl_now_ns();
				/* A partial sync leaves C parked: call again until one completes. */
				for (k = 1; k <= 10000; k++) {
					ret = refork_budget(&spec, &rr, 0, NULL, budget_us * 1000);
					upd += rr.ptes_updated;
					if (ret || rr.status == COWLAB_RF_COMPLETE)
						break;
				}
				if (ret || rr.status != COWLAB_RF_COMPLETE) {
					incomplete++;
					refork(&spec, &rr, 0, NULL);
					continue;
				}
				if (r < (int)warmup)
					continue;
				cus[n] = (double)(cl_now_ns() - t0) / 1e3;
				cpu[n] = (double)upd;
				upc[n] = cus[n] / k;	/* a budget overrun shows here */
				calls[n++] = k;
			}
			smp = json_array();
			for (r = 0; r < n; r++)
				json_array_append_new(smp, json_pack("{s:f, s:f, s:f}", "calls", calls[r],
						      "us", cus[r], "ptes_updated", cpu[r]));
			json_array_append_new(arr, json_pack(
				"{s:s, s:s, s:I, s:I, s:I, s:I, s:i, s:o, s:{s:o, s:o, s:o, s:o}}",
				"kind", "budget", "changed", chg, "size_bytes", (json_int_t)size,
				"pages", (json_int_t)npages, "pages_changed", (json_int_t)nchg,
				"budget_us", (json_int_t)budget_us, "incomplete", incomplete,
				"samples", smp, "summary", "calls", cl_summary_json(calls, n),
				"us", cl_summary_json(cus, n), "ptes_updated", cl_summary_json(cpu, n),
				"us_per_call", cl_summary_json(upc, n)));
			if (!quiet && n) {
				cl_summarize(calls, n, &s);
				printf("budget %s %s: %llu us budgets, median %.0f calls to complete (max %.0f)",
				       label, chg, (unsigned long long)budget_us, s.median, s.max);
				cl_summarize(cpu, n, &s);
				printf(", %.0f entries re-copied in all (%zu pages changed)", s.median, nchg);
				cl_summarize(upc, n, &s);
				printf(", median %.0f us a call (calls and their returns, P's clock)%s\n",
				       s.median, incomplete ? ", some never completed" : "");
			}
			free(upc);
			free(calls);
			free(cus);
			free(cpu);
		}

		if (npre && size == psize) {
			double *lat = calloc(npre, sizeof(double)), full_sync_us;
			uint64_t t0;
			int stopped = 0, early = 0;

			/* How long an uninterrupted full sync takes: the delays span it. */
			change(npages);
			cl_spec_wait_parked(&spec);
			t0 = cl_now_ns();
			refork(&spec, &rr, 0, NULL);
			full_sync_us = (double)(cl_now_ns() - t0) / 1e3;
			n = 0;
			for (r = 0; r < (int)npre; r++) {
				uint64_t delay = rnd() % (uint64_t)(full_sync_us > 1 ? full_sync_us : 1);
				uint64_t ret_ns;
				pid_t h;

				change(npages);
				cl_spec_wait_parked(&spec);
				sh->stop = 0;
				h = fork();
				if (h == 0) {
					uint64_t t = cl_now_ns() + delay * 1000;

					while (cl_now_ns() < t)
						;
					sh->flip_ns = cl_now_ns();
					__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
					_exit(0);
				}
				refork(&spec, &rr, COWLAB_RF_STOPWORD, (uint32_t *)&sh->stop);
				ret_ns = cl_now_ns();
				waitpid(h, NULL, 0);
				if (rr.status == COWLAB_RF_PARTIAL && rr.stop_reason == COWLAB_RF_STOP_WORD &&
				    sh->flip_ns && ret_ns >= sh->flip_ns) {
					lat[n++] = (double)(ret_ns - sh->flip_ns) / 1e3;
					stopped++;
				} else {
					early++;
				}
				sh->flip_ns = 0;
				refork(&spec, &rr, 0, NULL);	/* finish it */
			}
			smp = json_array();
			for (r = 0; r < n; r++)
				json_array_append_new(smp, json_pack("{s:f}", "stop_latency_us", lat[r]));
			json_array_append_new(arr, json_pack(
				"{s:s, s:I, s:I, s:f, s:i, s:i, s:o, s:o}", "kind", "preempt",
				"size_bytes", (json_int_t)size, "pages", (json_int_t)npages,
				"full_sync_us", full_sync_us, "stopped_by_word", stopped,
				"completed_before_flip", early, "samples", smp,
				"summary", summary_obj("stop_latency_us", lat, n)));
			if (!quiet && n) {
				cl_summarize(lat, n, &s);
				printf("preempt %s: stop word -> return median %.0f us, p90 %.0f, max %.0f "
				       "(%d stopped, %d finished first; full sync %.0f us)\n", label,
				       s.median, s.p90, s.max, stopped, early, full_sync_us);
			}
			free(lat);
		}
		cl_spec_stop(&spec);
		munmap(raw, npages * PAGE + PMD_SZ);
		free(order);
		free(full);
	}
	json_object_set_new(root, "configs", arr);
	if (json && cl_json_write(root, json))
		return 1;
	return 0;
}
