// SPDX-License-Identifier: GPL-2.0
/*
 * forkchain: fork depth and the cost of faults in the deepest descendant.
 *
 * FreeBSD asked whether long shadow-object chains make faults expensive;
 * Linux's equivalent is the anon_vma chain: every fork gives the child an
 * anon_vma linked to all its ancestors' (anon_vma_fork), so fork cost and
 * reverse-map work can grow with depth. The root maps SIZE bytes (THP off) and
 * writes every page; then a chain of DEPTH processes forks, each from the one
 * before, all staying alive; the deepest writes every page (SIZE/4096 COW
 * faults, each a copy: its ancestors still map the pages) and then reads them
 * back. Recorded per sample: the last fork's latency, and per page the write
 * (COW) and read times in the deepest, with its exact minor-fault count.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonout.h"
#include "stats.h"
#include "util.h"

#define PAGE		4096UL
#define MAX_DEPTH	64
#define MAX_REPS	1000

struct shared {			/* written by the chain, read by the root */
	double fork_us[MAX_DEPTH + 1];
	double cow_ns_per_page, read_ns_per_page;
	long minflt;
	int ok;
};

static char *mem;
static size_t npages;
static struct shared *sh;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: forkchain [options]\n\n"
		"Fork chains of increasing depth; COW write and read cost per page in the deepest.\n\n"
		"  -s, --size SIZE      memory written by the root before the chain (default 64M)\n"
		"  -d, --depths LIST    chain depths (default 1,2,4,8,16; at most %d)\n"
		"  -r, --reps N         measured repetitions per depth (default 5)\n"
		"  -w, --warmup N       discarded warm-up repetitions (default 1)\n"
		"  -j, --json FILE      write results as JSON (- for stdout)\n"
		"  -q, --quiet          no table on stdout\n"
		"      --no-aslr        run without address randomisation (exact fault counts)\n",
		MAX_DEPTH);
}

/* The process at @level of a chain of @depth: fork the next, or measure. */
static void descend(int level, int depth)
{
	struct rusage r0, r1;
	volatile char sink = 0;
	uint64_t t0;
	size_t i;
	int st;

	if (level == depth) {
		cl_settle();
		getrusage(RUSAGE_SELF, &r0);
		t0 = cl_now_ns();
		for (i = 0; i < npages; i++)
			mem[i * PAGE] = (char)level;
		cl_inject(t0);
		sh->cow_ns_per_page = (double)(cl_now_ns() - t0) / (double)(npages ? npages : 1);
		getrusage(RUSAGE_SELF, &r1);
		t0 = cl_now_ns();
		for (i = 0; i < npages; i++)
			sink += mem[i * PAGE + 1];
		sh->read_ns_per_page = (double)(cl_now_ns() - t0) / (double)(npages ? npages : 1);
		sh->minflt = r1.ru_minflt - r0.ru_minflt;
		sh->ok = 1;
		return;
	}
	cl_settle();
	t0 = cl_now_ns();
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (pid == 0) {
		/* a child is a normal task (SCHED_RESET_ON_FORK): as the next measurer, it is
		 * made one again (icount guests only) */
		cl_timing_sched();
		descend(level + 1, depth);
		_exit(0);
	}
	cl_inject(t0);
	sh->fork_us[level] = (double)(cl_now_ns() - t0) / 1e3;
	waitpid(pid, &st, 0);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' }, { "depths", required_argument, NULL, 'd' },
		{ "reps", required_argument, NULL, 'r' }, { "warmup", required_argument, NULL, 'w' },
		{ "json", required_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
		{ "no-aslr", no_argument, NULL, 'A' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 64 << 20, reps = 5, warmup = 1, v;
	bool no_aslr = false;
	int depths[MAX_DEPTH], nd = 0, c, di, r;
	const char *json = NULL;
	bool quiet = false;
	json_t *root = NULL, *arr = NULL;
	char *list = strdup("1,2,4,8,16"), *tok, *save;

	cl_set_prog("forkchain");
	cl_timing_sched();
	while ((c = getopt_long(argc, argv, "s:d:r:w:j:qh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cl_parse_size(optarg, &size) || size < PAGE) {
				cl_err("bad --size '%s'", optarg);
				return 2;
			}
			break;
		case 'd':
			free(list);
			list = strdup(optarg);
			break;
		case 'r':
		case 'w':
			if (cl_parse_u64(optarg, c == 'r', MAX_REPS, &v)) {
				cl_err("bad --%s '%s'", c == 'r' ? "reps" : "warmup", optarg);
				return 2;
			}
			*(c == 'r' ? &reps : &warmup) = v;
			break;
		case 'j': json = optarg; break;
		case 'q': quiet = true; break;
		case 'A': no_aslr = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (no_aslr && cl_reexec_no_aslr(argv)) {
		cl_err("cannot re-exec without ASLR: %s", strerror(errno));
		return 1;
	}
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nd == MAX_DEPTH || cl_parse_u64(tok, 1, MAX_DEPTH, &v)) {
			cl_err("bad depth '%s' (1..%d, at most %d of them)", tok, MAX_DEPTH, MAX_DEPTH);
			return 2;
		}
		depths[nd++] = (int)v;
	}
	if (!nd) {
		cl_err("no depths");
		return 2;
	}
	npages = size / PAGE;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || sh == MAP_FAILED) {
		cl_err("mmap: %s", strerror(errno));
		return 1;
	}
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	memset(mem, 1, npages * PAGE);

	if (json) {
		root = json_pack("{s:s, s:i, s:o}", "workload", "forkchain", "schema", 1,
				 "environment", cl_environment_json());
		json_object_set_new(root, "params", json_pack("{s:I, s:I, s:I}", "size_bytes",
				    (json_int_t)size, "reps", (json_int_t)reps, "warmup",
				    (json_int_t)warmup));
		arr = json_array();
	}
	if (!quiet)
		printf("%6s %12s %14s %14s %10s\n", "depth", "fork_us", "cow_ns/page", "read_ns/page",
		       "minflt");
	for (di = 0; di < nd; di++) {
		int d = depths[di], n = 0, bad = 0;
		double *fk = calloc(reps, sizeof(double)), *cw = calloc(reps, sizeof(double));
		double *rd = calloc(reps, sizeof(double));
		long minflt = -1;
		struct cl_summary sf, sc, sr;
		json_t *samples;

		for (r = 0; r < (int)(reps + warmup); r++) {
			memset(sh, 0, sizeof(*sh));
			descend(0, d);
			if (!sh->ok) {
				bad++;
				continue;
			}
			if (r < (int)warmup)
				continue;
			fk[n] = sh->fork_us[d - 1];
			cw[n] = sh->cow_ns_per_page;
			rd[n++] = sh->read_ns_per_page;
			/* the minimum: 6.12 sometimes adds one fault to a run (never removes one) */
			if (minflt < 0 || sh->minflt < minflt)
				minflt = sh->minflt;
		}
		if (!n) {
			cl_err("depth %d: every chain failed (fork: %s)", d, strerror(errno));
			return 1;
		}
		cl_summarize(fk, n, &sf);
		cl_summarize(cw, n, &sc);
		cl_summarize(rd, n, &sr);
		if (!quiet)
			printf("%6d %12.1f %14.1f %14.1f %10ld%s\n", d, sf.median, sc.median, sr.median,
			       minflt, bad ? "  (some chains failed)" : "");
		if (!arr)
			continue;
		samples = json_array();
		for (r = 0; r < n; r++)
			json_array_append_new(samples, json_pack("{s:f, s:f, s:f}", "fork_us", fk[r],
					      "cow_ns_per_page", cw[r], "read_ns_per_page", rd[r]));
		json_array_append_new(arr, json_pack("{s:i, s:I, s:I, s:I, s:i, s:o, s:{s:o, s:o, s:o}}",
			"depth", d, "size_bytes", (json_int_t)size, "pages", (json_int_t)npages,
			"minflt_deepest", (json_int_t)minflt, "failed_runs", bad, "samples", samples,
			"summary", "fork_us", cl_summary_json(fk, n),
			"cow_ns_per_page", cl_summary_json(cw, n),
			"read_ns_per_page", cl_summary_json(rd, n)));
		free(fk);
		free(cw);
		free(rd);
	}
	if (root) {
		json_object_set_new(root, "configs", arr);
		if (cl_json_write(root, json))
			return 1;
		json_decref(root);
	}
	return 0;
}
