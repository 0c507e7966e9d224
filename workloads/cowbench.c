// SPDX-License-Identifier: GPL-2.0
/*
 * cowbench: the cost of copy-on-write after fork, and what cow-ahead changes.
 *
 * One trial: map a region, touch every page, fork. The other process keeps
 * the pages shared; the writer dirties one word per page (sequentially, a
 * random half in random order, or every STRIDE-th page) and that write phase
 * is timed. Modes: "off" (plain COW, one trap per page), "N" (cow-ahead fixed
 * window N), "adaptiveN" (cow-ahead adaptive up to N), "populate"
 * (MADV_POPULATE_WRITE breaks COW on the whole region first, inside the timed
 * phase: the upper bound of any batching).
 *
 * Counted per trial: traps (hardware page-fault exceptions of the writer, by
 * BPF on exceptions:page_fault_user), getrusage minor faults (which also
 * count faults handled on a trap's behalf), pages made writable ahead by the
 * module. Repetitions are interleaved across configurations, and within each
 * repetition the configurations run in a fresh random (seeded) order, so
 * neither drift nor what the previous trial left behind (freed memory, a
 * cold cache) favours one mode; every raw sample goes to the JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "dev.h"
#include "jsonout.h"
#include "stats.h"
#include "traps.h"
#include "util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PAGE 4096UL
#define MAX_CONF 64
#define MAX_REPS 1000

enum pattern { SEQ, RANDOM, STRIDE, NPATTERNS };
static const char *const pattern_names[] = { "seq", "random", "stride" };

struct mode {
	char name[24];
	uint32_t window;	/* 0 = off */
	bool adaptive, populate;
};

struct sample {
	double write_ms;
	uint64_t traps_wp, traps_all, minflt, pages_broken, batches, pages_written;
};

struct conf {
	enum pattern pat;
	struct mode mode;
	const char *skip;	/* why this configuration cannot run here, or NULL */
	int n;
	struct sample s[MAX_REPS];
};

static struct {
	uint64_t size;
	unsigned int stride, reps, warmup;
	bool child_writes, alone, thp, quiet;
	const char *json;
} opt = { .size = 256ULL << 20, .stride = 4, .reps = 5, .warmup = 1 };

static int dev = -1;
static struct cl_traps *traps;
static char traps_why[256];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowbench [options]\n\n"
		"Time the writes that follow fork() (copy-on-write) with cow-ahead off, fixed,\n"
		"adaptive, and with MADV_POPULATE_WRITE as the bound; count traps and pages.\n\n"
		"  -s, --size SIZE       region size (default 256M)\n"
		"  -p, --patterns LIST   of seq,random,stride (default: all)\n"
		"      --stride N        pages between writes for stride (default 4)\n"
		"  -m, --modes LIST      of off,N,adaptiveN,populate (default off,4,16,64,adaptive64,populate)\n"
		"  -r, --reps N          measured repetitions per configuration (default 5)\n"
		"  -w, --warmup N        discarded warm-up repetitions (default 1)\n"
		"      --writer W        parent (default), child, or alone: the parent writes after\n"
		"                        the child has exited, so every write fault finds its page no\n"
		"                        longer shared and reuses it (the reused COW fault: no copy)\n"
		"      --thp             let the region use transparent huge pages (default: 4K pages)\n"
		"      --no-aslr         run without address randomisation: the writer's own stack and\n"
		"                        heap pages then fall the same way each run (exact trap counts)\n"
		"  -j, --json FILE       write results as JSON (- for stdout)\n"
		"  -q, --quiet           no table\n"
		"  -h, --help\n");
}

static int parse_mode(const char *s, struct mode *m)
{
	uint64_t w;

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", s);
	if (!strcmp(s, "off"))
		return 0;
	if (!strcmp(s, "populate")) {
		m->populate = true;
		return 0;
	}
	if (!strncmp(s, "adaptive", 8)) {
		m->adaptive = true;
		s += 8;
	}
	if (cl_parse_u64(s, 1, COWLAB_CA_MAX_WINDOW, &w))
		return -1;
	m->window = (uint32_t)w;
	return 0;
}

/* The writer's order of pages for one trial. */
static size_t make_order(enum pattern pat, size_t pages, size_t *idx, unsigned int seed)
{
	size_t i, n = 0;

	switch (pat) {
	case SEQ:
		for (i = 0; i < pages; i++)
			idx[n++] = i;
		break;
	case STRIDE:
		for (i = 0; i < pages; i += opt.stride)
			idx[n++] = i;
		break;
	default: {	/* a random half, in random order: Fisher-Yates, then keep half */
		for (i = 0; i < pages; i++)
			idx[i] = i;
		srand(seed);
		for (i = pages - 1; i > 0; i--) {
			size_t j = (size_t)rand() % (i + 1), t = idx[i];

			idx[i] = idx[j];
			idx[j] = t;
		}
		n = pages / 2;
	}
	}
	return n;
}

struct shared_result {
	struct sample s;
	int err;
};

/* The writer's side of a trial. */
static int write_phase(char *r, size_t pages, const size_t *idx, size_t n, const struct mode *m,
		       struct sample *out)
{
	struct cowlab_cowahead_policy pol = { .pid = 0 };
	struct cowlab_cowahead_stats st = { .pid = 0 };
	uint64_t tr[COWLAB_FAULT_KINDS] = {}, t0, t1;
	struct rusage ru0, ru1;
	size_t k;

	if (m->window) {
		pol.window = m->window;
		pol.flags = COWLAB_CA_RANGE | (m->adaptive ? COWLAB_CA_ADAPTIVE : 0);
		pol.start = (uintptr_t)r;
		pol.end = (uintptr_t)r + pages * PAGE;
		if (cl_ca_set(dev, &pol))
			return -1;
	}
	if (traps)
		cl_traps_follow(traps, getpid());
	cl_settle();
	getrusage(RUSAGE_SELF, &ru0);
	t0 = cl_now_ns();
	if (m->populate && madvise(r, pages * PAGE, MADV_POPULATE_WRITE))
		return -1;
	for (k = 0; k < n; k++)
		((volatile char *)r)[idx[k] * PAGE + 8] = (char)k;
	cl_inject(t0);
	t1 = cl_now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	if (traps)
		cl_traps_read(traps, tr);
	memset(out, 0, sizeof(*out));
	out->write_ms = (double)(t1 - t0) / 1e6;
	out->traps_wp = tr[COWLAB_FAULT_WP];
	out->traps_all = tr[COWLAB_FAULT_WP] + tr[COWLAB_FAULT_WRITE_NP] + tr[COWLAB_FAULT_READ];
	out->minflt = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
	out->pages_written = n;
	if (m->window) {
		if (cl_ca_stats(dev, &st) == 0) {
			out->pages_broken = st.pages_broken;
			out->batches = st.batches;
		}
		pol.window = 0;
		pol.flags = 0;
		pol.start = pol.end = 0;
		cl_ca_set(dev, &pol);
	}
	return 0;
}

static int trial(struct conf *c, size_t *idx, unsigned int seed, struct sample *out,
		 struct shared_result *sh)
{
	size_t pages = opt.size / PAGE, i, n;
	int go[2], status, ret = 0;
	char *r;
	pid_t pid;

	r = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return -1;
	madvise(r, pages * PAGE, opt.thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	for (i = 0; i < pages; i++)
		r[i * PAGE] = 1;
	n = make_order(c->pat, pages, idx, seed);
	if (pipe(go)) {
		munmap(r, pages * PAGE);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		ret = -1;
		goto out;
	}
	if (pid == 0) {
		char b;

		close(go[1]);
		if (opt.alone)
			_exit(0);
		if (opt.child_writes) {
			sh->err = write_phase(r, pages, idx, n, &c->mode, &sh->s);
			_exit(0);
		}
		/* Keep the pages shared until the parent has written. */
		if (read(go[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	if (opt.child_writes) {
		waitpid(pid, &status, 0);
		*out = sh->s;
		ret = sh->err;
	} else if (opt.alone) {
		/* the pages' only other mapper is gone: the writes reuse them */
		waitpid(pid, &status, 0);
		ret = write_phase(r, pages, idx, n, &c->mode, out);
	} else {
		ret = write_phase(r, pages, idx, n, &c->mode, out);
		close(go[1]);
		go[1] = -1;
		waitpid(pid, &status, 0);
	}
out:
	if (go[1] >= 0)
		close(go[1]);
	munmap(r, pages * PAGE);
	return ret;
}

/* Median over the samples of the field at @off: a double, or a uint64_t count. */
static double median(const struct conf *c, size_t off, bool is_double)
{
	double v[MAX_REPS];
	struct cl_summary s;
	int i;

	for (i = 0; i < c->n; i++) {
		const char *f = (const char *)&c->s[i] + off;

		v[i] = is_double ? *(const double *)f : (double)*(const uint64_t *)f;
	}
	if (cl_summarize(v, (size_t)c->n, &s))
		return 0;
	return s.median;
}

#define MED_MS(c) median(c, offsetof(struct sample, write_ms), true)
#define MED(c, f) median(c, offsetof(struct sample, f), false)

static const struct conf *find_off(const struct conf *confs, int nconf, enum pattern pat)
{
	int i;

	for (i = 0; i < nconf; i++)
		if (confs[i].pat == pat && !confs[i].mode.window && !confs[i].mode.populate &&
		    !confs[i].skip && confs[i].n)
			return &confs[i];
	return NULL;
}

static const struct conf *find_populate(const struct conf *confs, int nconf, enum pattern pat)
{
	int i;

	for (i = 0; i < nconf; i++)
		if (confs[i].pat == pat && confs[i].mode.populate && confs[i].n)
			return &confs[i];
	return NULL;
}

static json_t *conf_json(const struct conf *c, const struct conf *confs, int nconf)
{
	static const struct { const char *name; size_t off; } u64f[] = {
		{ "traps_wp", offsetof(struct sample, traps_wp) },
		{ "traps_all", offsetof(struct sample, traps_all) },
		{ "minflt", offsetof(struct sample, minflt) },
		{ "pages_broken_ahead", offsetof(struct sample, pages_broken) },
		{ "batches", offsetof(struct sample, batches) },
		{ "pages_written", offsetof(struct sample, pages_written) },
	};
	const struct conf *off = find_off(confs, nconf, c->pat);
	const struct conf *pop = find_populate(confs, nconf, c->pat);
	json_t *o, *samples, *sum;
	double v[MAX_REPS];
	size_t f;
	int i;

	o = json_pack("{s:s, s:s, s:i, s:b, s:b}", "pattern", pattern_names[c->pat],
		      "mode", c->mode.name, "window", c->mode.window, "adaptive", c->mode.adaptive,
		      "populate", c->mode.populate);
	if (c->skip) {
		json_object_set_new(o, "skipped", json_string(c->skip));
		return o;
	}
	samples = json_array();
	for (i = 0; i < c->n; i++) {
		json_t *s = json_pack("{s:f}", "write_ms", c->s[i].write_ms);

		for (f = 0; f < ARRAY_SIZE(u64f); f++)
			json_object_set_new(s, u64f[f].name, json_integer((json_int_t)
				*(const uint64_t *)((const char *)&c->s[i] + u64f[f].off)));
		json_array_append_new(samples, s);
	}
	json_object_set_new(o, "samples", samples);
	sum = json_object();
	for (i = 0; i < c->n; i++)
		v[i] = c->s[i].write_ms;
	json_object_set_new(sum, "write_ms", cl_summary_json(v, (size_t)c->n));
	for (f = 0; f < ARRAY_SIZE(u64f); f++) {
		for (i = 0; i < c->n; i++)
			v[i] = (double)*(const uint64_t *)((const char *)&c->s[i] + u64f[f].off);
		json_object_set_new(sum, u64f[f].name, cl_summary_json(v, (size_t)c->n));
	}
	json_object_set_new(o, "summary", sum);
	if (off && MED_MS(off) > 0) {
		double r = MED_MS(c) / MED_MS(off);

		json_object_set_new(o, "time_ratio_to_off", json_real(r));
		if (MED(off, traps_wp) > 0)
			json_object_set_new(o, "trap_ratio_to_off",
					    json_real(MED(c, traps_wp) / MED(off, traps_wp)));
		if (pop && MED_MS(off) > MED_MS(pop))
			json_object_set_new(o, "share_of_populate_gain",
				json_real((MED_MS(off) - MED_MS(c)) / (MED_MS(off) - MED_MS(pop))));
	}
	return o;
}

static void print_table(const struct conf *confs, int nconf)
{
	int i;

	printf("\n%-7s %-11s %10s %8s %9s %9s %10s %10s %8s\n", "pattern", "mode", "write ms",
	       "vs off", "traps", "minflt", "ahead", "copied*", "of bound");
	for (i = 0; i < nconf; i++) {
		const struct conf *c = &confs[i];
		const struct conf *off = find_off(confs, nconf, c->pat);
		const struct conf *pop = find_populate(confs, nconf, c->pat);
		double made;

		if (c->skip) {
			printf("%-7s %-11s skipped: %s\n", pattern_names[c->pat], c->mode.name, c->skip);
			continue;
		}
		made = c->mode.populate ? (double)(opt.size / PAGE) : MED(c, traps_wp) + MED(c, pages_broken);
		printf("%-7s %-11s %10.1f %8.3f %9.0f %9.0f %10.0f %10.0f ", pattern_names[c->pat],
		       c->mode.name, MED_MS(c), off ? MED_MS(c) / MED_MS(off) : 0, MED(c, traps_wp),
		       MED(c, minflt), MED(c, pages_broken), made);
		if (off && pop && MED_MS(off) > MED_MS(pop))
			printf("%7.0f%%\n", 100 * (MED_MS(off) - MED_MS(c)) / (MED_MS(off) - MED_MS(pop)));
		else
			printf("%8s\n", "-");
	}
	printf("(medians; traps = write-protect traps counted by BPF%s; copied* = pages made writable;\n"
	       " of bound = share of the MADV_POPULATE_WRITE time gain)\n",
	       traps ? "" : ", UNAVAILABLE here");
}

int main(int argc, char **argv)
{
	enum { OPT_STRIDE = 256, OPT_WRITER, OPT_THP, OPT_NO_ASLR };
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "patterns", required_argument, NULL, 'p' },
		{ "stride", required_argument, NULL, OPT_STRIDE },
		{ "modes", required_argument, NULL, 'm' },
		{ "reps", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "writer", required_argument, NULL, OPT_WRITER },
		{ "thp", no_argument, NULL, OPT_THP },
		{ "no-aslr", no_argument, NULL, OPT_NO_ASLR },
		{ "json", required_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct conf confs[MAX_CONF];
	char patterns[128] = "seq,random,stride", modes[256] = "off,4,16,64,adaptive64,populate";
	struct shared_result *sh;
	struct mode mlist[16];
	int nmodes = 0, npat = 0, nconf = 0, c, i, rep;
	int plist[NPATTERNS];
	char *tok, *save;
	size_t *idx;
	uint64_t v;
	json_t *root, *arr;
	bool no_aslr = false;

	cl_set_prog("cowbench");
	cl_timing_sched();
	while ((c = getopt_long(argc, argv, "s:p:m:r:w:j:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cl_parse_size(optarg, &opt.size) || opt.size < 16 * PAGE) {
				cl_err("bad --size '%s' (at least 64K)", optarg);
				return 2;
			}
			break;
		case 'p': snprintf(patterns, sizeof(patterns), "%s", optarg); break;
		case 'm': snprintf(modes, sizeof(modes), "%s", optarg); break;
		case OPT_STRIDE:
			if (cl_parse_u64(optarg, 2, 4096, &v)) {
				cl_err("bad --stride '%s' (2..4096)", optarg);
				return 2;
			}
			opt.stride = (unsigned int)v;
			break;
		case 'r':
			if (cl_parse_u64(optarg, 1, MAX_REPS, &v)) {
				cl_err("bad --reps '%s' (1..%d)", optarg, MAX_REPS);
				return 2;
			}
			opt.reps = (unsigned int)v;
			break;
		case 'w':
			if (cl_parse_u64(optarg, 0, 100, &v)) {
				cl_err("bad --warmup '%s' (0..100)", optarg);
				return 2;
			}
			opt.warmup = (unsigned int)v;
			break;
		case OPT_WRITER:
			if (strcmp(optarg, "parent") && strcmp(optarg, "child") &&
			    strcmp(optarg, "alone")) {
				cl_err("bad --writer '%s' (parent, child or alone)", optarg);
				return 2;
			}
			opt.child_writes = !strcmp(optarg, "child");
			opt.alone = !strcmp(optarg, "alone");
			break;
		case OPT_THP: opt.thp = true; break;
		case OPT_NO_ASLR: no_aslr = true; break;
		case 'j': opt.json = optarg; break;
		case 'q': opt.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		cl_err("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (no_aslr && cl_reexec_no_aslr(argv)) {
		cl_err("cannot re-exec without ASLR: %s", strerror(errno));
		return 1;
	}
	opt.size &= ~(PAGE - 1);
	npat = cl_parse_choices(patterns, pattern_names, NPATTERNS, plist, NPATTERNS,
				"pattern");
	if (npat <= 0)
		return 2;
	for (tok = strtok_r(modes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nmodes == (int)ARRAY_SIZE(mlist) || parse_mode(tok, &mlist[nmodes])) {
			cl_err("bad mode '%s' (off, N, adaptiveN with N 1..%d, populate)", tok,
			       COWLAB_CA_MAX_WINDOW);
			return 2;
		}
		nmodes++;
	}

	dev = cl_dev_open(true);
	traps = cl_traps_open(traps_why, sizeof(traps_why));
	if (!traps)
		cl_err("traps will not be counted: %s", traps_why);
	for (i = 0; i < npat * nmodes && nconf < MAX_CONF; i++) {
		struct conf *cf = &confs[nconf++];

		cf->pat = plist[i / nmodes];
		cf->mode = mlist[i % nmodes];
		if (cf->mode.window && dev < 0)
			cf->skip = "the cowlab module is not loaded";
	}
	idx = malloc((opt.size / PAGE) * sizeof(*idx));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!idx || sh == MAP_FAILED) {
		cl_err("out of memory");
		return 1;
	}
	for (rep = 0; rep < (int)(opt.warmup + opt.reps); rep++) {
		int perm[MAX_CONF], k;

		/* A new order each repetition (Fisher-Yates, seeded: runs are repeatable). */
		srand(4242 + rep);
		for (k = 0; k < nconf; k++)
			perm[k] = k;
		for (k = nconf - 1; k > 0; k--) {
			int j = rand() % (k + 1), t = perm[k];

			perm[k] = perm[j];
			perm[j] = t;
		}
		for (k = 0; k < nconf; k++) {
			struct sample s;

			i = perm[k];
			if (confs[i].skip)
				continue;
			if (trial(&confs[i], idx, 1000 + rep, &s, sh)) {
				cl_err("%s/%s: trial failed: %s", pattern_names[confs[i].pat],
				       confs[i].mode.name, strerror(errno));
				confs[i].skip = "trial failed";
				continue;
			}
			if (rep >= (int)opt.warmup)
				confs[i].s[confs[i].n++] = s;
		}
		if (!opt.quiet && isatty(STDERR_FILENO))
			fprintf(stderr, "\rcowbench: repetition %d/%u", rep + 1, opt.warmup + opt.reps);
	}
	if (!opt.quiet && isatty(STDERR_FILENO))
		fputc('\n', stderr);
	if (!opt.quiet)
		print_table(confs, nconf);

	if (opt.json) {
		root = json_pack("{s:s, s:i, s:o}", "workload", "cowbench", "schema", 1,
				 "environment", cl_environment_json());
		json_object_set_new(root, "params", json_pack("{s:I, s:i, s:i, s:i, s:s, s:b, s:s, s:b}",
			"size_bytes", (json_int_t)opt.size, "stride", opt.stride, "reps", opt.reps,
			"warmup", opt.warmup, "writer",
			opt.child_writes ? "child" : opt.alone ? "alone" : "parent",
			"thp", opt.thp, "order", "shuffled per repetition, srand(4242 + rep)",
			"aslr", !(personality(0xffffffff) & ADDR_NO_RANDOMIZE)));
		json_object_set_new(root, "traps_counted", traps ? json_true() : json_string(traps_why));
		arr = json_array();
		for (i = 0; i < nconf; i++)
			json_array_append_new(arr, conf_json(&confs[i], confs, nconf));
		json_object_set_new(root, "configs", arr);
		if (cl_json_write(root, opt.json))
			return 1;
		json_decref(root);
	}
	cl_traps_close(traps);
	return 0;
}
