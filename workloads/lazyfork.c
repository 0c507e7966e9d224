// SPDX-License-Identifier: GPL-2.0
/*
 * lazyfork: what would lazy, shared page tables save at fork?
 *
 * Phillips (2002) and McCracken proposed sharing page tables at fork and copying
 * one only when either side first writes into it; On-Demand-Fork (EuroSys'21) is
 * the same idea for anonymous memory. Linux is lazy in one case already:
 * copy_page_range() skips a VMA without anonymous pages (vma_needs_copy()), so a
 * MAP_SHARED region's entries are not copied and the child faults them in.
 *
 * Measured, per parent size (a 2 MiB-aligned region, THP off, every page written):
 *   private   MAP_PRIVATE|MAP_ANONYMOUS: fork() copies every PTE table. Per fork the
 *             call's latency, and with the BPF probes the time in copy_page_range()
 *             (summed over the fork's VMAs) and the page-table bytes the child got.
 *   shared    MAP_SHARED|MAP_ANONYMOUS: the kernel's lazy path, no PTE copied.
 * After each fork the child writes one byte into K of the region's N tables (K =
 * fraction x N, evenly spread) and reports its time and what it touched, counted
 * without trusting the workload: for private, the 2 MiB regions of its own pagemap
 * holding a page now mapped by it alone (cl_pt_regions); for shared, its VmPTE
 * growth (every first touch of a table allocates one).
 *   fork_exec the child stops (SIGSTOP) right before execve(/bin/true): the regions it
 *             wrote into between fork and exec, over all its private writable mappings
 *             (what a lazy fork would have unshared for a fork-then-exec parent).
 *
 * The model (JSON "model"; docs/lazyfork.md): per table the eager fork pays
 * c_copy = copy_page_range time / N; a lazy fork pays c_share = c_copy / 512 per
 * table instead (one entry's work: share the table, write-protect one PMD entry;
 * an assumption) and, for each table later written, c_unshare = c_copy +
 * c_fault_table, where c_fault_table is the kernel's own cost of a first fault into
 * a table it left lazy (the shared runs, calibrated at one point). Predicted:
 *   lazy_fork  = fork_private - N (c_copy - c_share)
 *   lazy_total = lazy_fork + f N c_unshare      (eager_total = fork_private)
 * for every fraction f and size, also beyond the measured ones (a linear fit in N).
 * Validated where the kernel is lazy itself: the shared fork predicted as
 * fork_private - copy_page_range time, and the shared fork + K first touches
 * predicted with c_fault_table from the calibration point, against what was measured.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonout.h"
#include "probelib.h"
#include "stats.h"
#include "sysutil.h"
#include "util.h"

#define PAGE		4096UL
#define PMD_SZ		(2UL << 20)
#define MAX_REPS	100
#define MAX_SIZES	16
#define MAX_FRACS	16

extern char **environ;

enum kind { K_PRIVATE, K_SHARED, NKINDS };
static const char *const kind_names[] = { "private", "shared" };

struct child_report {
	double touch_us;
	long pte_kb_before, pte_kb_after;
	long regions_present, regions_exclusive;
	int err;
};

/* One measured configuration: kind x size x fraction. */
struct point {
	enum kind kind;
	uint64_t size;
	double frac;
	long tables, k;
	int n;
	double fork_us[MAX_REPS], cpr_us[MAX_REPS], touch_us[MAX_REPS];
	long seen[MAX_REPS];	/* tables touched, as counted from the kernel's side */
	double pgt_kb;
	struct cl_summary sf, sc, st;
};

static struct {
	unsigned int reps, warmup;
	bool quiet;
} opt = { .reps = 5, .warmup = 1 };

static struct cl_probes *probes;
static struct cl_snapshot snap0, snap1;
static char probe_err[1024];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lazyfork [options]\n\n"
		"The page-table copy of fork() and the tables each side later writes into: a model\n"
		"of lazy, shared page tables (fork latency, fork + unsharing) beside the measured\n"
		"eager fork, validated on the kernel's own lazy path (MAP_SHARED).\n\n"
		"  -s, --sizes LIST         parent region sizes (default 64M,256M,1G)\n"
		"  -f, --fractions LIST     fractions of the tables the child writes into\n"
		"                           (default 0.0001,0.001,0.01,0.1,1)\n"
		"  -M, --model-sizes LIST   sizes the model predicts for (default 64M,256M,1G,4G)\n"
		"  -r, --reps N             measured repetitions (default 5)\n"
		"  -w, --warmup N           discarded warm-up repetitions (default 1)\n"
		"      --no-bpf             do not attach the probes (copy time then estimated as\n"
		"                           fork_private - fork_shared)\n"
		"  -j, --json FILE          write results as JSON (- for stdout)\n"
		"  -q, --quiet              no table\n"
		"      --no-aslr            run without address randomisation\n");
}

static char *map_region(uint64_t size, enum kind kind)
{
	int flags = (kind == K_SHARED ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE;
	char *raw = mmap(NULL, size + PMD_SZ, PROT_READ | PROT_WRITE, flags, -1, 0), *p;
	size_t i;

	if (raw == MAP_FAILED)
		return NULL;
	/* 2 MiB-aligned: the region's tables are exactly size / 2 MiB */
	p = (char *)(((uintptr_t)raw + PMD_SZ - 1) & ~(PMD_SZ - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + size, raw + size + PMD_SZ - (p + size));
	madvise(p, size, MADV_NOHUGEPAGE);
	for (i = 0; i < size / PAGE; i++)
		p[i * PAGE] = 1;
	return p;
}

static void child_touch(char *p, uint64_t size, long tables, long k, enum kind kind, int wfd)
{
	struct child_report rep = { 0 };
	uint64_t t0, t1;
	long i;

	cl_status_kb(0, "VmPTE");	/* stdio's first buffer: not one of the touches */
	rep.pte_kb_before = cl_status_kb(0, "VmPTE");
	t0 = cl_now_ns();
	for (i = 0; i < k; i++)
		p[(uint64_t)(i * tables / k) * PMD_SZ + 64] = 2;
	t1 = cl_now_ns();
	rep.touch_us = (double)(t1 - t0) / 1e3;
	rep.pte_kb_after = cl_status_kb(0, "VmPTE");
	if (kind == K_PRIVATE)
		rep.err = cl_pt_regions(0, (uintptr_t)p, (uintptr_t)p + size, &rep.regions_present,
					&rep.regions_exclusive);
	if (write(wfd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(3);
	_exit(0);
}

/* One fork, the child touching k tables; 0 or -1. */
static int one(char *p, struct point *pt, int idx)
{
	struct child_report rep;
	uint64_t t0, t1;
	int pfd[2], go[2], status, i;
	pid_t pid;
	char x = 1;

	if (pipe(pfd))
		return -1;
	if (pipe(go)) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (probes)
		cl_probes_read(probes, &snap0);
	t0 = cl_now_ns();
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		close(go[1]);
		/* not before the parent's fork() has returned: its interval is the fork alone */
		if (read(go[0], &x, 1) != 1)
			_exit(4);
		child_touch(p, pt->size, pt->tables, pt->k, pt->kind, pfd[1]);
	}
	cl_inject(t0);
	t1 = cl_now_ns();
	close(pfd[1]);
	close(go[0]);
	if (pid < 0) {
		close(pfd[0]);
		close(go[1]);
		return -1;
	}
	if (probes)
		cl_probes_read(probes, &snap1);
	if (write(go[1], &x, 1) != 1)
		x = 0;
	close(go[1]);
	i = read(pfd[0], &rep, sizeof(rep)) == sizeof(rep);
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) || !i ||
	    rep.err)
		return -1;
	if (idx < 0)
		return 0;
	pt->fork_us[idx] = (double)(t1 - t0) / 1e3;
	pt->touch_us[idx] = rep.touch_us;
	pt->cpr_us[idx] = NAN;
	if (probes && cl_probes_status(probes, CL_P_CPR)->method) {
		cl_histo_sub(&snap1.h[CL_H_CPR_FORK], &snap0.h[CL_H_CPR_FORK]);
		cl_histo_sub(&snap1.h[CL_H_PGTABLE_BYTES], &snap0.h[CL_H_PGTABLE_BYTES]);
		if (snap1.h[CL_H_CPR_FORK].count == 1)
			pt->cpr_us[idx] = snap1.h[CL_H_CPR_FORK].sum / 1e3;
		pt->pgt_kb = snap1.h[CL_H_PGTABLE_BYTES].sum / 1024.0;
	}
	pt->seen[idx] = pt->kind == K_PRIVATE ? rep.regions_exclusive :
			(rep.pte_kb_after - rep.pte_kb_before) / 4;
	return 0;
}

struct execpoint {
	uint64_t size;
	int n;
	double total_us[MAX_REPS], frac[MAX_REPS];
	long present[MAX_REPS], excl[MAX_REPS];
};

/* fork, the child stops before execve(/bin/true): what did it write into? */
static int one_exec(struct execpoint *e, int idx)
{
	char *argv[] = { "/bin/true", NULL };
	long present, excl;
	uint64_t t0, t1;
	int status, err;
	pid_t pid;

	t0 = cl_now_ns();
	pid = fork();
	if (pid == 0) {
		raise(SIGSTOP);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	t1 = cl_now_ns();
	err = cl_pt_regions(pid, 0, 0, &present, &excl);
	kill(pid, SIGCONT);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) || err)
		return -1;
	if (idx < 0)
		return 0;
	e->total_us[idx] = (double)(t1 - t0) / 1e3;	/* fork until the child stopped */
	e->present[idx] = present;
	e->excl[idx] = excl;
	e->frac[idx] = present ? (double)excl / present : 0;
	return 0;
}

static void summarize(struct point *pt)
{
	double c[MAX_REPS];
	int i, m = 0;

	cl_summarize(pt->fork_us, pt->n, &pt->sf);
	cl_summarize(pt->touch_us, pt->n, &pt->st);
	for (i = 0; i < pt->n; i++)
		if (!isnan(pt->cpr_us[i]))
			c[m++] = pt->cpr_us[i];
	memset(&pt->sc, 0, sizeof(pt->sc));
	pt->sc.median = NAN;
	if (m)
		cl_summarize(c, m, &pt->sc);
}

static json_t *num_or_null(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

static json_t *point_json(const struct point *pt)
{
	json_t *s = json_array(), *o;
	double c[MAX_REPS];
	int i, m = 0;

	for (i = 0; i < pt->n; i++) {
		json_array_append_new(s, json_pack("{s:f, s:f, s:o, s:I}", "fork_us", pt->fork_us[i],
				      "touch_us", pt->touch_us[i], "cpr_us", num_or_null(pt->cpr_us[i]),
				      "tables_touched_seen", (json_int_t)pt->seen[i]));
		if (!isnan(pt->cpr_us[i]))
			c[m++] = pt->cpr_us[i];
	}
	o = json_pack("{s:s, s:s, s:I, s:I, s:f, s:I, s:o, s:{s:o, s:o}}", "kind", "measured",
		      "mapping", kind_names[pt->kind], "size_bytes", (json_int_t)pt->size,
		      "tables", (json_int_t)pt->tables, "fraction", pt->frac,
		      "tables_touched", (json_int_t)pt->k, "samples", s, "summary",
		      "fork_us", cl_summary_json(pt->fork_us, pt->n),
		      "touch_us", cl_summary_json(pt->touch_us, pt->n));
	if (m)
		json_object_set_new(json_object_get(o, "summary"), "cpr_us", cl_summary_json(c, m));
	if (pt->kind == K_PRIVATE)
		json_object_set_new(o, "pgtable_kb", num_or_null(pt->pgt_kb));
	return o;
}

/* Least squares y = a + b x over n points. */
static void fit(const double *x, const double *y, int n, double *a, double *b)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int i;

	for (i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	if (n < 2 || n * sxx - sx * sx == 0) {	/* one size: a line through the origin */
		*b = sx ? sy / sx : 0;
		*a = 0;
		return;
	}
	*b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
	*a = (sy - *b * sx) / n;
}

static int parse_list(char *s, double *out, int max, bool size, const char *what)
{
	char *tok, *save;
	int n = 0;

	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		char *end;

		if (n == max)
			goto bad;
		if (size) {
			if (cl_parse_size(tok, &v) || v < PMD_SZ || v % PMD_SZ)
				goto bad;
			out[n++] = (double)v;
		} else {
			out[n] = strtod(tok, &end);
			if (*end || end == tok || !(out[n] > 0) || out[n] > 1)
				goto bad;
			n++;
		}
		continue;
bad:
		cl_err("bad %s '%s'%s", what, tok, size ? " (a multiple of 2M)" : " (in (0, 1])");
		return -1;
	}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "fractions", required_argument, NULL, 'f' },
		{ "model-sizes", required_argument, NULL, 'M' },
		{ "reps", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "no-bpf", no_argument, NULL, 'B' },
		{ "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-aslr", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	char sizes_s[256] = "64M,256M,1G", fr_s[256] = "0.0001,0.001,0.01,0.1,1";
	char msz_s[256] = "64M,256M,1G,4G";
	double sizes[MAX_SIZES], fracs[MAX_FRACS], msizes[MAX_SIZES];
	int ns, nf, nms, c, si, fi, ki, r, i, npts = 0;
	static struct point pts[MAX_SIZES * MAX_FRACS * NKINDS];
	static struct execpoint ex[MAX_SIZES];
	bool no_aslr = false, no_bpf = false;
	const char *json = NULL;
	json_t *root, *arr, *model, *val;
	uint64_t v;

	cl_set_prog("lazyfork");
	cl_timing_sched();
	while ((c = getopt_long(argc, argv, "s:f:M:r:w:j:qAh", opts, NULL)) != -1) {
		switch (c) {
		case 's': snprintf(sizes_s, sizeof(sizes_s), "%s", optarg); break;
		case 'f': snprintf(fr_s, sizeof(fr_s), "%s", optarg); break;
		case 'M': snprintf(msz_s, sizeof(msz_s), "%s", optarg); break;
		case 'r':
		case 'w':
			if (cl_parse_u64(optarg, c == 'r' ? 1 : 0, c == 'r' ? MAX_REPS : 10, &v)) {
				cl_err("bad --%s '%s'", c == 'r' ? "reps" : "warmup", optarg);
				return 2;
			}
			*(c == 'r' ? &opt.reps : &opt.warmup) = (unsigned int)v;
			break;
		case 'B': no_bpf = true; break;
		case 'j': json = optarg; break;
		case 'q': opt.quiet = true; break;
		case 'A': no_aslr = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		cl_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	ns = parse_list(sizes_s, sizes, MAX_SIZES, true, "size");
	nf = parse_list(fr_s, fracs, MAX_FRACS, false, "fraction");
	nms = parse_list(msz_s, msizes, MAX_SIZES, true, "model size");
	if (ns <= 0 || nf <= 0 || nms <= 0)
		return 2;
	if (no_aslr && cl_reexec_no_aslr(argv)) {
		cl_err("cannot re-exec without ASLR: %s", strerror(errno));
		return 1;
	}
	if (!no_bpf) {
		struct cl_probe_opts po = { .pid = getpid(),
					    .mask = (1U << CL_P_CPR) | (1U << CL_P_PGTABLES) };

		probes = cl_probes_open(&po, probe_err, sizeof(probe_err));
		if (!probes || !cl_probes_status(probes, CL_P_CPR)->method) {
			if (!probes)
				fprintf(stderr, "lazyfork: no BPF probes (%s): copy time estimated as "
					"fork_private - fork_shared\n", probe_err);
			else
				snprintf(probe_err, sizeof(probe_err), "%s",
					 cl_probes_status(probes, CL_P_CPR)->reason);
		}
	} else {
		snprintf(probe_err, sizeof(probe_err), "--no-bpf");
	}

	if (!opt.quiet)
		printf("%-8s %8s %7s %9s %9s %11s %11s %11s %7s\n", "mapping", "size MiB", "tables",
		       "fraction", "touched", "fork us", "cpr us", "touch us", "seen");
	fflush(stdout);	/* before any fork: a child must not flush a copy */
	for (si = 0; si < ns; si++) {
		for (ki = 0; ki < NKINDS; ki++) {
			char *p = map_region((uint64_t)sizes[si], ki);

			if (!p) {
				cl_err("cannot map %s %.0f bytes: %s", kind_names[ki], sizes[si],
				       strerror(errno));
				return 1;
			}
			for (fi = 0; fi < nf; fi++) {
				struct point *pt = &pts[npts];
				int fails = 0;

				memset(pt, 0, sizeof(*pt));
				pt->kind = ki;
				pt->size = (uint64_t)sizes[si];
				pt->frac = fracs[fi];
				pt->tables = (long)(pt->size / PMD_SZ);
				pt->k = lround(fracs[fi] * pt->tables);
				if (!pt->k)
					continue;	/* less than one table: the model only */
				npts++;
				for (r = 0; r < (int)(opt.warmup + opt.reps); r++) {
					int idx = r < (int)opt.warmup ? -1 : pt->n;

					if (one(p, pt, idx)) {
						fails++;
						continue;
					}
					if (idx >= 0)
						pt->n++;
				}
				if (fails)
					cl_err("%s %.0f MiB fraction %g: %d forks failed", kind_names[ki],
					       sizes[si] / (1 << 20), fracs[fi], fails);
				summarize(pt);
				if (!opt.quiet)
					printf("%-8s %8.0f %7ld %9g %9ld %11.1f %11.1f %11.1f %7ld\n",
					       kind_names[ki], sizes[si] / (1 << 20), pt->tables,
					       pt->frac, pt->k, pt->sf.median, pt->sc.median,
					       pt->st.median, pt->n ? pt->seen[0] : -1);
				fflush(stdout);
			}
			if (ki == K_PRIVATE) {
				struct execpoint *e = &ex[si];

				e->size = (uint64_t)sizes[si];
				for (r = 0; r < (int)(opt.warmup + opt.reps); r++)
					if (!one_exec(e, r < (int)opt.warmup ? -1 : e->n) &&
					    r >= (int)opt.warmup)
						e->n++;
				if (!opt.quiet && e->n)
					printf("%-8s %8.0f fork+exec: the child wrote into %ld of its %ld "
					       "tables with entries before execve\n", "private",
					       sizes[si] / (1 << 20), e->excl[0], e->present[0]);
				fflush(stdout);
			}
			munmap(p, (size_t)sizes[si]);
		}
	}

	/*
	 * The model. Per measured size: the private fork (median over fractions: the
	 * fork does not depend on what the child does next), its copy time, the shared
	 * fork. c_fault_table calibrated at the largest size and fraction measured shared.
	 */
	{
		/*
		 * Per size, pooled over every fork of that size (the fork does not depend on
		 * what the child does next): fp the private fork, rp its part outside
		 * copy_page_range (per sample: fork - its own copy time, so that a slow
		 * sample's copy does not count), fs the shared fork, os the copy time of
		 * the shared runs (the program's other VMAs: copied in both). cp: the
		 * region's own copy time (private copy - os).
		 */
		double fp[MAX_SIZES], cp[MAX_SIZES], fs[MAX_SIZES], nt[MAX_SIZES];
		double rp[MAX_SIZES], os[MAX_SIZES];
		double a_f, b_f, a_c, b_c, c_copy, c_share, c_ft = NAN, c_unshare, maxerr = 0;
		const struct point *cal = NULL;
		bool bpf_copy = true;
		int nm = 0;

		for (si = 0; si < ns; si++) {
			static double f[MAX_FRACS * MAX_REPS], rr[MAX_FRACS * MAX_REPS];
			static double cc[MAX_FRACS * MAX_REPS], sf[MAX_FRACS * MAX_REPS];
			static double so[MAX_FRACS * MAX_REPS];
			int a = 0, b = 0, d = 0, e = 0, q;
			struct cl_summary x;

			for (i = 0; i < npts; i++) {
				const struct point *pt = &pts[i];

				if (pt->size != (uint64_t)sizes[si] || !pt->n)
					continue;
				for (q = 0; q < pt->n; q++) {
					if (pt->kind == K_PRIVATE) {
						f[a++] = pt->fork_us[q];
						if (!isnan(pt->cpr_us[q])) {
							cc[b] = pt->cpr_us[q];
							rr[b++] = pt->fork_us[q] - pt->cpr_us[q];
						}
					} else {
						sf[d++] = pt->fork_us[q];
						if (!isnan(pt->cpr_us[q]))
							so[e++] = pt->cpr_us[q];
					}
				}
				if (pt->kind == K_SHARED &&
				    (!cal || pt->size > cal->size ||
				     (pt->size == cal->size && pt->k > cal->k)))
					cal = pt;
			}
			if (!a || !d)
				continue;
			nt[nm] = sizes[si] / PMD_SZ;
			cl_summarize(f, a, &x);
			fp[nm] = x.median;
			cl_summarize(sf, d, &x);
			fs[nm] = x.median;
			if (b && e) {
				cl_summarize(so, e, &x);
				os[nm] = x.median;
				cl_summarize(cc, b, &x);
				cp[nm] = x.median - os[nm];
				cl_summarize(rr, b, &x);
				rp[nm] = x.median;
			} else {
				bpf_copy = false;
			}
			nm++;
		}
		if (!bpf_copy)
			for (i = 0; i < nm; i++)
				cp[i] = fp[i] - fs[i];
		root = json_pack("{s:s, s:i, s:o}", "workload", "lazyfork", "schema", 1,
				 "environment", cl_environment_json());
		json_object_set_new(root, "params", json_pack("{s:i, s:i, s:b, s:s}", "reps", opt.reps,
				    "warmup", opt.warmup, "aslr",
				    !(personality(0xffffffff) & ADDR_NO_RANDOMIZE),
				    "copy_time_from", bpf_copy ? "bpf copy_page_range" :
				    "fork_private - fork_shared (no BPF)"));
		if (probes)
			json_object_set_new(root, "probes", cl_probes_status_json(probes));
		else
			json_object_set_new(root, "probes_error", json_string(probe_err));
		arr = json_array();
		for (i = 0; i < npts; i++)
			if (pts[i].n)
				json_array_append_new(arr, point_json(&pts[i]));
		for (si = 0; si < ns; si++) {
			struct execpoint *e = &ex[si];
			json_t *s = json_array();

			if (!e->n)
				continue;
			for (r = 0; r < e->n; r++)
				json_array_append_new(s, json_pack("{s:f, s:I, s:I, s:f}", "fork_stop_us",
						      e->total_us[r], "tables_with_entries",
						      (json_int_t)e->present[r], "tables_written",
						      (json_int_t)e->excl[r], "fraction_written",
						      e->frac[r]));
			json_array_append_new(arr, json_pack("{s:s, s:I, s:o, s:{s:o, s:o}}", "kind",
					      "fork_exec", "size_bytes", (json_int_t)e->size,
					      "samples", s, "summary", "fraction_written",
					      cl_summary_json(e->frac, e->n), "fork_stop_us",
					      cl_summary_json(e->total_us, e->n)));
		}
		if (nm) {
			fit(nt, fp, nm, &a_f, &b_f);
			fit(nt, cp, nm, &a_c, &b_c);
			c_copy = b_c;	/* us per table copied */
			c_share = c_copy / 512;
			if (cal && cal->n)
				c_ft = cal->st.median / cal->k;
			c_unshare = c_copy + (isnan(c_ft) ? 0 : c_ft);
			model = json_pack("{s:f, s:f, s:f, s:f, s:o, s:f, s:f, s:f}",
					  "fork_private_base_us", a_f, "fork_private_us_per_table", b_f,
					  "c_copy_us_per_table", c_copy, "c_share_us_per_table", c_share,
					  "c_fault_table_us", num_or_null(c_ft), "c_unshare_us_per_table",
					  c_unshare, "copy_base_us", a_c, "break_even_fraction",
					  c_unshare > 0 ? (c_copy - c_share) / c_unshare : 0);
			if (cal)
				json_object_set_new(model, "calibration", json_pack("{s:I, s:f}",
						    "size_bytes", (json_int_t)cal->size, "fraction",
						    cal->frac));
			/* predictions: every model size (and measured size) x fraction */
			{
				json_t *pred = json_array();
				double allsz[2 * MAX_SIZES];
				int na = 0, j;

				for (i = 0; i < nms; i++)
					allsz[na++] = msizes[i];
				for (i = 0; i < ns; i++) {
					for (j = 0; j < na && allsz[j] != sizes[i]; j++)
						;
					if (j == na)
						allsz[na++] = sizes[i];
				}
				for (i = 0; i < na; i++) {
					double n = allsz[i] / PMD_SZ, eager = a_f + b_f * n;
					double lazy = eager - n * (c_copy - c_share);

					for (j = 0; j < nf; j++)
						json_array_append_new(pred, json_pack(
							"{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "size_bytes",
							(json_int_t)allsz[i], "tables", n, "fraction",
							fracs[j], "eager_fork_us", eager, "lazy_fork_us",
							lazy, "lazy_total_us",
							lazy + fracs[j] * n * c_unshare, "eager_total_us",
							eager));
				}
				json_object_set_new(model, "predictions", pred);
			}
			/* validation on the kernel's own lazy path */
			val = json_array();
			for (i = 0; i < nm; i++) {
				double pred, err;

				if (!bpf_copy)
					break;	/* circular without an independent copy time */
				/* the private fork without its own copy, plus the other VMAs' copy */
				pred = rp[i] + os[i];
				err = 100 * (pred - fs[i]) / fs[i];
				json_array_append_new(val, json_pack("{s:s, s:I, s:f, s:f, s:f}", "what",
						      "shared fork latency", "size_bytes",
						      (json_int_t)(nt[i] * PMD_SZ), "predicted_us", pred,
						      "measured_us", fs[i], "error_pct", err));
				if (fabs(err) > maxerr)
					maxerr = fabs(err);
			}
			for (i = 0; i < npts && !isnan(c_ft); i++) {
				const struct point *pt = &pts[i];
				double pf = NAN, pred, meas, err;
				int m;

				if (pt->kind != K_SHARED || !pt->n || pt == cal)
					continue;
				for (m = 0; m < nm; m++)
					if (nt[m] * PMD_SZ == (double)pt->size)
						pf = bpf_copy ? rp[m] + os[m] : fs[m];
				if (isnan(pf))
					continue;
				pred = pf + pt->k * c_ft;
				meas = pt->sf.median + pt->st.median;
				err = 100 * (pred - meas) / meas;
				json_array_append_new(val, json_pack("{s:s, s:I, s:f, s:I, s:f, s:f, s:f}",
						      "what", "shared fork + first touches", "size_bytes",
						      (json_int_t)pt->size, "fraction", pt->frac,
						      "tables_touched", (json_int_t)pt->k, "predicted_us",
						      pred, "measured_us", meas, "error_pct", err));
				if (fabs(err) > maxerr)
					maxerr = fabs(err);
			}
			json_object_set_new(model, "validation", val);
			json_object_set_new(model, "max_abs_error_pct", json_real(maxerr));
			json_object_set_new(root, "model", model);
			if (!opt.quiet) {
				printf("model: c_copy %.3f us/table, c_fault_table %.3f us, unshare %.3f "
				       "us/table, break-even at %.1f%% of tables written; validation "
				       "max |error| %.1f%% (%zu points)\n", c_copy, c_ft, c_unshare,
				       c_unshare > 0 ? 100 * (c_copy - c_share) / c_unshare : 0, maxerr,
				       json_array_size(val));
				for (i = 0; i < nm && bpf_copy; i++)
					printf("  %6.0f MiB: region copy %.1f us; shared fork predicted "
					       "%.1f us, measured %.1f us\n", nt[i] * 2, cp[i],
					       rp[i] + os[i], fs[i]);
			}
		}
		json_object_set_new(root, "configs", arr);
	}
	cl_probes_close(probes);
	if (json && cl_json_write(root, json))
		return 1;
	json_decref(root);
	return npts ? 0 : 1;
}
