// SPDX-License-Identifier: GPL-2.0
/*
 * specswap: the swapping application of Fraser & Chang (USENIX ATC 2003),
 * whose speculative child prefetches what the parent will need next, and
 * which motivated refork.
 *
 * P (in a memory cgroup smaller than its data, swapping to a block device with
 * a disk-like completion delay: null_blk, memory-backed, timer completions)
 * walks a tree of 4 KiB records breadth-first: each record it reads names
 * four children (a data-dependent hash of its contents), appended to a queue
 * in P's memory; each visit costs --work of computation. Every repetition
 * starts with all records swapped out.
 *
 * Before each visit P asks mincore() whether the record is in memory (or on
 * its way: the swap cache). On a miss P starts the read (MADV_WILLNEED) and,
 * by mode:
 *   none    waits for it;
 *   naive   kills the speculative child, forks a new one, then waits;
 *   refork  re-synchronises the speculative child with COWLAB_IOC_REFORK,
 *           budget --budget (the time the read would take), then waits.
 * The child, fresh or re-synchronised, holds P's queue as of that moment and
 * starts reads (MADV_WILLNEED) for the next --lookahead records, then parks
 * (refork) or exits (naive). Recorded: P's runtime, time stalled in record
 * reads, major faults, misses, syncs (complete, partial, child busy) and their
 * cost, forks and theirs.
 *
 * A swap-in cannot signal a word in user memory while P holds its own mmap
 * lock for the sync, so this workload stops syncs by budget; the stop word is
 * measured by reforkbench and tested by test_refork.
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
#include <sys/resource.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "jsonout.h"
#include "refork.h"
#include "stats.h"
#include "sysutil.h"
#include "traps.h"
#include "util.h"

#define PAGE		4096UL
#define MAX_REPS	100
#define FANOUT		4

enum mode { NONE, NAIVE, REFORK, NMODES };
static const char *const mode_names[] = { "none", "naive", "refork" };

/* P's walk: all in P's private memory, so a sync carries it to the child. */
static struct {
	uint64_t head, tail, visited;
	uint64_t sum;
} st;
static uint32_t *queue;
static size_t qmax;
static uint8_t *data;
static size_t nrec;
static unsigned int lookahead = 16;

/* --runs-only: the flags of every refork */
static uint32_t rf_flags;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: specswap [options]\n\n"
		"A swapping tree walk with a speculative prefetching child: no speculation,\n"
		"naive re-fork at every miss, or cowlab refork (Fraser & Chang, ATC'03).\n\n"
		"  -d, --data SIZE        records (default 64M)\n"
		"  -l, --limit SIZE       memory cgroup limit (default 16M)\n"
		"  -n, --visits N         records P visits per run (default 400)\n"
		"  -W, --work US          computation per visit, microseconds (default 300)\n"
		"  -k, --lookahead N      records the child prefetches (default 16)\n"
		"  -b, --budget US        refork time budget per miss (default: --delay)\n"
		"  -m, --modes LIST       none,naive,refork (default all three)\n"
		"  -r, --reps N           repetitions per mode, interleaved (default 3)\n"
		"      --setup-nullb US   make /dev/nullb0 (512 MiB, memory-backed, US microseconds\n"
		"                         per completion) the highest-priority swap; sets vm.page-cluster\n"
		"                         to 0 and turns off VMA swap readahead while running\n"
		"      --runs-only        refork re-copies every difference as a run, the module's\n"
		"                         in-place re-sync off (COWLAB_RF_RUNS_ONLY): for comparison\n"
		"  -j, --json FILE        write results as JSON (- for stdout)\n"
		"  -q, --quiet            no table on stdout\n\n"
		"Needs root, cgroup v2 and swap; refork needs /dev/cowlab (the guest of `cowlab vm`).\n");
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static void fill(void)
{
	size_t i, j;

	for (i = 0; i < nrec; i++)
		for (j = 0; j < PAGE / 8; j += 64)
			((uint64_t *)(data + i * PAGE))[j] = mix(i * 131 + j);
}

static void spin_us(unsigned int us)
{
	uint64_t end = cl_now_ns() + (uint64_t)us * 1000;

	while (cl_now_ns() < end)
		;
}

/* The child's round: start reads for the next records in P's queue. */
static void speculate(void *arg, uint64_t gen)
{
	uint64_t i;

	(void)arg;
	(void)gen;
	for (i = st.head; i < st.tail && i < st.head + lookahead; i++)
		madvise(data + (size_t)queue[i % qmax] * PAGE, PAGE, MADV_WILLNEED);
}

struct run {
	double runtime_ms, stall_ms, sync_ms, fork_ms;
	long majflt, misses, syncs, complete, partial, busy, forks;
	long p_wp_traps;	/* P's write-protect traps (COW): -1 without BPF */
};

static bool resident(size_t rec)
{
	unsigned char v = 0;

	return mincore(data + rec * PAGE, PAGE, &v) == 0 && (v & 1);
}

static int run_once(enum mode m, int fd, unsigned int work, uint64_t budget_us, uint64_t visits,
		    struct run *out)
{
	struct cl_spec spec = { .pid = 0 };
	struct rusage r0, r1;
	uint64_t t0, t;
	pid_t naive = 0;

	memset(out, 0, sizeof(*out));
	/* Everything out to swap first (P alone maps the records now). */
	madvise(data, nrec * PAGE, MADV_PAGEOUT);
	memset(&st, 0, sizeof(st));
	queue[st.tail++] = 0;
	if (m == REFORK && cl_spec_start(&spec, fd, speculate, NULL))
		return -1;
	getrusage(RUSAGE_SELF, &r0);
	t0 = cl_now_ns();
	while (st.visited < visits && st.head < st.tail) {
		size_t rec = queue[st.head % qmax], j;
		uint64_t v;

		if (!resident(rec)) {
			out->misses++;
			madvise(data + rec * PAGE, PAGE, MADV_WILLNEED);
			if (m == REFORK) {
				struct cowlab_refork r = { .budget_ns = budget_us * 1000,
							   .flags = rf_flags };
				int ret;

				t = cl_now_ns();
				ret = cowlab_refork(&spec, &r, 0, NULL);
				out->sync_ms += (double)(cl_now_ns() - t) / 1e6;
				if (ret == -EBUSY) {
					out->busy++;
				} else if (ret == 0) {
					out->syncs++;
					out->complete += r.status == COWLAB_RF_COMPLETE;
					out->partial += r.status == COWLAB_RF_PARTIAL;
				}
			} else if (m == NAIVE) {
				t = cl_now_ns();
				if (naive > 0) {
					kill(naive, SIGKILL);
					waitpid(naive, NULL, 0);
				}
				naive = fork();
				if (naive == 0) {
					speculate(NULL, 0);
					_exit(0);
				}
				out->fork_ms += (double)(cl_now_ns() - t) / 1e6;
				out->forks++;
			}
		}
		t = cl_now_ns();
		v = ((volatile uint64_t *)(data + rec * PAGE))[(st.visited % 8) * 64];
		out->stall_ms += (double)(cl_now_ns() - t) / 1e6;
		spin_us(work);
		st.sum += v;
		for (j = 0; j < FANOUT && st.tail - st.head < qmax; j++)
			queue[st.tail++ % qmax] = (uint32_t)(mix(v ^ (rec * FANOUT + j)) % nrec);
		st.head++;
		st.visited++;
	}
	out->runtime_ms = (double)(cl_now_ns() - t0) / 1e6;
	getrusage(RUSAGE_SELF, &r1);
	out->majflt = r1.ru_majflt - r0.ru_majflt;
	if (naive > 0) {
		kill(naive, SIGKILL);
		waitpid(naive, NULL, 0);
	}
	cl_spec_stop(&spec);
	return 0;
}

static int setup_nullb(unsigned int delay_us, char *saved_pc, char *saved_ra)
{
	char cmd[512];

	if (access("/dev/nullb0", F_OK)) {
		snprintf(cmd, sizeof(cmd), "guest-modprobe null_blk nr_devices=1 gb=1 bs=4096 "
			 "memory_backed=1 irqmode=2 completion_nsec=%u queue_mode=2 hw_queue_depth=64 "
			 "2>/dev/null || modprobe null_blk nr_devices=1 gb=1 bs=4096 memory_backed=1 "
			 "irqmode=2 completion_nsec=%u queue_mode=2 hw_queue_depth=64",
			 delay_us * 1000, delay_us * 1000);
		if (system(cmd))
			return -1;
	}
	/* The highest priority, so that it, not a zram set up earlier, takes the pages. */
	if (system("grep -q '^/dev/nullb0 ' /proc/swaps") &&
	    (system("mkswap /dev/nullb0 >/dev/null") ||
	     swapon("/dev/nullb0", SWAP_FLAG_PREFER | (32767 & SWAP_FLAG_PRIO_MASK))))
		return -1;
	cl_read_file("/proc/sys/vm/page-cluster", saved_pc, 16);
	cl_read_file("/sys/kernel/mm/swap/vma_ra_enabled", saved_ra, 16);
	cl_write_file("/proc/sys/vm/page-cluster", "0\n");
	cl_write_file("/sys/kernel/mm/swap/vma_ra_enabled", "false\n");
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_NULLB = 256, OPT_RUNS };
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' }, { "limit", required_argument, NULL, 'l' },
		{ "visits", required_argument, NULL, 'n' }, { "work", required_argument, NULL, 'W' },
		{ "lookahead", required_argument, NULL, 'k' }, { "budget", required_argument, NULL, 'b' },
		{ "modes", required_argument, NULL, 'm' }, { "reps", required_argument, NULL, 'r' },
		{ "setup-nullb", required_argument, NULL, OPT_NULLB },
		{ "runs-only", no_argument, NULL, OPT_RUNS },
		{ "json", required_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	uint64_t size = 64 << 20, limit = 16 << 20, visits = 400, work = 300, budget = 0, reps = 3;
	uint64_t delay = 0, v;
	int modes[NMODES] = { NONE, NAIVE, REFORK }, nm = NMODES, c, i, rep, fd = -1;
	char saved_pc[16] = "", saved_ra[16] = "", *list;
	const char *json = NULL, *skipped = NULL;
	bool quiet = false;
	struct run *res[NMODES];
	json_t *root, *arr;
	struct cl_traps *traps;
	char why[512];

	cl_set_prog("specswap");
	while ((c = getopt_long(argc, argv, "d:l:n:W:k:b:m:r:j:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
		case 'l':
			if (cl_parse_size(optarg, c == 'd' ? &size : &limit) ||
			    (c == 'd' ? size : limit) < 16 * PAGE) {
				cl_err("bad --%s '%s'", c == 'd' ? "data" : "limit", optarg);
				return 2;
			}
			break;
		case 'n':
		case 'W':
		case 'k':
		case 'b':
		case 'r':
		case OPT_NULLB: {
			static const struct { int c; const char *name; uint64_t min, max; } lim[] = {
				{ 'n', "visits", 1, 10000000 }, { 'W', "work", 0, 1000000 },
				{ 'k', "lookahead", 1, 4096 }, { 'b', "budget", 1, 10000000 },
				{ 'r', "reps", 1, MAX_REPS }, { OPT_NULLB, "setup-nullb", 1, 1000000 },
			};
			uint64_t *dst[] = { &visits, &work, &v, &budget, &reps, &delay };

			for (i = 0; lim[i].c != c; i++)
				;
			if (cl_parse_u64(optarg, lim[i].min, lim[i].max, dst[i])) {
				cl_err("bad --%s '%s' (%llu..%llu)", lim[i].name, optarg,
				       (unsigned long long)lim[i].min, (unsigned long long)lim[i].max);
				return 2;
			}
			if (c == 'k')
				lookahead = (unsigned int)v;
			break;
		}
		case 'm':
			list = strdup(optarg);
			nm = cl_parse_choices(list, mode_names, NMODES, modes, NMODES, "mode");
			free(list);
			if (nm <= 0)
				return 2;
			break;
		case OPT_RUNS: rf_flags = COWLAB_RF_RUNS_ONLY; break;
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
	if (!budget)
		budget = delay ? delay : 2000;
	if (limit >= size)
		cl_err("warning: the data (%llu MiB) fits in the limit (%llu MiB): little swap",
		       (unsigned long long)(size >> 20), (unsigned long long)(limit >> 20));
	if (delay && setup_nullb((unsigned int)delay, saved_pc, saved_ra)) {
		cl_err("--setup-nullb failed (needs root and the null_blk driver)");
		return 1;
	}
	if (cl_swap_total_kb() == 0) {
		cl_err("no swap is on: enable some, or --setup-nullb US");
		return 1;
	}
	for (i = 0; i < nm; i++) {
		struct cowlab_version ver;

		if (modes[i] != REFORK)
			continue;
		fd = open(COWLAB_DEVICE, O_RDWR);
		if (fd < 0 || ioctl(fd, COWLAB_IOC_VERSION, &ver) || !(ver.features & COWLAB_FEAT_REFORK)) {
			skipped = fd < 0 ? "no /dev/cowlab (module not loaded)" :
				  "the loaded module offers no refork";
			cl_err("mode refork skipped: %s", skipped);
			memmove(&modes[i], &modes[i + 1], (nm - i - 1) * sizeof(modes[0]));
			nm--;
			break;
		}
	}
	if (cl_memcg_join("specswap", limit))
		return 1;

	nrec = size / PAGE;
	qmax = visits * FANOUT + 16;
	data = mmap(NULL, nrec * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	queue = mmap(NULL, qmax * sizeof(*queue), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (data == MAP_FAILED || queue == MAP_FAILED) {
		cl_err("cannot map the records: %s", strerror(errno));
		return 1;
	}
	madvise(data, nrec * PAGE, MADV_NOHUGEPAGE);
	memset(queue, 0, qmax * sizeof(*queue));	/* P's own pages before any child exists */
	fill();

	for (i = 0; i < nm; i++)
		res[i] = calloc(reps, sizeof(struct run));
	if (!quiet)
		printf("%-7s %4s %11s %10s %8s %7s %6s %8s %8s %6s %9s %8s\n", "mode", "rep",
		       "runtime_ms", "stall_ms", "majflt", "misses", "syncs", "complete", "partial",
		       "busy", "fork_ms", "P_cow");
	/*
	 * P's own write-protect traps per run (bpf/faults.bpf.c): beyond mode none's,
	 * they are the COW faults P takes because a speculative child shares its pages:
	 * what one-way COW (Fraser & Chang) would spare it (docs/one-way-cow.md).
	 */
	traps = cl_traps_open(why, sizeof(why));
	if (!traps)
		cl_err("no trap counts (%s): parent_wp_traps left out", why);
	for (rep = 0; rep < (int)reps; rep++) {
		for (i = 0; i < nm; i++) {
			struct run *r = &res[i][rep];
			uint64_t tr[COWLAB_FAULT_KINDS];

			if (traps)
				cl_traps_follow(traps, getpid());
			if (run_once(modes[i], fd, (unsigned int)work, budget, visits, r)) {
				cl_err("%s: cannot start the speculative child: %s", mode_names[modes[i]],
				       strerror(errno));
				return 1;
			}
			r->p_wp_traps = -1;
			if (traps) {
				cl_traps_read(traps, tr);
				r->p_wp_traps = (long)tr[COWLAB_FAULT_WP];
			}
			if (!quiet)
				printf("%-7s %4d %11.1f %10.1f %8ld %7ld %6ld %8ld %8ld %6ld %9.1f %8ld\n",
				       mode_names[modes[i]], rep, r->runtime_ms, r->stall_ms, r->majflt,
				       r->misses, r->syncs, r->complete, r->partial, r->busy, r->fork_ms,
				       r->p_wp_traps);
		}
	}
	if (saved_pc[0]) {
		char buf[24];

		snprintf(buf, sizeof(buf), "%s\n", saved_pc);
		cl_write_file("/proc/sys/vm/page-cluster", buf);
		snprintf(buf, sizeof(buf), "%s\n", saved_ra);
		cl_write_file("/sys/kernel/mm/swap/vma_ra_enabled", buf);
	}

	root = json_pack("{s:s, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}}", "workload",
			 "specswap", "schema", 1, "environment", cl_environment_json(), "params",
			 "data_bytes", (json_int_t)size, "limit_bytes", (json_int_t)limit,
			 "visits", (json_int_t)visits, "work_us", (json_int_t)work,
			 "lookahead", (json_int_t)lookahead, "budget_us", (json_int_t)budget,
			 "disk_delay_us", (json_int_t)delay, "reps", (json_int_t)reps,
			 "runs_only", rf_flags != 0);
	arr = json_array();
	for (i = 0; i < nm; i++) {
		double rt[MAX_REPS], sl[MAX_REPS], mf[MAX_REPS], sy[MAX_REPS], wp[MAX_REPS];
		json_t *smp = json_array();
		long syncs = 0, complete = 0;

		for (rep = 0; rep < (int)reps; rep++) {
			struct run *r = &res[i][rep];

			rt[rep] = r->runtime_ms;
			sl[rep] = r->stall_ms;
			mf[rep] = (double)r->majflt;
			sy[rep] = r->syncs ? r->sync_ms * 1e3 / (double)r->syncs :
				  r->forks ? r->fork_ms * 1e3 / (double)r->forks : 0;
			syncs += r->syncs;
			complete += r->complete;
			wp[rep] = (double)r->p_wp_traps;
			json_array_append_new(smp, json_pack(
				"{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:f}",
				"runtime_ms", r->runtime_ms, "stall_ms", r->stall_ms,
				"majflt", (json_int_t)r->majflt, "misses", (json_int_t)r->misses,
				"syncs", (json_int_t)r->syncs, "syncs_complete", (json_int_t)r->complete,
				"syncs_partial", (json_int_t)r->partial, "child_busy", (json_int_t)r->busy,
				"sync_ms", r->sync_ms, "forks", (json_int_t)r->forks,
				"fork_ms", r->fork_ms));
			json_object_set_new(json_array_get(smp, rep), "parent_wp_traps",
					    json_integer(r->p_wp_traps));
		}
		json_array_append_new(arr, json_pack(
			"{s:s, s:I, s:o, s:f, s:{s:o, s:o, s:o, s:o}}", "mode", mode_names[modes[i]],
			"size_bytes", (json_int_t)size, "samples", smp,
			"sync_complete_fraction", syncs ? (double)complete / (double)syncs : 0.0,
			"summary", "runtime_ms", cl_summary_json(rt, reps), "stall_ms",
			cl_summary_json(sl, reps), "majflt", cl_summary_json(mf, reps),
			"per_sync_or_fork_us", cl_summary_json(sy, reps)));
		if (traps)
			json_object_set_new(json_object_get(json_array_get(arr, i), "summary"),
					    "parent_wp_traps", cl_summary_json(wp, reps));
	}
	json_object_set_new(root, "configs", arr);
	if (skipped)
		json_object_set_new(root, "skipped", json_pack("{s:s}", "refork", skipped));
	if (json && cl_json_write(root, json))
		return 1;
	return 0;
}
