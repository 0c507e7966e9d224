// SPDX-License-Identifier: GPL-2.0
/*
 * forkbench: what creating a process costs as the parent's memory grows.
 *
 * The parent builds a resident set of SIZE bytes in one of three layouts
 * ("A fork() in the road", HotOS'19, argues the cost follows the parent's
 * address space, not the child's needs):
 *   dense       one mapping, every page touched;
 *   sparse      a mapping 16x larger, every 16th page touched: the same RSS
 *               with up to 16x the page-table pages;
 *   fragmented  64 KiB mappings separated by guard holes: the same RSS in
 *               thousands of VMAs;
 * with THP off (MADV_NOHUGEPAGE) or on (MADV_HUGEPAGE), then times each way
 * of starting a child:
 *   fork        fork(), the child _exit()s at once;
 *   fork_exec   fork() + execve(/bin/true);
 *   vfork_exec  vfork() + execve(/bin/true);
 *   spawn       posix_spawn(/bin/true);
 *   clone_vm    clone(CLONE_VM), the child returns at once (no page tables copied).
 * Recorded per sample: the call's latency in the parent (until fork/vfork/
 * posix_spawn/clone returns there) and the total until the child is reaped.
 * Recorded per configuration: the parent's RSS and page-table size (VmPTE),
 * and region_pte_kb, the page tables the memory built for it added (VmPTE
 * before and after; dense and sparse regions are 2 MiB-aligned, so this is a
 * function of the size, layout and THP alone, not of the program's own size):
 * exact counts.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sched.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jsonout.h"
#include "stats.h"
#include "sysutil.h"
#include "util.h"

#define PAGE		4096UL
#define MAX_REPS	1000
#define CHUNK		(64UL << 10)	/* fragmented: mapping size */
#define SPARSE		16		/* sparse: one page in SPARSE */
#define PMD_SZ		(2UL << 20)

extern char **environ;

enum variant { V_FORK, V_FORK_EXEC, V_VFORK_EXEC, V_SPAWN, V_CLONE_VM, NVARIANTS };
static const char *const variant_names[] = { "fork", "fork_exec", "vfork_exec", "spawn", "clone_vm" };
enum layout { L_DENSE, L_SPARSE, L_FRAG, NLAYOUTS };
static const char *const layout_names[] = { "dense", "sparse", "fragmented" };

static struct {
	unsigned int reps, warmup;
	const char *json, *exe;
	bool quiet;
} opt = { .reps = 10, .warmup = 1, .exe = "/bin/true" };

struct mapping { char *p; size_t len; };

struct memory {
	struct mapping *m;
	size_t n;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: forkbench [options]\n\n"
		"Time process creation (fork, fork+exec, vfork+exec, posix_spawn, clone(CLONE_VM))\n"
		"as the parent's resident memory grows, by layout and THP setting.\n\n"
		"  -s, --sizes LIST      RSS sizes (default 0,16M,64M,256M,1G)\n"
		"  -v, --variants LIST   of fork,fork_exec,vfork_exec,spawn,clone_vm (default: all)\n"
		"  -l, --layouts LIST    of dense,sparse,fragmented (default dense)\n"
		"  -t, --thp LIST        of never,always (default never,always)\n"
		"  -r, --reps N          measured repetitions (default 10)\n"
		"  -w, --warmup N        discarded warm-up repetitions (default 1)\n"
		"      --exec PATH       the program exec'ed by the exec variants (default /bin/true)\n"
		"  -j, --json FILE       write results as JSON (- for stdout)\n"
		"  -q, --quiet           no table\n"
		"      --no-aslr         run without address randomisation (exact page-table counts)\n");
}

static int build_memory(uint64_t size, enum layout l, bool thp, struct memory *mem)
{
	size_t pages = size / PAGE, i, j;

	memset(mem, 0, sizeof(*mem));
	if (!pages)
		return 0;
	if (l == L_FRAG) {
		size_t per = CHUNK / PAGE, n = (pages + per - 1) / per;
		/* Reserve one range and carve it: chunk, hole, chunk, hole... */
		char *base = mmap(NULL, n * 2 * CHUNK, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
				  MAP_NORESERVE, -1, 0);

		if (base == MAP_FAILED)
			return -1;
		mem->m = calloc(n + 1, sizeof(*mem->m));
		if (!mem->m)
			return -1;
		for (i = 0; i < n; i++) {
			char *p = base + i * 2 * CHUNK;

			if (mprotect(p, CHUNK, PROT_READ | PROT_WRITE))
				return -1;
			madvise(p, CHUNK, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
			for (j = 0; j < per; j++)
				p[j * PAGE] = 1;
			mem->m[mem->n++] = (struct mapping){ p, CHUNK };
		}
		/* The PROT_NONE holes stay mapped: they are what separates the VMAs. */
		mem->m[mem->n++] = (struct mapping){ base, n * 2 * CHUNK };
		return 0;
	}
	mem->m = calloc(1, sizeof(*mem->m));
	if (!mem->m)
		return -1;
	{
		size_t stride = l == L_SPARSE ? SPARSE : 1;
		size_t len = pages * stride * PAGE;
		char *raw = mmap(NULL, len + PMD_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE |
				 MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), *p;

		if (raw == MAP_FAILED)
			return -1;
		/* 2 MiB-aligned: its page tables are a function of its size alone */
		p = (char *)(((uintptr_t)raw + PMD_SZ - 1) & ~(PMD_SZ - 1));
		if (p > raw)
			munmap(raw, p - raw);
		munmap(p + len, raw + len + PMD_SZ - (p + len));
		madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		for (i = 0; i < pages; i++)
			p[i * stride * PAGE] = 1;
		mem->m[mem->n++] = (struct mapping){ p, len };
	}
	return 0;
}

static void free_memory(struct memory *mem)
{
	size_t i;

	for (i = mem->n; i > 0; i--)
		munmap(mem->m[i - 1].p, mem->m[i - 1].len);
	free(mem->m);
	memset(mem, 0, sizeof(*mem));
}

static int clone_child(void *arg)
{
	return 0;
}

/* One child; call and total latency in microseconds. */
static int one(enum variant v, double *call_us, double *total_us)
{
	static char *stack;
	char *argv[] = { (char *)opt.exe, NULL };
	uint64_t t0, t1, t2;
	int status;
	pid_t pid;

	if (!stack && !(stack = malloc(64 << 10)))
		return -1;
	cl_settle();
	t0 = cl_now_ns();
	switch (v) {
	case V_FORK:
	case V_FORK_EXEC:
		pid = fork();
		if (pid == 0) {
			if (v == V_FORK_EXEC)
				execve(opt.exe, argv, environ);
			_exit(v == V_FORK_EXEC ? 127 : 0);
		}
		break;
	case V_VFORK_EXEC:
		pid = vfork();
		if (pid == 0) {
			execve(opt.exe, argv, environ);
			_exit(127);
		}
		break;
	case V_SPAWN:
		if (posix_spawn(&pid, opt.exe, NULL, NULL, argv, environ))
			pid = -1;
		break;
	default:
		pid = clone(clone_child, stack + (64 << 10), CLONE_VM | SIGCHLD, NULL);
	}
	cl_inject(t0);
	t1 = cl_now_ns();
	if (pid < 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	t2 = cl_now_ns();
	*call_us = (double)(t1 - t0) / 1e3;
	*total_us = (double)(t2 - t0) / 1e3;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "variants", required_argument, NULL, 'v' },
		{ "layouts", required_argument, NULL, 'l' },
		{ "thp", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "exec", required_argument, NULL, 'e' },
		{ "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "no-aslr", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const char *const thp_names[] = { "never", "always" };
	char sizes_s[256] = "0,16M,64M,256M,1G", var_s[128] = "fork,fork_exec,vfork_exec,spawn,clone_vm";
	char lay_s[64] = "dense", thp_s[32] = "never,always", *tok, *save;
	int vars[NVARIANTS], lays[NLAYOUTS], thps[2], nv, nl, nt, c, li, ti, vi, r;
	uint64_t sizes[32], v;
	size_t nsizes = 0, si;
	json_t *root = NULL, *arr = NULL;
	static double call[MAX_REPS], total[MAX_REPS];
	bool no_aslr = false;

	cl_set_prog("forkbench");
	cl_timing_sched();
	while ((c = getopt_long(argc, argv, "s:v:l:t:r:w:j:qAh", opts, NULL)) != -1) {
		switch (c) {
		case 's': snprintf(sizes_s, sizeof(sizes_s), "%s", optarg); break;
		case 'v': snprintf(var_s, sizeof(var_s), "%s", optarg); break;
		case 'l': snprintf(lay_s, sizeof(lay_s), "%s", optarg); break;
		case 't': snprintf(thp_s, sizeof(thp_s), "%s", optarg); break;
		case 'r':
		case 'w':
			if (cl_parse_u64(optarg, c == 'r' ? 1 : 0, c == 'r' ? MAX_REPS : 100, &v)) {
				cl_err("bad --%s '%s'", c == 'r' ? "reps" : "warmup", optarg);
				return 2;
			}
			*(c == 'r' ? &opt.reps : &opt.warmup) = (unsigned int)v;
			break;
		case 'e': opt.exe = optarg; break;
		case 'j': opt.json = optarg; break;
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
	/* Re-exec without address randomisation: page-table counts then repeat exactly. */
	if (no_aslr && cl_reexec_no_aslr(argv)) {
		cl_err("cannot re-exec without ASLR: %s", strerror(errno));
		return 1;
	}
	for (tok = strtok_r(sizes_s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nsizes == ARRAY_SIZE(sizes) || cl_parse_size(tok, &sizes[nsizes])) {
			cl_err("bad size '%s'", tok);
			return 2;
		}
		nsizes++;
	}
	nv = cl_parse_choices(var_s, variant_names, NVARIANTS, vars, NVARIANTS, "variant");
	nl = cl_parse_choices(lay_s, layout_names, NLAYOUTS, lays, NLAYOUTS, "layout");
	nt = cl_parse_choices(thp_s, thp_names, 2, thps, 2, "thp setting");
	if (nv <= 0 || nl <= 0 || nt <= 0)
		return 2;
	if (access(opt.exe, X_OK)) {
		cl_err("--exec %s: %s", opt.exe, strerror(errno));
		return 2;
	}

	if (opt.json) {
		root = json_pack("{s:s, s:i, s:o}", "workload", "forkbench", "schema", 1,
				 "environment", cl_environment_json());
		json_object_set_new(root, "params", json_pack("{s:i, s:i, s:s, s:b}", "reps", opt.reps,
				    "warmup", opt.warmup, "exec", opt.exe, "aslr",
				    !(personality(0xffffffff) & ADDR_NO_RANDOMIZE)));
		arr = json_array();
	}
	if (!opt.quiet)
		printf("%-10s %-6s %8s %-10s %8s %9s %11s %11s\n", "layout", "thp", "rss MiB",
		       "variant", "PTE kB", "VMAs", "call us", "total us");
	for (li = 0; li < nl; li++)
		for (ti = 0; ti < nt; ti++)
			for (si = 0; si < nsizes; si++) {
				struct memory mem;
				long rss_kb, pte_kb, pte0_kb = cl_status_kb(0, "VmPTE");

				if (build_memory(sizes[si], lays[li], thps[ti], &mem)) {
					cl_err("cannot build %s %llu bytes: %s", layout_names[lays[li]],
					       (unsigned long long)sizes[si], strerror(errno));
					free_memory(&mem);
					continue;
				}
				rss_kb = cl_status_kb(0, "VmRSS");
				pte_kb = cl_status_kb(0, "VmPTE");
				for (vi = 0; vi < nv; vi++) {
					struct cl_summary sc, st;
					int n = 0, fails = 0;
					json_t *samples;

					for (r = 0; r < (int)(opt.warmup + opt.reps); r++) {
						double cu, tu;

						if (one(vars[vi], &cu, &tu)) {
							fails++;
							continue;
						}
						if (r >= (int)opt.warmup) {
							call[n] = cu;
							total[n++] = tu;
						}
					}
					cl_summarize(call, n, &sc);
					cl_summarize(total, n, &st);
					if (!opt.quiet)
						printf("%-10s %-6s %8.0f %-10s %8ld %9zu %11.1f %11.1f%s\n",
						       layout_names[lays[li]], thp_names[thps[ti]],
						       (double)sizes[si] / (1 << 20), variant_names[vars[vi]],
						       pte_kb, mem.n, sc.median, st.median,
						       fails ? "  (some runs failed)" : "");
					if (!arr)
						continue;
					samples = json_array();
					for (r = 0; r < n; r++)
						json_array_append_new(samples, json_pack("{s:f, s:f}",
								      "call_us", call[r], "total_us", total[r]));
					json_array_append_new(arr, json_pack(
						"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:o, s:{s:o, s:o}}",
						"layout", layout_names[lays[li]], "thp", thp_names[thps[ti]],
						"variant", variant_names[vars[vi]],
						"size_bytes", (json_int_t)sizes[si],
						"rss_kb", (json_int_t)rss_kb, "pte_kb", (json_int_t)pte_kb,
						"region_pte_kb", (json_int_t)(pte_kb - pte0_kb),
						"mappings", (json_int_t)mem.n, "failed_runs", fails,
						"samples", samples, "summary",
						"call_us", cl_summary_json(call, n),
						"total_us", cl_summary_json(total, n)));
				}
				free_memory(&mem);
			}
	if (root) {
		json_object_set_new(root, "configs", arr);
		if (cl_json_write(root, opt.json))
			return 1;
		json_decref(root);
	}
	return 0;
}
