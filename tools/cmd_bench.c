// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab bench: run a suite of workloads and leave one results.json per kernel.
 *
 * --host runs the workloads here (each with -j, its output in logs/); the
 * default, --vm, boots every pinned stock kernel with `cowlab vm` and runs
 * `cowlab bench --host` inside, one vCPU (timings scatter when two emulated
 * vCPUs compete with QEMU's own threads on a 2-core host).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "jsonout.h"
#include "probelib.h"
#include "util.h"

#define RESULTS_SCHEMA 1
#define MAX_ARGS 24

struct workload {
	const char *name;	/* result name */
	const char *bin;	/* program in the bin directory */
	const char *args[MAX_ARGS];
	bool own_probes;	/* it attaches the probes itself: none around it */
};

static const struct workload quick[] = {
	{ "cowbench", "cowbench", { "--size", "32M", "--reps", "5", "--modes",
				    "off,16,adaptive64,populate" }, false },
	{ "forkbench", "forkbench", { "--sizes", "0,16M,64M,256M", "--reps", "5" }, false },
	{ "forkchain", "forkchain", { "--size", "16M", "--depths", "1,4,16", "--reps", "3" }, false },
	{ "swapbench", "swapbench", { "--setup-zram", "512M", "--limit", "32M", "--wss", "48M",
				      "--passes", "1" }, false },
	{ "redisbgsave", "redisbgsave", { "--keys", "20000", "--writes", "5000", "--reps", "2",
				  "--modes", "off,adaptive64" },
	  false },
	{ "traceoverhead", "traceoverhead", { "--reps", "3", "--fork-ops", "50", "--cow-ops", "2" },
	  true },
	{ "reforkbench", "reforkbench", { "--sizes", "64M", "--reps", "3", "--preempt", "10" },
	  false },
	{ "specswap", "specswap", { "--setup-nullb", "3000", "--visits", "150", "--reps", "2" },
	  false },
	/* its own probes: copy_page_range per fork */
	{ "lazyfork", "lazyfork", { "--sizes", "64M,256M", "--reps", "3" }, true },
	{ "swapfrag", "swapfrag", { "--size", "256M", "--fills", "10,50,90", "--frag", "0,2",
				    "--reps", "2" }, true },
};

/* Seconds, for CI on any host: every workload that needs neither the module nor swap. */
static const struct workload smoke[] = {
	{ "cowbench", "cowbench", { "--size", "4M", "--reps", "2", "--modes", "off,populate" },
	  false },
	{ "forkbench", "forkbench", { "--sizes", "0,4M", "--reps", "2", "--variants",
				      "fork,spawn" }, false },
	{ "forkchain", "forkchain", { "--size", "4M", "--depths", "1,4", "--reps", "2" }, false },
	{ "traceoverhead", "traceoverhead", { "--reps", "2", "--fork-ops", "10", "--cow-ops", "1",
					      "--size", "4M" }, true },
};

/*
 * The CI baseline (cowlab baseline check): exact counts that do not depend on
 * timing, and timing ratios within one run. Under a minute per kernel in TCG.
 */
static const struct workload baseline[] = {
	/* 9 repetitions: the write-time ratio's medians survive bursts of slow ones in TCG */
	{ "cowbench", "cowbench", { "--size", "4M", "--reps", "9", "--patterns", "seq,stride",
				    "--modes", "off,16,adaptive64", "--no-aslr" }, false },
	{ "forkbench", "forkbench", { "--sizes", "0,16M", "--reps", "3", "--variants", "fork",
				      "--no-aslr" }, false },
	{ "forkchain", "forkchain", { "--size", "4M", "--depths", "1,4", "--reps", "3",
				      "--no-aslr" }, false },
	/* 11: the median survives a burst of slow repetitions (seen: 3 of 5 at 3x in TCG) */
	{ "reforkbench", "reforkbench", { "--sizes", "16M", "--changed", "0,1,100", "--reps", "11",
					  "--preempt", "0", "--budget-us", "0" }, false },
};

/*
 * The timing lane (cowlab bench --icount --suite icount): the core timings, in an
 * instruction-counted guest, with repetitions enough for a median to hold at 0.5%.
 */
static const struct workload icount_suite[] = {
	{ "forkbench", "forkbench", { "--sizes", "0,16M,64M", "--reps", "7", "--variants", "fork",
				      "--no-aslr" }, false },
	{ "cowbench", "cowbench", { "--size", "8M", "--reps", "7", "--patterns", "seq",
				    "--modes", "off,16,adaptive64", "--no-aslr" }, false },
	/* the reused COW fault: the child is gone, every write fault reuses its page */
	{ "cowbench_reuse", "cowbench", { "--size", "8M", "--reps", "7", "--patterns", "seq",
					  "--modes", "off", "--writer", "alone", "--no-aslr" }, false },
	{ "forkchain", "forkchain", { "--size", "4M", "--depths", "1,4", "--reps", "5",
				      "--no-aslr" }, false },
	{ "reforkbench", "reforkbench", { "--sizes", "16M", "--changed", "0,1", "--reps", "7",
					  "--preempt", "0", "--budget-us", "0" }, false },
	/* probe overhead: probe_ns_per_event, instructions per BPF program run */
	{ "traceoverhead", "traceoverhead", { "--size", "4M", "--reps", "7", "--fork-ops", "60",
					      "--cow-ops", "4", "--bpf-stats" }, true },
};

static const struct workload full[] = {
	{ "cowbench", "cowbench", { "--size", "256M", "--reps", "9", "--modes",
				    "off,4,16,64,adaptive64,populate" }, false },
	{ "cowbench_child", "cowbench", { "--size", "256M", "--reps", "5", "--writer", "child",
					  "--modes", "off,16,adaptive64,populate" }, false },
	{ "forkbench", "forkbench", { "--sizes", "0,16M,64M,256M,1G", "--reps", "10",
				      "--layouts", "dense,sparse,fragmented" }, false },
	{ "forkchain", "forkchain", { "--size", "64M", "--depths", "1,2,4,8,16", "--reps", "5" },
	  false },
	{ "swapbench", "swapbench", { "--setup-zram", "1G", "--limit", "128M", "--wss", "192M",
				      "--passes", "3" }, false },
	{ "redisbgsave", "redisbgsave", { "--keys", "500000", "--writes", "100000", "--reps", "5" },
	  false },
	{ "traceoverhead", "traceoverhead", { "--reps", "9" }, true },
	{ "reforkbench", "reforkbench", { "--sizes", "64M,256M,1G", "--reps", "5", "--preempt", "30",
					  "--preempt-size", "256M", "--budget-us", "100,300,1000" }, false },
	{ "specswap", "specswap", { "--setup-nullb", "3000", "--visits", "400", "--reps", "5" },
	  false },
	{ "lazyfork", "lazyfork", { "--sizes", "64M,256M,1G", "--reps", "5" }, true },
	{ "swapfrag", "swapfrag", { "--size", "512M", "--fills", "10,25,50,75,90,95",
				    "--frag", "0,2,8,random", "--batch", "4M", "--reps", "3" }, true },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab bench [--suite quick|full] [WORKLOAD...] [--kernel K]... [--vm|--host]\n"
		"                    [-o DIR] [--label L] [--probes LIST] [--icount]\n\n"
		"Run the benchmark suite and write results/<date>-<kernel>-<label>/results.json\n"
		"(every raw sample, summaries, the environment), with each workload's log in logs/.\n\n"
		"  --suite S      quick (default; about 4.5 minutes a kernel on 2 TCG cores), full,\n"
		"                 smoke (seconds; what needs neither the module nor swap: for CI), or\n"
		"                 baseline (exact counts for `cowlab baseline check`: for CI), or\n"
		"                 icount (the core timings, for --icount guests: the timing lane)\n"
		"  WORKLOAD       run only these (quick: cowbench forkbench forkchain swapbench\n"
		"                 redisbgsave traceoverhead reforkbench specswap lazyfork\n"
		"                 swapfrag; full: also cowbench_child)\n"
		"  --kernel K     with --vm: only this pinned kernel (repeatable; default: all)\n"
		"  --vm           in QEMU on the pinned stock kernels, module loaded (default)\n"
		"  --host         here, on the running kernel (the module if it is loaded)\n"
		"  -o, --out DIR  results directory (with --vm: DIR/<kernel>)\n"
		"  --label L      the results directory's label (default: the suite name)\n"
		"  --commit ID    the commit recorded in the results (default: the repository's\n"
		"                 HEAD, marked dirty with local changes; --vm passes it on)\n"
		"  --probes LIST  BPF probes attached around each workload (cowlab trace --help),\n"
		"                 or none (default: all but faults; none for the icount suite)\n"
		"  --icount       with --vm: instruction-counted guests (cowlab vm --icount):\n"
		"                 repeatable times that count instructions, not cache misses;\n"
		"                 the label gets -icount\n");
}

static const char *bin_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	if (n <= 0)
		return ".";
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return dir;
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX + 32], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

static void git_commit(char *buf, size_t len)
{
	char cmd[PATH_MAX + 128];
	FILE *p;

	snprintf(buf, len, "unknown");
	snprintf(cmd, sizeof(cmd), "cd '%s' && git rev-parse --short=12 HEAD 2>/dev/null && "
		 "{ git diff --quiet HEAD 2>/dev/null || echo dirty; }", cl_repo_root());
	p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(buf, (int)len, p)) {
		char more[16];

		buf[strcspn(buf, "\n")] = '\0';
		if (fgets(more, sizeof(more), p) && !strncmp(more, "dirty", 5))
			strncat(buf, "-dirty", len - strlen(buf) - 1);
	}
	pclose(p);
}

static void today(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

/*
 * Probes attached around each workload (its pid and descendants): everything
 * but "faults", which would hook every page fault the workload times.
 */
static uint32_t probe_mask = ~((1U << CL_P_FAULTS) | ~((1U << CL_P_NR) - 1));

static const char *probes_arg;	/* --probes, passed on into the VM */

static int run_workload(const struct workload *w, const char *dir, json_t *results)
{
	char exe[PATH_MAX + 64], json[PATH_MAX + 64], log[PATH_MAX + 64];
	const char *argv[MAX_ARGS + 4];
	json_error_t jerr;
	uint64_t t0 = cl_now_ns();
	json_t *entry, *res, *bpf;
	struct cl_probes *probes = NULL;
	int i, n = 0, status, go[2];
	char err[1024];
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/%s", bin_dir(), w->bin);
	snprintf(json, sizeof(json), "%s/%s.json", dir, w->name);
	snprintf(log, sizeof(log), "%s/logs/%s.log", dir, w->name);
	argv[n++] = exe;
	for (i = 0; i < MAX_ARGS && w->args[i]; i++)
		argv[n++] = w->args[i];
	argv[n++] = "-j";
	argv[n++] = json;
	argv[n] = NULL;

	if (pipe(go))
		return -1;
	pid = fork();
	if (pid == 0) {
		FILE *f = freopen(log, "w", stdout);
		char c;

		close(go[1]);
		/* wait until the probes follow this pid */
		if (!f || dup2(STDOUT_FILENO, STDERR_FILENO) < 0 || read(go[0], &c, 1) != 1)
			_exit(126);
		close(go[0]);
		execv(exe, (char **)argv);
		fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	close(go[0]);
	bpf = json_object();
	if (pid > 0 && probe_mask && !w->own_probes) {
		struct cl_probe_opts po = { .pid = pid, .mask = probe_mask };

		probes = cl_probes_open(&po, err, sizeof(err));
		if (!probes) {
			json_object_set_new(bpf, "status", json_string("unavailable"));
			json_object_set_new(bpf, "reason", json_string(err));
		}
	} else {
		json_object_set_new(bpf, "status", json_string("off"));
	}
	if (pid > 0 && write(go[1], "g", 1) != 1)
		kill(pid, SIGKILL);
	close(go[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = -1;
	if (probes) {
		struct cl_snapshot *snap = calloc(1, sizeof(*snap));

		if (snap && !cl_probes_read(probes, snap)) {
			json_t *sj = cl_snapshot_json(probes, snap);

			json_object_set_new(bpf, "status", json_string("ok"));
			json_object_set_new(bpf, "probes", cl_probes_status_json(probes));
			json_object_update(bpf, sj);	/* takes references of its values */
			json_decref(sj);
		} else {
			json_object_set_new(bpf, "status", json_string("unavailable"));
			json_object_set_new(bpf, "reason", json_string("reading the histograms failed"));
		}
		free(snap);
		cl_probes_close(probes);
	}
	entry = json_pack("{s:s, s:s, s:f}", "program", w->bin, "log", log + strlen(dir) + 1,
			  "duration_s", (double)(cl_now_ns() - t0) / 1e9);
	json_object_set_new(entry, "bpf", bpf);
	json_object_set_new(entry, "args", json_array());
	for (i = 1; i < n - 2; i++)
		json_array_append_new(json_object_get(entry, "args"), json_string(argv[i]));
	res = json_load_file(json, 0, &jerr);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !res) {
		json_object_set_new(entry, "status", json_string("failed"));
		json_object_set_new(entry, "reason", json_string(
			!WIFEXITED(status) ? "killed by a signal" :
			WEXITSTATUS(status) ? "non-zero exit (see its log)" : "no JSON written"));
		json_decref(res);
	} else {
		json_object_set_new(entry, "status", json_string("ok"));
		json_object_set_new(entry, "result", res);
		unlink(json);	/* it lives on inside results.json */
	}
	json_object_set_new(results, w->name, entry);
	return strcmp(json_string_value(json_object_get(entry, "status")), "ok") ? -1 : 0;
}

static int bench_host(const struct workload *suite, size_t n, char **only, int nonly,
		      const char *suite_name, const char *dir, const char *label,
		      const char *commit)
{
	char logs[PATH_MAX + 16], path[PATH_MAX + 16], when[32];
	json_t *root, *wl;
	uint64_t t0 = cl_now_ns();
	size_t i;
	int j, k = 0, total = 0, failed = 0;
	time_t now = time(NULL);

	snprintf(logs, sizeof(logs), "%s/logs", dir);
	if (mkdirs(logs)) {
		cl_err("bench: cannot create %s: %s", logs, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++)
		for (j = 0, total += !nonly; j < nonly; j++)
			total += !strcmp(only[j], suite[i].name);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	root = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o}", "schema", RESULTS_SCHEMA,
			 "suite", suite_name, "label", label, "commit", commit, "started", when,
			 "environment", cl_environment_json());
	wl = json_object();
	for (i = 0; i < n; i++) {
		bool want = !nonly;
		uint64_t w0 = cl_now_ns();

		for (j = 0; j < nonly; j++)
			want |= !strcmp(only[j], suite[i].name);
		if (!want)
			continue;
		printf("bench: [%d/%d] %s ...\n", ++k, total, suite[i].name);
		fflush(stdout);
		if (run_workload(&suite[i], dir, wl))
			failed++;
		printf("bench: [%d/%d] %s %s in %.0f s (log: %s/logs/%s.log)\n", k, total,
		       suite[i].name, failed ? "FAILED" : "done",
		       (double)(cl_now_ns() - w0) / 1e9, dir, suite[i].name);
		fflush(stdout);
	}
	json_object_set_new(root, "workloads", wl);
	json_object_set_new(root, "duration_s", json_real((double)(cl_now_ns() - t0) / 1e9));
	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (cl_json_write(root, path))
		return 1;
	json_decref(root);
	printf("bench: results in %s\n", path);
	return failed ? 1 : 0;
}

/* Median of summary field @key of the first config matching (k1=v1, k2=v2, k3=v3). */
static double conf_median(json_t *configs, const char *k1, const char *v1, const char *k2,
			  const char *v2, const char *k3, const char *v3, const char *key)
{
	size_t i;
	json_t *c;

	json_array_foreach(configs, i, c) {
		if (strcmp(json_string_value(json_object_get(c, k1)) ?: "", v1) ||
		    strcmp(json_string_value(json_object_get(c, k2)) ?: "", v2) ||
		    (k3 && strcmp(json_string_value(json_object_get(c, k3)) ?: "", v3)))
			continue;
		return json_number_value(json_object_get(json_object_get(
			json_object_get(c, "summary"), key), "median"));
	}
	return -1;
}

/* A few headline numbers from one results.json, for the end of a run. */
static double summary_median(json_t *conf, const char *metric)
{
	return json_number_value(json_object_get(json_object_get(json_object_get(conf, "summary"),
						 metric), "median"));
}

static json_t *configs_of(json_t *wl, const char *name)
{
	return json_object_get(json_object_get(json_object_get(wl, name), "result"), "configs");
}

/* One line each for forkchain, swapbench, redisbgsave and traceoverhead. */
static void headline_more(json_t *wl)
{
	json_t *c = configs_of(wl, "forkchain"), *x;
	size_t i, n;

	if ((n = json_array_size(c)) > 1)
		printf("    forkchain: COW write per page, depth %lld %.0f ns vs depth %lld %.0f ns\n",
		       (long long)json_integer_value(json_object_get(json_array_get(c, 0), "depth")),
		       summary_median(json_array_get(c, 0), "cow_ns_per_page"),
		       (long long)json_integer_value(json_object_get(json_array_get(c, n - 1), "depth")),
		       summary_median(json_array_get(c, n - 1), "cow_ns_per_page"));
	c = configs_of(wl, "swapbench");
	json_array_foreach(c, i, x)
		printf("    swapbench %s: %.1f us per page over the memcg limit\n",
		       json_string_value(json_object_get(x, "pattern")) ?: "?",
		       summary_median(x, "ns_per_page") / 1e3);
	c = configs_of(wl, "redisbgsave");
	json_array_foreach(c, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "status")) ?: "", "ok"))
			printf("    redisbgsave %s: redis latest_fork_usec %.0f, cowlab BPF fork %.0f us\n",
			       json_string_value(json_object_get(x, "mode")) ?: "?",
			       summary_median(x, "latest_fork_usec"), summary_median(x, "bpf_fork_us"));
	c = configs_of(wl, "reforkbench");
	json_array_foreach(c, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "kind")) ?: "", "refork"))
			printf("    reforkbench %.0f MiB, %s of pages changed: refork %.3f of a full re-fork\n",
			       json_number_value(json_object_get(x, "size_bytes")) / (1 << 20),
			       json_string_value(json_object_get(x, "changed")) ?: "?",
			       json_number_value(json_object_get(x, "ratio_to_full")));
	c = configs_of(wl, "specswap");
	json_array_foreach(c, i, x)
		printf("    specswap %s: runtime %.0f ms, stalled in reads %.0f ms\n",
		       json_string_value(json_object_get(x, "mode")) ?: "?",
		       summary_median(x, "runtime_ms"), summary_median(x, "stall_ms"));
	c = configs_of(wl, "traceoverhead");
	json_array_foreach(c, i, x) {
		bool ci = json_is_number(json_object_get(x, "ci95_low_pct"));

		printf("    traceoverhead %s loop: probes cost %+.1f%% (%s %+.1f%% .. %+.1f%%)\n",
		       json_string_value(json_object_get(x, "loop")) ?: "?",
		       json_number_value(json_object_get(x, "overhead_pct")),
		       ci ? "95% CI" : "too few blocks for a CI; range",
		       json_number_value(json_object_get(x, ci ? "ci95_low_pct" : "range_low_pct")),
		       json_number_value(json_object_get(x, ci ? "ci95_high_pct" : "range_high_pct")));
	}
}

static void headline(const char *dir)
{
	char path[PATH_MAX + 32];
	json_t *root, *cb, *fb;
	json_error_t err;

	if (snprintf(path, sizeof(path), "%s/results.json", dir) >= (int)sizeof(path))
		return;
	root = json_load_file(path, 0, &err);
	if (!root) {
		printf("  %s: no results.json (%s)\n", dir, err.text);
		return;
	}
	printf("  %s\n", path);
	cb = json_object_get(json_object_get(json_object_get(json_object_get(root, "workloads"),
				"cowbench"), "result"), "configs");
	if (cb) {
		double t_off = conf_median(cb, "pattern", "seq", "mode", "off", NULL, NULL, "write_ms");
		double t16 = conf_median(cb, "pattern", "seq", "mode", "16", NULL, NULL, "write_ms");
		double tpop = conf_median(cb, "pattern", "seq", "mode", "populate", NULL, NULL, "write_ms");
		double r_off = conf_median(cb, "pattern", "seq", "mode", "off", NULL, NULL, "traps_wp");
		double r16 = conf_median(cb, "pattern", "seq", "mode", "16", NULL, NULL, "traps_wp");

		if (t_off > 0 && t16 > 0 && tpop > 0)
			printf("    cowbench seq: COW traps off %.0f, cow-ahead 16 %.0f (%+.1f%%); write time "
			       "vs off: cow-ahead 16 %.3f, populate %.3f\n", r_off, r16,
			       r_off > 0 ? 100 * (r16 - r_off) / r_off : 0, t16 / t_off, tpop / t_off);
	}
	fb = json_object_get(json_object_get(json_object_get(json_object_get(root, "workloads"),
				"forkbench"), "result"), "configs");
	if (fb) {
		double f0 = conf_median(fb, "variant", "fork", "thp", "never", "layout", "dense", "call_us");
		json_t *c, *last = NULL;
		size_t i;

		json_array_foreach(fb, i, c)	/* the largest dense 4K-page fork: the last one */
			if (!strcmp(json_string_value(json_object_get(c, "variant")) ?: "", "fork") &&
			    !strcmp(json_string_value(json_object_get(c, "thp")) ?: "", "never") &&
			    !strcmp(json_string_value(json_object_get(c, "layout")) ?: "", "dense"))
				last = c;
		fb = last;
		if (fb && f0 > 0)
			printf("    forkbench: fork() %.0f MiB parent %.0f us (%.1fx the empty parent), "
			       "page tables %lld kB\n",
			       json_number_value(json_object_get(fb, "size_bytes")) / (1 << 20),
			       json_number_value(json_object_get(json_object_get(json_object_get(fb,
					"summary"), "call_us"), "median")),
			       json_number_value(json_object_get(json_object_get(json_object_get(fb,
					"summary"), "call_us"), "median")) / f0,
			       (long long)json_integer_value(json_object_get(fb, "pte_kb")));
	}
	headline_more(json_object_get(root, "workloads"));
	json_decref(root);
}

/* The figures and report of a finished run (cowlab report), where gnuplot exists. */
static void make_report(const char *dir)
{
	char path[PATH_MAX + 32];
	char *argv[] = { "report", (char *)dir, NULL };
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (access(path, R_OK))
		return;
	if (system("command -v gnuplot >/dev/null 2>&1")) {
		printf("bench: no gnuplot here: `cowlab report %s` makes the figures elsewhere\n", dir);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		optind = 0;	/* a fresh getopt for the subcommand */
		_exit(cmd_report(2, argv));
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st))
		printf("bench: report %s/report/report.html (and report.md)\n", dir);
}

static bool icount;

static int bench_vm(char **kernels, int nk, const char *suite_name, char **only, int nonly,
		    const char *outdir, const char *label, const char *commit)
{
	char conf[PATH_MAX], line[256], date[16], dir[PATH_MAX], vmrun[PATH_MAX], all[16][32];
	char done[16][PATH_MAX], inject[64];
	const char *argv[64];
	int i, j, n, status, failed = 0, nall = 0;
	FILE *f;

	if (!cl_checkout()) {
		cl_err("bench: --vm needs a cowlab source checkout (the VM harness, vm/run), and this "
		       "cowlab is installed (%s): run it without --vm on this host's kernel", cl_repo_root());
		return 2;
	}
	if (!nk) {
		snprintf(conf, sizeof(conf), "%s/vm/kernels.conf", cl_repo_root());
		f = fopen(conf, "r");
		if (!f) {
			cl_err("bench: cannot read %s", conf);
			return 1;
		}
		while (fgets(line, sizeof(line), f) && nall < 16)
			if (line[0] != '#' && sscanf(line, "%31s", all[nall]) == 1)
				nall++;
		fclose(f);
	}
	today(date, sizeof(date));
	snprintf(vmrun, sizeof(vmrun), "%s/vm/run", cl_repo_root());
	for (i = 0; i < (nk ? nk : nall); i++) {
		const char *k = nk ? kernels[i] : all[i];

		if (outdir)
			snprintf(dir, sizeof(dir), "%s/%s", outdir, k);
		else
			snprintf(dir, sizeof(dir), "%s/results/%s-%s-%s", cl_repo_root(), date, k, label);
		printf("bench: kernel %s -> %s\n", k, dir);
		fflush(stdout);
		n = 0;
		argv[n++] = vmrun;
		argv[n++] = "--kernel"; argv[n++] = k;
		argv[n++] = "--cpus"; argv[n++] = "1";
		argv[n++] = "--mem"; argv[n++] = "3G";
		argv[n++] = "--timeout"; argv[n++] = "5400";
		if (icount)
			argv[n++] = "--icount";
		argv[n++] = "-o"; argv[n++] = dir;
		argv[n++] = "--";
		if (getenv("COWLAB_INJECT_PCT")) {	/* the timing lane's injected slowdown */
			snprintf(inject, sizeof(inject), "COWLAB_INJECT_PCT=%s",
				 getenv("COWLAB_INJECT_PCT"));
			argv[n++] = "env";
			argv[n++] = inject;
		}
		argv[n++] = "cowlab"; argv[n++] = "bench"; argv[n++] = "--host";
		argv[n++] = "--suite"; argv[n++] = suite_name;
		argv[n++] = "--label"; argv[n++] = label;
		argv[n++] = "--commit"; argv[n++] = commit;
		argv[n++] = "-o"; argv[n++] = "/host/out";
		if (probes_arg) {
			argv[n++] = "--probes";
			argv[n++] = probes_arg;
		}
		for (j = 0; j < nonly && n < 62; j++)
			argv[n++] = only[j];
		argv[n] = NULL;
		if (fork() == 0) {
			execv(vmrun, (char **)argv);
			_exit(127);
		}
		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			cl_err("bench: kernel %s failed (exit %d); console log in %s/console.log", k,
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1, dir);
			failed++;
		}
		snprintf(done[i], sizeof(done[i]), "%s", dir);
	}
	printf("\nbench: results (%s)\n", icount ?
	       "instruction-counted guest clock: times count instructions, not cache or TLB misses" :
	       "timings inside QEMU TCG are emulated: compare ratios within one run");
	for (i = 0; i < (nk ? nk : nall); i++)
		headline(done[i]);
	for (i = 0; i < (nk ? nk : nall); i++)
		make_report(done[i]);
	return failed ? 1 : 0;
}

int cmd_bench(int argc, char **argv)
{
	enum { OPT_SUITE = 256, OPT_KERNEL, OPT_VM, OPT_HOST, OPT_LABEL, OPT_COMMIT, OPT_PROBES,
	       OPT_ICOUNT };
	static const struct option opts[] = {
		{ "suite", required_argument, NULL, OPT_SUITE },
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "vm", no_argument, NULL, OPT_VM },
		{ "host", no_argument, NULL, OPT_HOST },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "commit", required_argument, NULL, OPT_COMMIT },
		{ "probes", required_argument, NULL, OPT_PROBES },
		{ "icount", no_argument, NULL, OPT_ICOUNT },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *suite_name = "quick", *label = NULL, *outdir = NULL;
	char perr[512];
	char *kernels[16], commit[64] = "", dir[PATH_MAX], date[16], deflabel[64];
	const struct workload *suite;
	int c, nk = 0, i, host = 0;
	struct utsname u;
	size_t n;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SUITE: suite_name = optarg; break;
		case OPT_KERNEL:
			if (nk == 16) {
				cl_err("bench: too many --kernel");
				return 2;
			}
			kernels[nk++] = optarg;
			break;
		case OPT_VM: host = 0; break;
		case OPT_HOST: host = 1; break;
		case OPT_LABEL: label = optarg; break;
		case OPT_COMMIT: snprintf(commit, sizeof(commit), "%s", optarg); break;
		case OPT_PROBES:
			probes_arg = optarg;
			if (!strcmp(optarg, "none")) {
				probe_mask = 0;
			} else if (cl_probe_parse(optarg, &probe_mask, perr, sizeof(perr))) {
				cl_err("bench: %s", perr);
				return 2;
			}
			break;
		case OPT_ICOUNT: icount = true; break;
		case 'o': outdir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!strcmp(suite_name, "quick")) {
		suite = quick;
		n = ARRAY_SIZE(quick);
	} else if (!strcmp(suite_name, "full")) {
		suite = full;
		n = ARRAY_SIZE(full);
	} else if (!strcmp(suite_name, "baseline")) {
		suite = baseline;
		n = ARRAY_SIZE(baseline);
	} else if (!strcmp(suite_name, "icount")) {
		suite = icount_suite;
		n = ARRAY_SIZE(icount_suite);
		/*
		 * Timings of the kernel as it runs unprobed, unless asked: the probes' maps
		 * are keyed by pid, and the pids a boot hands out moved every fork of one
		 * boot by ~2,000 instructions (6.12). traceoverhead measures what they add.
		 */
		if (!probes_arg) {
			probes_arg = "none";
			probe_mask = 0;
		}
	} else if (!strcmp(suite_name, "smoke")) {
		suite = smoke;
		n = ARRAY_SIZE(smoke);
	} else {
		cl_err("bench: unknown suite '%s' (quick, full, smoke, baseline or icount)", suite_name);
		return 2;
	}
	for (i = optind; i < argc; i++) {
		size_t k;

		for (k = 0; k < n && strcmp(argv[i], suite[k].name); k++)
			;
		if (k == n) {
			cl_err("bench: no workload '%s' in the %s suite", argv[i], suite_name);
			return 2;
		}
	}
	if (!label) {
		snprintf(deflabel, sizeof(deflabel), "%s%s", suite_name, icount ? "-icount" : "");
		label = deflabel;
	}
	if (strchr(label, '/')) {
		cl_err("bench: --label may not contain '/'");
		return 2;
	}
	if (!commit[0])
		git_commit(commit, sizeof(commit));
	if (!host) {
		if (getenv("COWLAB_GUEST")) {
			cl_err("bench: inside the guest already; use --host");
			return 2;
		}
		return bench_vm(kernels, nk, suite_name, argv + optind, argc - optind, outdir,
				label, commit);
	}
	if (icount) {
		cl_err("bench: --icount goes with --vm (it is a property of the guest's clock)");
		return 2;
	}
	if (nk) {
		cl_err("bench: --kernel goes with --vm (on the host the kernel is the running one)");
		return 2;
	}
	if (!outdir) {
		uname(&u);
		today(date, sizeof(date));
		/* An installed cowlab writes under the current directory. */
		snprintf(dir, sizeof(dir), "%s/results/%s-%s-%s", cl_checkout() ? cl_checkout() : ".", date,
			 getenv("COWLAB_KERNEL") ? getenv("COWLAB_KERNEL") : u.release, label);
		outdir = dir;
	}
	return bench_host(suite, n, argv + optind, argc - optind, suite_name, outdir, label,
			  commit);
}
