// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab compare: every metric of every configuration present in both the
 * baseline and the new results, as baseline, new and change, with a test:
 *
 *   one run per side      Mann-Whitney U on the raw samples of the two runs.
 *                         It sees only the spread inside each run.
 *   two or more per side  Welch's t-test on the runs' medians: the run is the
 *                         unit, so drift from one run to the next (large in
 *                         TCG) is part of the noise the change is judged by.
 *
 * A change is significant when p < alpha and |change| >= threshold; every
 * metric cowlab records is better lower (times, faults, traps), so a
 * significant increase is a regression and makes the exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "jsonout.h"
#include "results.h"
#include "stats.h"
#include "util.h"

#define MAX_RUNS 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab compare BASE NEW [options]\n"
		"       cowlab compare --base RUN... --new RUN... [options]\n\n"
		"Compare benchmark results (directories with results.json, or the files): per\n"
		"workload, configuration and metric, the baseline and new values, the change, and\n"
		"a two-sided test.\n\n"
		"  BASE NEW             one run each: Mann-Whitney U on the raw samples; it sees\n"
		"                       only the spread inside each run\n"
		"  -b, --base RUN       a baseline run (repeat, at least 2 with --new); then the\n"
		"  -n, --new RUN        test is Welch's t on the runs' medians, and drift between\n"
		"                       runs counts as noise (what TCG timings need)\n"
		"  -i, --inject W:F     multiply every timing sample of workload W in the new\n"
		"                       runs by F (repeatable): would such a change be found?\n"
		"  -t, --threshold PCT  smallest change that counts (default 5)\n"
		"  -a, --alpha A        significance level (default 0.05)\n"
		"  -s, --stat STAT      median (default) or min: the minimum of each run's samples,\n"
		"                       for instruction-counted (icount) runs, whose noise only\n"
		"                       adds work\n"
		"  With --stat min, or when the runs are icount runs, a change counts when it\n"
		"  reaches the threshold, whatever p says (icount samples repeat to hundredths of a\n"
		"  percent or differ by design, and a test on a few of them has no power): set the\n"
		"  threshold from an A/A run. Otherwise a change must also be significant (p < alpha).\n"
		"  -j, --json           JSON on stdout\n\n"
		"Every metric is better lower. Exit status: 0 no significant regression, 1 at least\n"
		"one (marked REGRESSION), 2 bad arguments or unreadable input.\n");
}

struct side {
	json_t *run[MAX_RUNS];
	int n;
};

static json_t *configs_of(json_t *root, const char *wname)
{
	return json_object_get(json_object_get(json_object_get(json_object_get(root, "workloads"),
						wname), "result"), "configs");
}

static bool stat_min;	/* --stat min: minima instead of medians */
static bool by_threshold;	/* a change counts by the threshold alone (min, or icount runs) */

/* The median (or minimum) of @metric in configuration @id of each run; how many runs have it. */
static size_t run_medians(struct side *s, const char *wname, const char *id, const char *metric,
			  double *out)
{
	size_t k = 0, n;
	int r;

	for (r = 0; r < s->n; r++) {
		json_t *c = cl_find_config(configs_of(s->run[r], wname), id);
		double *x;
		struct cl_summary sm;

		if (!c)
			continue;
		x = cl_samples_of(c, metric, &n);
		if (n && !cl_summarize(x, n, &sm))
			out[k++] = stat_min ? sm.min : sm.median;
		free(x);
	}
	return k;
}

static int load_side(struct side *s, char **paths, int n)
{
	char err[4200];
	int i;

	for (i = 0; i < n; i++) {
		s->run[i] = cl_results_load(paths[i], err, sizeof(err));
		if (!s->run[i]) {
			cl_err("compare: %s", err);
			return -1;
		}
		s->n = i + 1;
	}
	return 0;
}

/* Scale the raw timing samples of workload @wname by @f (compare reads only samples). */
static size_t inject(struct side *s, const char *wname, double f)
{
	size_t scaled = 0, i, j;
	int r;

	for (r = 0; r < s->n; r++) {
		json_t *c, *smp, *v;
		const char *m;

		json_array_foreach(configs_of(s->run[r], wname), i, c) {
			json_array_foreach(json_object_get(c, "samples"), j, smp) {
				json_object_foreach(smp, m, v) {
					if (!json_is_number(v) || !cl_is_time_metric(m))
						continue;
					json_object_set_new(smp, m, json_real(json_number_value(v) * f));
					scaled++;
				}
			}
		}
	}
	return scaled;
}

static void free_side(struct side *s)
{
	while (s->n > 0)
		json_decref(s->run[--s->n]);
}

int cmd_compare(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "threshold", required_argument, NULL, 't' }, { "alpha", required_argument, NULL, 'a' },
		{ "base", required_argument, NULL, 'b' }, { "new", required_argument, NULL, 'n' },
		{ "inject", required_argument, NULL, 'i' }, { "json", no_argument, NULL, 'j' },
		{ "stat", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	char *inj_w[16];
	double inj_f[16];
	int ninj = 0;
	double threshold = 5, alpha = 0.05;
	char *bpath[MAX_RUNS], *npath[MAX_RUNS], *end;
	struct side base = { .n = 0 }, neu = { .n = 0 };
	json_t *rows = json_array(), *w;
	int c, nb = 0, nn = 0, regressions = 0, improvements = 0, compared = 0, partial = 0;
	int ret = 2, idw = 13;
	bool json = false, runs;
	const char *wname, *test, *clock;

	optind = 1;
	stat_min = false;
	while ((c = getopt_long(argc, argv, "t:a:b:n:i:s:jh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "min") && strcmp(optarg, "median")) {
				cl_err("compare: bad --stat '%s' (median or min)", optarg);
				goto out;
			}
			stat_min = !strcmp(optarg, "min");
			break;
		case 'i': {
			char *colon = strrchr(optarg, ':');

			errno = 0;
			if (ninj == 16 || !colon || colon == optarg ||
			    (inj_f[ninj] = strtod(colon + 1, &end), errno || *end || colon[1] == 0 ||
			     inj_f[ninj] <= 0)) {
				cl_err("compare: bad --inject '%s' (WORKLOAD:FACTOR, e.g. forkbench:1.2)",
				       optarg);
				goto out;
			}
			*colon = 0;
			inj_w[ninj++] = optarg;
			break;
		}
		case 't':
		case 'a':
			errno = 0;
			*(c == 't' ? &threshold : &alpha) = strtod(optarg, &end);
			if (errno || *end || (c == 't' ? threshold < 0 : alpha <= 0 || alpha >= 1)) {
				cl_err("compare: bad --%s '%s'", c == 't' ? "threshold" : "alpha", optarg);
				goto out;
			}
			break;
		case 'b':
		case 'n':
			if ((c == 'b' ? nb : nn) == MAX_RUNS) {
				cl_err("compare: at most %d runs per side", MAX_RUNS);
				goto out;
			}
			if (c == 'b')
				bpath[nb++] = optarg;
			else
				npath[nn++] = optarg;
			break;
		case 'j': json = true; break;
		case 'h': usage(stdout); ret = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	if (!nb && !nn && argc - optind == 2) {
		bpath[nb++] = argv[optind];
		npath[nn++] = argv[optind + 1];
	} else if (argc != optind || !nb || !nn) {
		usage(stderr);
		goto out;
	}
	runs = nb > 1 || nn > 1;
	if (runs && (nb < 2 || nn < 2)) {
		cl_err("compare: %d baseline and %d new runs: give one run per side, or at least two "
		       "per side (the run-level test needs the spread between runs on both sides)",
		       nb, nn);
		goto out;
	}
	if (load_side(&base, bpath, nb) || load_side(&neu, npath, nn))
		goto out;
	/* Instruction-counted, emulated and real times measure different things: never mixed. */
	clock = cl_clock_of(base.run[0]);
	by_threshold = stat_min || !strcmp(clock, "icount");
	for (c = 0; c < nb + nn; c++) {
		json_t *run = c < nb ? base.run[c] : neu.run[c - nb];

		if (strcmp(cl_clock_of(run), clock)) {
			cl_err("compare: %s has %s times, %s has %s times: not comparable (cowlab vm "
			       "--icount runs compare only with icount runs)", bpath[0], clock,
			       c < nb ? bpath[c] : npath[c - nb], cl_clock_of(run));
			goto out;
		}
	}
	for (c = 0; c < ninj; c++) {
		size_t k = inject(&neu, inj_w[c], inj_f[c]);

		if (!k) {
			cl_err("compare: --inject %s: no timing samples of that workload in the new runs",
			       inj_w[c]);
			goto out;
		}
		if (!json)
			printf("injected: %zu timing samples of %s in the new runs x%g\n", k, inj_w[c],
			       inj_f[c]);
	}
	test = runs ? "welch-t-run-medians" : "mann-whitney";

	/* the configuration column as wide as the longest identity, never cut */
	json_object_foreach(json_object_get(base.run[0], "workloads"), wname, w) {
		json_t *cb;
		size_t i;
		char id[1024];

		json_array_foreach(json_object_get(json_object_get(w, "result"), "configs"), i, cb) {
			cl_config_id(cb, id, sizeof(id));
			if ((int)strlen(id) > idw)
				idw = (int)strlen(id);
		}
	}
	if (!json)
		printf("%-13s %-*s %-18s %12s %12s %8s %7s\n", "workload", idw, "configuration",
		       "metric", "base", "new", "change", "p");
	json_object_foreach(json_object_get(base.run[0], "workloads"), wname, w) {
		json_t *cb;
		size_t i;

		json_array_foreach(json_object_get(json_object_get(w, "result"), "configs"), i, cb) {
			json_t *summary = json_object_get(cb, "summary"), *unused, *cn;
			const char *metric;
			char id[1024];

			cl_config_id(cb, id, sizeof(id));
			cn = cl_find_config(configs_of(neu.run[0], wname), id);
			if (!cn)
				continue;
			json_object_foreach(summary, metric, unused) {
				double *x = NULL, *y = NULL, bv, nv, change, p;
				size_t n1, n2;
				const char *mark = "";

				if (runs) {
					double mb[MAX_RUNS], mn[MAX_RUNS], sb = 0, sn = 0;
					size_t k;

					n1 = run_medians(&base, wname, id, metric, mb);
					n2 = run_medians(&neu, wname, id, metric, mn);
					if (n1 < 2 || n2 < 2)
						continue;
					if ((int)n1 < nb || (int)n2 < nn)
						partial++;
					for (k = 0; k < n1; k++)
						sb += mb[k];
					for (k = 0; k < n2; k++)
						sn += mn[k];
					bv = sb / (double)n1;
					nv = sn / (double)n2;
					p = cl_welch_t_p(mb, n1, mn, n2, NULL, NULL);
				} else {
					struct cl_summary s1, s2;

					x = cl_samples_of(cb, metric, &n1);
					y = cl_samples_of(cn, metric, &n2);
					if (n1 < 2 || n2 < 2) {
						free(x);
						free(y);
						continue;
					}
					cl_summarize(x, n1, &s1);
					cl_summarize(y, n2, &s2);
					bv = stat_min ? s1.min : s1.median;
					nv = stat_min ? s2.min : s2.median;
					p = cl_mann_whitney_p(x, n1, y, n2);
					free(x);
					free(y);
				}
				change = bv ? 100 * (nv - bv) / bv : nv ? INFINITY : 0;
				if ((by_threshold || p < alpha) && fabs(change) >= threshold) {
					mark = change > 0 ? "REGRESSION" : "improved";
					change > 0 ? regressions++ : improvements++;
				}
				compared++;
				if (json)
					json_array_append_new(rows, json_pack(
						"{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:I,s:I,s:s}", "workload", wname,
						"config", id, "metric", metric, "base", bv, "new", nv,
						"change_pct", isfinite(change) ? change : 1e308, "p", p,
						runs ? "base_runs" : "base_n", (json_int_t)n1,
						runs ? "new_runs" : "new_n", (json_int_t)n2,
						"verdict", mark[0] ? mark : "same"));
				else
					printf("%-13s %-*s %-18s %12.4g %12.4g %+7.1f%% %7.3f %s\n", wname,
					       idw, id, metric, bv, nv, change, p, mark);
			}
		}
	}
	if (json) {
		json_t *o = json_pack("{s:o,s:s,s:s,s:s,s:s,s:i,s:i,s:f,s:f,s:i,s:i,s:i}", "rows",
				      rows, "test", test, "clock", clock, "stat",
				      stat_min ? "min" : "median", "verdict_by",
				      by_threshold ? "threshold" : "test and threshold",
				      "base_runs", nb, "new_runs", nn, "threshold_pct", threshold,
				      "alpha", alpha, "compared", compared, "regressions", regressions,
				      "improvements", improvements);

		rows = NULL;
		json_dumpf(o, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(o);
	} else {
		if (by_threshold)
			printf("\n%d metrics compared (%s, threshold %g%%; %s times; p from %s, "
			       "not required): %d regressions, %d improvements\n", compared,
			       stat_min ? "minima" : "medians", threshold, clock,
			       runs ? (stat_min ? "Welch's t on run minima" : "Welch's t on run medians") :
			       "Mann-Whitney U on raw samples", regressions, improvements);
		else
			printf("\n%d metrics compared (%s, alpha %g, threshold %g%%; %s times): %d "
			       "significant regressions, %d significant improvements\n", compared,
			       runs ? "Welch's t on run medians" : "Mann-Whitney U on raw samples", alpha,
			       threshold, clock, regressions, improvements);
		if (runs)
			printf("runs: %d baseline, %d new; values are means of the runs' %s%s\n",
			       nb, nn, stat_min ? "minima" : "medians", partial ? "; some configurations are missing from some runs" : "");
		else if (!strcmp(clock, "emulated"))	/* every run has this clock: checked above */
			printf("note: TCG timings drift between runs more than within one; one run per side "
			       "cannot see that drift (compare several runs per side with --base/--new)\n");
	}
	if (!compared) {
		cl_err("compare: no configuration is in both results%s",
		       runs ? " (in at least two runs on each side)" : "");
		goto out;
	}
	ret = regressions ? 1 : 0;
out:
	json_decref(rows);
	free_side(&base);
	free_side(&neu);
	return ret;
}
