// SPDX-License-Identifier: GPL-2.0
/*
 * swapfrag: the cost of allocating swap slots as a swap device fills and fragments.
 *
 * FreeBSD allocates swap from a radix tree of bitmaps (blist) whose cost stays flat
 * as the device fills; Linux went from 6.1's cluster scanner (a per-CPU slot cache
 * refilled by get_swap_pages(), 64 slots at a time) to the per-CPU cluster allocator
 * of 6.13 and later (folio_alloc_swap() allocating each slot itself). This measures
 * both with the same workload.
 *
 * swapfrag makes its own zram swap device of --size (hot_add, swapon at the highest
 * priority, so that every slot it allocates comes from it; removed at exit), joins a
 * memory cgroup of --limit, and for each fragmentation pattern, from an empty device:
 *   for each fill level F (ascending): write new pages (THP off, each page different,
 *   so zram stores them) until F% of the device is in use; fragment: free (MADV_DONTNEED)
 *   every k-th of the pages written since the last level (--frag k; "random": each with
 *   probability 1/2; 0: none), then top up to F% again; then --reps batches of --batch
 *   bytes of new pages, each pushing as many older pages out to swap, with the BPF
 *   probes on the slot allocator (swapalloc: folio_alloc_swap, else get_swap_pages;
 *   the JSON names which) and on swap writes. Per batch: the pages written to swap
 *   (/proc/vmstat pswpout), the allocator's time per slot swapped out (its time summed
 *   / those pages: comparable across kernels whatever one call covers), its per-call
 *   latency (p50, p99) and the swap-out throughput. The batches stay allocated until
 *   the next level (each batch starts where the previous one left the device).
 * Needs root, cgroup v2 with the memory controller and zram.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <unistd.h>

#include "histo.h"
#include "jsonout.h"
#include "probelib.h"
#include "stats.h"
#include "sysutil.h"
#include "util.h"

#define PAGE		4096UL
#define MAX_FILLS	16
#define MAX_FRAGS	8
#define MAX_REPS	20

static int zid = -1;
static char zdev[32];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: swapfrag [options]\n\n"
		"Swap-slot allocation latency and swap-out throughput as a swap device fills and\n"
		"fragments (BPF on the kernel's slot allocator).\n\n"
		"  -S, --size SIZE     the zram swap device it makes (default 256M)\n"
		"  -F, --fills LIST    fill levels in %% of the device (default 10,25,50,75,90,95)\n"
		"  -f, --frag LIST     patterns: 0 (none), k (free every k-th page), random\n"
		"                      (default 0,2,8,random)\n"
		"  -b, --batch SIZE    new memory per measured batch (default 4M)\n"
		"  -r, --reps N        batches per level (default 3)\n"
		"  -l, --limit SIZE    memory.max of its cgroup (default 16M)\n"
		"  -j, --json FILE     write results as JSON (- for stdout)\n"
		"  -q, --quiet         no table\n\n"
		"Needs root, cgroup v2 with the memory controller, and zram.\n");
}

static void zram_remove(void)
{
	char buf[16];

	if (zid < 0)
		return;
	if (swapoff(zdev))
		cl_err("swapoff %s: %s", zdev, strerror(errno));
	snprintf(buf, sizeof(buf), "%d", zid);
	if (cl_write_file("/sys/class/zram-control/hot_remove", buf))
		cl_err("cannot remove zram%d", zid);
	zid = -1;
}

static int zram_make(uint64_t size)
{
	char buf[64], path[96], cmd[160];

	if (access("/sys/class/zram-control/hot_add", R_OK) &&
	    system("guest-modprobe zram 2>/dev/null || modprobe zram 2>/dev/null")) {
		cl_err("no zram (modprobe zram failed)");
		return -1;
	}
	if (cl_read_file("/sys/class/zram-control/hot_add", buf, sizeof(buf)) || !buf[0]) {
		cl_err("cannot add a zram device: %s", strerror(errno));
		return -1;
	}
	zid = atoi(buf);
	atexit(zram_remove);
	snprintf(zdev, sizeof(zdev), "/dev/zram%d", zid);
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", zid);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)size);
	if (cl_write_file(path, buf)) {
		cl_err("%s: cannot set the size", path);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "mkswap %s >/dev/null", zdev);
	if (system(cmd)) {
		cl_err("mkswap %s failed", zdev);
		return -1;
	}
	/* the highest priority: every slot swapfrag causes comes from this device */
	if (swapon(zdev, SWAP_FLAG_PREFER | (32767 << SWAP_FLAG_PRIO_SHIFT))) {
		cl_err("swapon %s: %s", zdev, strerror(errno));
		return -1;
	}
	return 0;
}

/* Size and use of our device from /proc/swaps, in kB. */
static int dev_use(long *size_kb, long *used_kb)
{
	char line[256], name[128];
	long s, u;
	FILE *f = fopen("/proc/swaps", "r");
	int found = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %*s %ld %ld", name, &s, &u) == 3 && !strcmp(name, zdev)) {
			*size_kb = s;
			*used_kb = u;
			found = 0;
		}
	if (f)
		fclose(f);
	return found;
}

static void write_page(char *p, uint64_t i)
{
	/* not same-filled (zram would store no data for it); compresses well */
	*(uint64_t *)p = i * 0x9e3779b97f4a7c15ULL + 1;
	p[PAGE / 2] = (char)(i | 1);
}

struct batch {
	double ms, pswpout, reclaimed, ns_per_slot, calls, p50, p99, mib_s, used_before, used_after;
};

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 'S' }, { "fills", required_argument, NULL, 'F' },
		{ "frag", required_argument, NULL, 'f' }, { "batch", required_argument, NULL, 'b' },
		{ "reps", required_argument, NULL, 'r' }, { "limit", required_argument, NULL, 'l' },
		{ "json", required_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	uint64_t size = 256 << 20, batch = 4 << 20, limit = 16 << 20, reps = 3, v;
	char fills_s[128] = "10,25,50,75,90,95", frag_s[128] = "0,2,8,random", *tok, *save;
	int fills[MAX_FILLS], frags[MAX_FRAGS], nfill = 0, nfrag = 0, c, fi, gi, r;
	const char *json = NULL;
	bool quiet = false;
	struct cl_probe_opts po = { 0 };
	struct cl_probes *pr;
	static struct cl_snapshot s0, s1;
	char err[1024] = "", *region, *bregion;
	long size_kb, used_kb;
	size_t npages, nb;
	json_t *root, *arr;
	const char *alloc_fn = "none";

	cl_set_prog("swapfrag");
	while ((c = getopt_long(argc, argv, "S:F:f:b:r:l:j:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'S':
		case 'b':
		case 'l':
			if (cl_parse_size(optarg, &v) || v < (c == 'S' ? 16 << 20 : PAGE)) {
				cl_err("bad size '%s'", optarg);
				return 2;
			}
			*(c == 'S' ? &size : c == 'b' ? &batch : &limit) = v;
			break;
		case 'F': snprintf(fills_s, sizeof(fills_s), "%s", optarg); break;
		case 'f': snprintf(frag_s, sizeof(frag_s), "%s", optarg); break;
		case 'r':
			if (cl_parse_u64(optarg, 1, MAX_REPS, &reps)) {
				cl_err("bad --reps '%s' (1..%d)", optarg, MAX_REPS);
				return 2;
			}
			break;
		case 'j': json = optarg; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		cl_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	for (tok = strtok_r(fills_s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nfill == MAX_FILLS || cl_parse_u64(tok, 1, 98, &v) ||
		    (nfill && (int)v <= fills[nfill - 1])) {
			cl_err("bad fill '%s' (ascending percentages, 1..98)", tok);
			return 2;
		}
		fills[nfill++] = (int)v;
	}
	for (tok = strtok_r(frag_s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nfrag == MAX_FRAGS)
			goto badfrag;
		if (!strcmp(tok, "random"))
			frags[nfrag++] = -1;
		else if (!cl_parse_u64(tok, 0, 1 << 20, &v) && v != 1)
			frags[nfrag++] = (int)v;
		else
			goto badfrag;
		continue;
badfrag:
		cl_err("bad --frag '%s' (0, k >= 2 or random)", tok);
		return 2;
	}
	if (batch * reps * 100 / size + fills[nfill - 1] > 99) {
		cl_err("--batch x --reps would fill the device past 99%% at the %d%% level",
		       fills[nfill - 1]);
		return 2;
	}
	if (zram_make(size) || dev_use(&size_kb, &used_kb) || cl_memcg_join("swapfrag", limit))
		return 1;
	/*
	 * Room to refill after each level's frees (every 2nd page freed at every level
	 * writes about twice the device by 95%), and what stays resident. Virtual only
	 * (MAP_NORESERVE); pages freed cost nothing.
	 */
	npages = (size_t)(size / PAGE) * 4 + (size_t)(limit / PAGE) * 2;
	nb = (size_t)(batch / PAGE);
	region = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
		      MAP_NORESERVE, -1, 0);
	bregion = mmap(NULL, nb * reps * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (region == MAP_FAILED || bregion == MAP_FAILED) {
		cl_err("mmap: %s", strerror(errno));
		return 1;
	}
	madvise(region, npages * PAGE, MADV_NOHUGEPAGE);
	madvise(bregion, nb * reps * PAGE, MADV_NOHUGEPAGE);

	po.pid = getpid();
	po.mask = (1U << CL_P_SWAPALLOC) | (1U << CL_P_SWAPOUT);
	pr = cl_probes_open(&po, err, sizeof(err));
	if (pr && cl_probes_status(pr, CL_P_SWAPALLOC)->method)
		alloc_fn = cl_probes_status(pr, CL_P_SWAPALLOC)->target;
	else if (pr)
		snprintf(err, sizeof(err), "swapalloc: %s", cl_probes_status(pr, CL_P_SWAPALLOC)->reason);
	if (!pr || !strcmp(alloc_fn, "none"))
		fprintf(stderr, "swapfrag: no allocation probe (%s): throughput only\n", err);

	root = json_pack("{s:s, s:i, s:o}", "workload", "swapfrag", "schema", 1, "environment",
			 cl_environment_json());
	json_object_set_new(root, "params", json_pack("{s:I, s:I, s:I, s:I, s:s, s:s}",
			    "device_bytes", (json_int_t)size, "batch_bytes", (json_int_t)batch,
			    "reps", (json_int_t)reps, "limit_bytes", (json_int_t)limit,
			    "alloc_function", alloc_fn, "device", "zram"));
	if (pr)
		json_object_set_new(root, "probes", cl_probes_status_json(pr));
	arr = json_array();
	if (!quiet)
		printf("swap device %s, %ld kB; slot allocation measured at %s\n"
		       "%-7s %5s %7s %9s %10s %10s %10s %10s\n", zdev, size_kb, alloc_fn, "frag",
		       "fill", "used%", "pswpout", "ns/slot", "call p50", "call p99", "MiB/s");
	srand(1);
	for (gi = 0; gi < nfrag; gi++) {
		size_t filled = 0, fragged = 0, i;
		char fname[16];

		if (frags[gi] < 0)
			snprintf(fname, sizeof(fname), "random");
		else
			snprintf(fname, sizeof(fname), "%d", frags[gi]);
		madvise(region, npages * PAGE, MADV_DONTNEED);
		madvise(bregion, nb * reps * PAGE, MADV_DONTNEED);
		for (fi = 0; fi < nfill; fi++) {
			struct batch b[MAX_REPS];
			double ns[MAX_REPS], mibs[MAX_REPS], p99[MAX_REPS];
			long target = size_kb * fills[fi] / 100;
			json_t *samples = json_array();
			int pass;

			madvise(bregion, nb * reps * PAGE, MADV_DONTNEED);
			for (pass = 0; pass < 2; pass++) {
				/* fill to the level; a second time after fragmenting */
				while (!dev_use(&size_kb, &used_kb) && used_kb < target &&
				       filled + 256 <= npages)
					for (i = 0; i < 256; i++, filled++)
						write_page(region + filled * PAGE, filled);
				if (pass || !frags[gi])
					break;
				for (i = fragged; i < filled; i++)
					if (frags[gi] < 0 ? rand() & 1 : (i - fragged) % frags[gi] == 0)
						madvise(region + i * PAGE, PAGE, MADV_DONTNEED);
				fragged = filled;
			}
			if (used_kb < target) {
				cl_err("frag %s: the device reached %ld of %ld kB only", fname, used_kb,
				       target);
				break;
			}
			for (r = 0; r < (int)reps; r++) {
				char *bp = bregion + (size_t)r * nb * PAGE;
				long out0 = cl_vmstat("pswpout"), u0;
				/* every page reclaim freed, by any reclaimer, cgroup's too */
				long st0 = cl_vmstat("pgsteal_anon") + cl_vmstat("pgsteal_file");
				struct cl_hist *h = &s1.h[CL_H_SWAP_ALLOC];
				uint64_t t0;

				dev_use(&size_kb, &u0);
				if (pr)
					cl_probes_read(pr, &s0);
				t0 = cl_now_ns();
				for (i = 0; i < nb; i++)
					write_page(bp + i * PAGE, i + 7);
				b[r].ms = (double)(cl_now_ns() - t0) / 1e6;
				if (pr) {
					cl_probes_read(pr, &s1);
					cl_histo_sub(h, &s0.h[CL_H_SWAP_ALLOC]);
				}
				b[r].pswpout = (double)(cl_vmstat("pswpout") - out0);
				b[r].reclaimed = (double)(cl_vmstat("pgsteal_anon") +
							  cl_vmstat("pgsteal_file") - st0);
				dev_use(&size_kb, &used_kb);
				b[r].used_before = 100.0 * u0 / size_kb;
				b[r].used_after = 100.0 * used_kb / size_kb;
				b[r].calls = pr ? (double)h->count : -1;
				b[r].ns_per_slot = pr && b[r].pswpout > 0 ? h->sum / b[r].pswpout : -1;
				b[r].p50 = pr ? cl_histo_quantile(h, 0.5) : -1;
				b[r].p99 = pr ? cl_histo_quantile(h, 0.99) : -1;
				b[r].mib_s = b[r].ms > 0 ? b[r].pswpout * PAGE / (1 << 20) /
					     (b[r].ms / 1e3) : 0;
				ns[r] = b[r].ns_per_slot;
				mibs[r] = b[r].mib_s;
				p99[r] = b[r].p99;
				json_array_append_new(samples, json_pack(
					"{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "batch_ms",
					b[r].ms, "pswpout", b[r].pswpout, "reclaimed_pages", b[r].reclaimed,
					"alloc_calls", b[r].calls,
					"alloc_ns_per_slot", b[r].ns_per_slot, "alloc_call_p50_ns", b[r].p50,
					"alloc_call_p99_ns", b[r].p99, "swapout_mib_s", b[r].mib_s,
					"used_pct_before", b[r].used_before, "used_pct_after",
					b[r].used_after));
				if (!quiet)
					printf("%-7s %4d%% %6.1f%% %9.0f %10.0f %10.0f %10.0f %10.1f\n",
					       fname, fills[fi], b[r].used_before, b[r].pswpout,
					       b[r].ns_per_slot, b[r].p50, b[r].p99, b[r].mib_s);
				fflush(stdout);
			}
			json_array_append_new(arr, json_pack("{s:s, s:i, s:o, s:{s:o, s:o, s:o}}",
					      "frag", fname, "fill_pct", fills[fi], "samples", samples,
					      "summary", "alloc_ns_per_slot", cl_summary_json(ns, reps),
					      "alloc_call_p99_ns", cl_summary_json(p99, reps),
					      "swapout_mib_s", cl_summary_json(mibs, reps)));
		}
	}
	munmap(region, npages * PAGE);
	munmap(bregion, nb * reps * PAGE);
	cl_probes_close(pr);
	json_object_set_new(root, "configs", arr);
	zram_remove();
	nb = json_array_size(arr);
	if (json && cl_json_write(root, json))
		return 1;
	json_decref(root);
	return nb ? 0 : 1;
}
