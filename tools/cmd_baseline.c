// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab baseline check|update: the CI guard against regressions.
 *
 * `cowlab bench --suite baseline` (in the VM, per kernel) gives a small run
 * whose exact counts do not depend on timing: COW write-protect traps,
 * cow-ahead batches and pages broken, refork entries and runs re-copied,
 * minor faults in a fork chain, the parent's page tables. `check` compares a
 * new run with results/baseline/<kernel>.json:
 *   - exact counts (medians, and counting fields of a configuration) must be
 *     equal: any difference fails;
 *   - timing ratios measured inside one run (cow-ahead write time / off,
 *     refork / full re-fork) fail only when they grow by more than the factor
 *     --ratio-tolerance (default 4): TCG timing is emulated and noisy (the same
 *     build's refork/full ratio at 1% of 16 MiB was 0.121 in one boot and 0.262
 *     in another, x2.16, on 6.1 in CI), so only gross regressions count, such
 *     as change tracking lost (x8 at 1%); a gross improvement is reported, not
 *     failed. Gating small timing changes is the icount lane's job;
 *   - a configuration of the baseline missing from the new run fails.
 * Raw times are never compared. `update` writes the new run as the baseline:
 * the only way the baseline changes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "results.h"
#include "util.h"

/* Metrics (summary medians) and configuration fields that are exact counts. */
static const char *const exact_metrics[] = { "traps_wp", "pages_broken_ahead", "batches",
					     "pages_written", "ptes_updated", "runs_updated", NULL };
static const char *const exact_fields[] = { "minflt_deepest", "region_pte_kb", "pages_changed", "pages",
					    NULL };
/* Ratios of two times of the same run. */
static const char *const ratio_fields[] = { "time_ratio_to_off", "ratio_to_full", NULL };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab baseline check NEW [--baseline FILE] [--ratio-tolerance F] [--tap]\n"
		"       cowlab baseline update NEW [--baseline FILE]\n\n"
		"NEW is a results directory (or results.json) of `cowlab bench --suite baseline`.\n"
		"The baseline defaults to results/baseline/<kernel>.json in the repository.\n\n"
		"check: exact counts (COW traps, cow-ahead batches and pages, refork entries and runs\n"
		"re-copied, fork-chain minor faults, page tables) must equal the baseline's; timing\n"
		"ratios of one run (cow-ahead time / off, refork / full re-fork) fail when they grow\n"
		"by more than the factor F (default 4); raw times are not compared. Exit 1 on any\n"
		"failure.\n"
		"  --tap   print one TAP test per checked value (for make check)\n\n"
		"update: make NEW the baseline (the only way it changes).\n");
}

static const char *release_of(json_t *root)
{
	json_t *env = json_object_get(root, "environment");

	return json_string_value(json_object_get(env, "kernel")) ?: "unknown";
}

/*
 * The archive moves: a series' kernel is replaced by its next patch release every few weeks
 * and vm/fetch-kernels follows. The exact counts checked here (pages, faults, page-table
 * entries) do not depend on the patch release, so a baseline stays valid across them; say so
 * when the releases differ, so that a difference is read with that in mind.
 */
static void release_note(json_t *base, json_t *neu, bool tap)
{
	if (!strcmp(release_of(base), release_of(neu)))
		return;
	printf("%sbaseline: taken on %s, this run is on %s (same series: exact counts are compared "
	       "as they are; timing ratios loosely)\n", tap ? "# " : "", release_of(base),
	       release_of(neu));
}

static const char *kernel_of(json_t *root)
{
	json_t *env = json_object_get(root, "environment");

	return json_string_value(json_object_get(env, "kernel_name")) ?:
	       json_string_value(json_object_get(env, "kernel")) ?: "unknown";
}

static double med(json_t *c, const char *m, bool *has)
{
	json_t *v = json_object_get(json_object_get(json_object_get(c, "summary"), m), "median");

	*has = json_is_number(v);
	return json_number_value(v);
}

struct tally {
	int n, bad;
	bool tap;
};

static void verdict(struct tally *t, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void verdict(struct tally *t, bool ok, const char *fmt, ...)
{
	va_list ap;

	t->n++;
	t->bad += !ok;
	if (!t->tap && ok)
		return;
	if (t->tap)
		printf("%sok %d ", ok ? "" : "not ", t->n);
	else
		printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void check_workload(struct tally *t, const char *w, json_t *bw, json_t *nw, double tol)
{
	json_t *bc = json_object_get(json_object_get(bw, "result"), "configs");
	json_t *nc = json_object_get(json_object_get(nw, "result"), "configs"), *c;
	size_t i;
	int k;

	json_array_foreach(bc, i, c) {
		char id[1024];
		json_t *n;

		cl_config_id(c, id, sizeof(id));
		n = cl_find_config(nc, id);
		if (!n) {
			verdict(t, false, "%s %s: in the baseline, missing from the new run", w, id);
			continue;
		}
		for (k = 0; exact_metrics[k]; k++) {
			bool hb, hn;
			double b = med(c, exact_metrics[k], &hb), v = med(n, exact_metrics[k], &hn);

			if (!hb)
				continue;
			verdict(t, hn && b == v, "%s %s: %s exactly %g (baseline %g)", w, id,
				exact_metrics[k], hn ? v : NAN, b);
		}
		for (k = 0; exact_fields[k]; k++) {
			json_t *b = json_object_get(c, exact_fields[k]), *v = json_object_get(n, exact_fields[k]);

			if (!json_is_number(b))
				continue;
			verdict(t, json_is_number(v) && json_number_value(b) == json_number_value(v),
				"%s %s: %s exactly %g (baseline %g)", w, id, exact_fields[k],
				json_is_number(v) ? json_number_value(v) : NAN, json_number_value(b));
		}
		for (k = 0; ratio_fields[k]; k++) {
			json_t *b = json_object_get(c, ratio_fields[k]), *v = json_object_get(n, ratio_fields[k]);
			double rb = json_number_value(b), rn = json_number_value(v), f;

			if (!json_is_number(b) || rb <= 0)
				continue;
			f = rn > 0 ? rn / rb : INFINITY;
			verdict(t, f <= tol, "%s %s: %s %.3f, baseline %.3f (x%.2f, worse than x%g fails)",
				w, id, ratio_fields[k], rn, rb, f, tol);
			if (f < 1 / tol)
				printf("%snote: %s %s: %s improved beyond x%g; refresh the baseline if this "
				       "is real (make baseline)\n", t->tap ? "# " : "", w, id,
				       ratio_fields[k], 1 / tol);
		}
	}
}

static int do_update(json_t *neu, const char *path)
{
	char dir[PATH_MAX], *slash;
	const char *wname;
	json_t *w;

	/* Only what check compares, and where it came from: not the BPF histograms. */
	json_object_foreach(json_object_get(neu, "workloads"), wname, w)
		json_object_del(w, "bpf");

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		mkdir(dir, 0755);
	}
	if (json_dump_file(neu, path, JSON_INDENT(1) | JSON_SORT_KEYS)) {
		cl_err("baseline: cannot write %s: %s", path, strerror(errno));
		return 1;
	}
	printf("baseline: %s written (kernel %s, commit %s)\n", path, kernel_of(neu),
	       json_string_value(json_object_get(neu, "commit")) ?: "?");
	return 0;
}

int cmd_baseline(int argc, char **argv)
{
	enum { OPT_BASE = 256, OPT_TOL, OPT_TAP };
	static const struct option lo[] = {
		{ "baseline", required_argument, NULL, OPT_BASE },
		{ "ratio-tolerance", required_argument, NULL, OPT_TOL },
		{ "tap", no_argument, NULL, OPT_TAP }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base_path = NULL, *verb;
	char err[1024], def[PATH_MAX];
	struct tally t = { 0 };
	double tol = 4;
	json_t *neu, *base, *w;
	const char *wname;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case OPT_BASE: base_path = optarg; break;
		case OPT_TOL:
			tol = atof(optarg);
			if (tol < 1) {
				cl_err("baseline: --ratio-tolerance must be >= 1");
				return 2;
			}
			break;
		case OPT_TAP: t.tap = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || (strcmp(argv[optind], "check") && strcmp(argv[optind], "update"))) {
		usage(stderr);
		return 2;
	}
	verb = argv[optind];
	neu = cl_results_load(argv[optind + 1], err, sizeof(err));
	if (!neu) {
		cl_err("baseline: %s", err);
		return 2;
	}
	if (!base_path && !cl_checkout()) {
		cl_err("baseline: the committed baselines are in a cowlab source checkout; this cowlab "
		       "is installed: give --baseline FILE");
		return 2;
	}
	if (!base_path) {
		snprintf(def, sizeof(def), "%s/results/baseline/%s.json", cl_repo_root(), kernel_of(neu));
		base_path = def;
	}
	if (!strcmp(verb, "update"))
		return do_update(neu, base_path);

	base = cl_results_load(base_path, err, sizeof(err));
	if (!base) {
		cl_err("baseline: %s (make one with `make baseline`)", err);
		return 2;
	}
	if (strcmp(kernel_of(base), kernel_of(neu))) {
		cl_err("baseline: %s is for kernel %s, the new run is %s", base_path, kernel_of(base),
		       kernel_of(neu));
		return 2;
	}
	release_note(base, neu, t.tap);
	json_object_foreach(json_object_get(base, "workloads"), wname, w) {
		json_t *nw = json_object_get(json_object_get(neu, "workloads"), wname);

		if (!nw || strcmp(json_string_value(json_object_get(nw, "status")) ?: "", "ok")) {
			verdict(&t, false, "%s: in the baseline, %s in the new run", wname,
				nw ? "failed" : "missing");
			continue;
		}
		check_workload(&t, wname, w, nw, tol);
	}
	if (t.tap)
		printf("1..%d\n", t.n);
	printf("%sbaseline %s (kernel %s): %d values checked, %d differ\n", t.tap ? "# " : "",
	       base_path, kernel_of(base), t.n, t.bad);
	if (!t.n) {
		cl_err("baseline: nothing to check in %s", base_path);
		return 2;
	}
	return t.bad ? 1 : 0;
}
