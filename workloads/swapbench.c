// SPDX-License-Identifier: GPL-2.0
/*
 * swapbench: a working set larger than its memory-cgroup limit, with swap.
 *
 * The process puts itself in a new cgroup v2 group under /sys/fs/cgroup with
 * memory.max = LIMIT, writes a working set of WSS bytes (THP off), then
 * makes PASSES passes over it per access pattern (seq: in address order;
 * random: a fresh random permutation each pass), one byte written per page.
 * Recorded per pass: time per page, major faults (ru_majflt) and the pages
 * swapped in and out (/proc/vmstat pswpin, pswpout, system-wide). Needs root,
 * cgroup v2 with the memory controller, and swap (--setup-zram makes one).
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
#include <sys/stat.h>
#include <unistd.h>

#include "jsonout.h"
#include "stats.h"
#include "sysutil.h"
#include "util.h"

#define PAGE 4096UL

static void usage(FILE *f)
{
	fprintf(f,
		"usage: swapbench [options]\n\n"
		"A working set larger than its memory-cgroup limit: time per page and swap traffic.\n\n"
		"  -l, --limit SIZE        memory.max of the group (default 32M)\n"
		"  -s, --wss SIZE          working set (default 48M)\n"
		"  -p, --patterns LIST     of seq,random (default both)\n"
		"  -n, --passes N          measured passes per pattern (default 3)\n"
		"      --setup-zram SIZE   first make a zram swap device of SIZE if none is on\n"
		"  -j, --json FILE         write results as JSON (- for stdout)\n"
		"  -q, --quiet             no table on stdout\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'l' }, { "wss", required_argument, NULL, 's' },
		{ "patterns", required_argument, NULL, 'p' }, { "passes", required_argument, NULL, 'n' },
		{ "setup-zram", required_argument, NULL, 'Z' }, { "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const pattern_names[] = { "seq", "random" };
	uint64_t limit = 32 << 20, wss = 48 << 20, passes = 3, v;
	int pats[2] = { 0, 1 }, np = 2, c, pi, pass;
	char plist[64] = "";
	const char *json = NULL, *zram = NULL;
	json_t *root = NULL, *arr = NULL;
	bool quiet = false;
	size_t npages, i, *perm;
	char *mem;

	cl_set_prog("swapbench");
	while ((c = getopt_long(argc, argv, "l:s:p:n:j:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 's':
			if (cl_parse_size(optarg, &v) || v < (1 << 20)) {
				cl_err("bad --%s '%s' (at least 1M)", c == 'l' ? "limit" : "wss", optarg);
				return 2;
			}
			*(c == 'l' ? &limit : &wss) = v;
			break;
		case 'p':
			snprintf(plist, sizeof(plist), "%s", optarg);
			np = cl_parse_choices(plist, pattern_names, 2, pats, 2, "pattern");
			if (np < 0)
				return 2;
			break;
		case 'n':
			if (cl_parse_u64(optarg, 1, 1000, &passes)) {
				cl_err("bad --passes '%s'", optarg);
				return 2;
			}
			break;
		case 'Z': zram = optarg; break;
		case 'j': json = optarg; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (wss <= limit)
		cl_err("warning: the working set (%llu MiB) fits in the limit (%llu MiB): little swap",
		       (unsigned long long)(wss >> 20), (unsigned long long)(limit >> 20));
	if (zram && cl_setup_zram(zram)) {
		cl_err("--setup-zram %s failed (needs root and the zram driver)", zram);
		return 1;
	}
	if (cl_swap_total_kb() == 0) {
		cl_err("no swap is on: enable some (swapon), or --setup-zram SIZE");
		return 1;
	}
	if (cl_memcg_join("swapbench", limit))
		return 1;

	npages = wss / PAGE;
	mem = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	perm = calloc(npages, sizeof(*perm));
	if (mem == MAP_FAILED || !perm) {
		cl_err("cannot allocate the working set: %s", strerror(errno));
		return 1;
	}
	madvise(mem, npages * PAGE, MADV_NOHUGEPAGE);
	for (i = 0; i < npages; i++)
		mem[i * PAGE] = 1;
	srand(1);
	if (json) {
		root = json_pack("{s:s, s:i, s:o}", "workload", "swapbench", "schema", 1,
				 "environment", cl_environment_json());
		json_object_set_new(root, "params", json_pack("{s:I, s:I, s:I, s:I}", "limit_bytes",
				    (json_int_t)limit, "wss_bytes", (json_int_t)wss, "passes",
				    (json_int_t)passes, "swap_kb", (json_int_t)cl_swap_total_kb()));
		arr = json_array();
	}
	if (!quiet)
		printf("%-7s %5s %12s %10s %10s %10s\n", "pattern", "pass", "ns/page", "majflt",
		       "pswpin", "pswpout");
	for (pi = 0; pi < np; pi++) {
		double *ns = calloc(passes, sizeof(double));
		json_t *samples = json_array();
		struct cl_summary s;

		for (pass = 0; pass < (int)passes; pass++) {
			long in0 = cl_vmstat("pswpin"), out0 = cl_vmstat("pswpout");
			struct rusage r0, r1;
			uint64_t t0;

			for (i = 0; i < npages; i++)
				perm[i] = i;
			if (pats[pi] == 1)
				for (i = npages - 1; i > 0; i--) {
					size_t j = (size_t)rand() % (i + 1), t = perm[i];

					perm[i] = perm[j];
					perm[j] = t;
				}
			getrusage(RUSAGE_SELF, &r0);
			t0 = cl_now_ns();
			for (i = 0; i < npages; i++)
				mem[perm[i] * PAGE] += 1;
			ns[pass] = (double)(cl_now_ns() - t0) / (double)npages;
			getrusage(RUSAGE_SELF, &r1);
			if (!quiet)
				printf("%-7s %5d %12.1f %10ld %10ld %10ld\n", pattern_names[pats[pi]],
				       pass, ns[pass], r1.ru_majflt - r0.ru_majflt,
				       cl_vmstat("pswpin") - in0, cl_vmstat("pswpout") - out0);
			json_array_append_new(samples, json_pack("{s:f, s:I, s:I, s:I}", "ns_per_page",
					      ns[pass], "majflt", (json_int_t)(r1.ru_majflt - r0.ru_majflt),
					      "pswpin", (json_int_t)(cl_vmstat("pswpin") - in0),
					      "pswpout", (json_int_t)(cl_vmstat("pswpout") - out0)));
		}
		cl_summarize(ns, passes, &s);
		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:I, s:o, s:{s:o}}", "pattern",
					      pattern_names[pats[pi]], "pages", (json_int_t)npages,
					      "samples", samples, "summary", "ns_per_page",
					      cl_summary_json(ns, passes)));
		else
			json_decref(samples);
		free(ns);
	}
	if (root) {
		json_object_set_new(root, "configs", arr);
		if (cl_json_write(root, json))
			return 1;
		json_decref(root);
	}
	return 0;
}
