// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab compare BASE NEW: every metric of every configuration present in
 * both results, as baseline median, new median and change, with the
 * Mann-Whitney U test on the raw samples. A change is significant when
 * p < alpha and |change| >= threshold; every metric cowlab records is better
 * lower (times, faults, traps), so a significant increase is a regression and
 * makes the exit status 1.
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
#include "results.h"
#include "stats.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab compare BASE NEW [-j] [--threshold PCT] [--alpha A]\n\n"
		"Compare two benchmark results (directories with results.json, or the files):\n"
		"per workload, configuration and metric, the baseline and new medians, the change,\n"
		"and the two-sided Mann-Whitney U test on the raw samples.\n\n"
		"  -t, --threshold PCT  smallest change that counts (default 5)\n"
		"  -a, --alpha A        significance level (default 0.05)\n"
		"  -j, --json           JSON on stdout\n\n"
		"Every metric is better lower. Exit status: 0 no significant regression, 1 at least\n"
		"one (marked REGRESSION), 2 bad arguments or unreadable input.\n");
}

int cmd_compare(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "threshold", required_argument, NULL, 't' }, { "alpha", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double threshold = 5, alpha = 0.05;
	json_t *base, *neu, *rows = json_array(), *w;
	int c, regressions = 0, improvements = 0, compared = 0;
	bool json = false;
	const char *wname;
	char err[4200], *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:jh", lo, NULL)) != -1) {
		switch (c) {
		case 't':
		case 'a':
			errno = 0;
			*(c == 't' ? &threshold : &alpha) = strtod(optarg, &end);
			if (errno || *end || (c == 't' ? threshold < 0 : alpha <= 0 || alpha >= 1)) {
				cl_err("compare: bad --%s '%s'", c == 't' ? "threshold" : "alpha", optarg);
				return 2;
			}
			break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	base = cl_results_load(argv[optind], err, sizeof(err));
	neu = base ? cl_results_load(argv[optind + 1], err, sizeof(err)) : NULL;
	if (!base || !neu) {
		cl_err("compare: %s", err);
		json_decref(base);
		return 2;
	}
	if (!json)
		printf("%-13s %-44s %-18s %12s %12s %8s %7s\n", "workload", "configuration", "metric",
		       "base", "new", "change", "p");
	json_object_foreach(json_object_get(base, "workloads"), wname, w) {
		json_t *bc = json_object_get(json_object_get(w, "result"), "configs");
		json_t *nc = json_object_get(json_object_get(json_object_get(json_object_get(neu,
				"workloads"), wname), "result"), "configs");
		json_t *cb;
		size_t i;

		json_array_foreach(bc, i, cb) {
			json_t *cn, *summary = json_object_get(cb, "summary"), *unused;
			const char *metric;
			char id[1024];

			cl_config_id(cb, id, sizeof(id));
			cn = cl_find_config(nc, id);
			if (!cn)
				continue;
			json_object_foreach(summary, metric, unused) {
				size_t n1, n2;
				double *x = cl_samples_of(cb, metric, &n1), *y = cl_samples_of(cn, metric, &n2);
				struct cl_summary s1, s2;
				double change, p;
				const char *mark = "";

				if (n1 < 2 || n2 < 2) {
					free(x);
					free(y);
					continue;
				}
				cl_summarize(x, n1, &s1);
				cl_summarize(y, n2, &s2);
				p = cl_mann_whitney_p(x, n1, y, n2);
				change = s1.median ? 100 * (s2.median - s1.median) / s1.median :
					 s2.median ? INFINITY : 0;
				if (p < alpha && fabs(change) >= threshold) {
					mark = change > 0 ? "REGRESSION" : "improved";
					change > 0 ? regressions++ : improvements++;
				}
				compared++;
				if (json)
					json_array_append_new(rows, json_pack(
						"{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:I,s:I,s:s}", "workload", wname,
						"config", id, "metric", metric, "base_median", s1.median,
						"new_median", s2.median, "change_pct", change, "p", p,
						"base_n", (json_int_t)n1, "new_n", (json_int_t)n2,
						"verdict", mark[0] ? mark : "same"));
				else
					printf("%-13s %-44.44s %-18s %12.4g %12.4g %+7.1f%% %7.3f %s\n", wname,
					       id, metric, s1.median, s2.median, change, p, mark);
				free(x);
				free(y);
			}
		}
	}
	if (json) {
		json_t *o = json_pack("{s:o,s:f,s:f,s:i,s:i,s:i}", "rows", rows, "threshold_pct",
				      threshold, "alpha", alpha, "compared", compared, "regressions",
				      regressions, "improvements", improvements);

		json_dumpf(o, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(o);
	} else {
		json_decref(rows);
		printf("\n%d metrics compared (Mann-Whitney U, alpha %g, threshold %g%%): %d "
		       "significant regressions, %d significant improvements\n", compared, alpha,
		       threshold, regressions, improvements);
	}
	json_decref(base);
	json_decref(neu);
	if (!compared) {
		cl_err("compare: no configuration is in both results");
		return 2;
	}
	return regressions ? 1 : 0;
}
