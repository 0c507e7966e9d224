// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab history DIR...: trend graphs over many results (the CI regression
 * graphs). Results are grouped by kernel and ordered by their start time. For
 * every workload, each metric becomes one line per kernel: the geometric mean,
 * over the configurations present in both, of (median in this run / median in
 * the first run), so 1.0 is "as the first run". A run is marked where any of
 * its configurations is significantly worse: with 3 or more earlier runs of
 * its kernel, its median against the t prediction interval of the last (up to
 * 5) runs' medians, so drift between runs is noise; with fewer, Mann-Whitney U
 * against the run before (cowlab compare's one-run test). Either way also
 * change >= threshold (against the earlier runs' mean, or the run before).
 */
#include <errno.h>
#include <getopt.h>
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
#include "stats.h"
#include "util.h"

#define MAX_RUNS 512
#define WINDOW 5	/* earlier runs a new run is judged against */

struct run {
	const char *path;
	json_t *root;
	const char *kernel, *started, *commit;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab history DIR... [-o OUTDIR] [--alpha A] [--threshold PCT]\n\n"
		"Trend graphs over many results directories (cowlab bench), per kernel, ordered by\n"
		"start time: per workload and metric, the geometric mean over configurations of\n"
		"median / median of the first run. A run is marked and listed when a configuration\n"
		"is significantly worse: after 3 or more runs of its kernel, against the prediction\n"
		"interval of the last (up to 5) runs' medians (drift between runs is noise); before\n"
		"that, against the run before (Mann-Whitney U, as cowlab compare with one run per\n"
		"side). Writes NAME.dat, NAME.gp, NAME.png, NAME.svg per workload and history.md.\n\n"
		"  -o, --out DIR       where to write (default: ./history)\n"
		"  --alpha A           significance level (default 0.05)\n"
		"  --threshold PCT     smallest change that counts (default 5)\n\n"
		"exit status: 0, or 1 when the newest run of a kernel regressed, 2 bad input.\n");
}

static int by_kernel_then_time(const void *a, const void *b)
{
	const struct run *x = a, *y = b;
	int k = strcmp(x->kernel, y->kernel);

	return k ? k : strcmp(x->started, y->started);
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static json_t *wl_configs(json_t *root, const char *w)
{
	return json_object_get(json_object_get(json_object_get(json_object_get(root, "workloads"),
				w), "result"), "configs");
}

static double cmedian(json_t *c, const char *m)
{
	json_t *v = json_object_get(json_object_get(json_object_get(c, "summary"), m), "median");

	return json_is_number(v) ? json_number_value(v) : -1;
}

/*
 * The medians of configuration @id in up to WINDOW runs before run @j of the
 * same kernel (runs first..j-1), newest first; how many.
 */
static int window(struct run *runs, int first, int j, const char *wname, const char *id,
		  const char *metric, double *out)
{
	int i, n = 0;

	for (i = j - 1; i >= first && n < WINDOW; i--) {
		json_t *c = cl_find_config(wl_configs(runs[i].root, wname), id);
		double m = c ? cmedian(c, metric) : -1;

		if (m > 0)
			out[n++] = m;
	}
	return n;
}

int cmd_history(int argc, char **argv)
{
	enum { OPT_ALPHA = 256, OPT_THRESH };
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' }, { "alpha", required_argument, NULL, OPT_ALPHA },
		{ "threshold", required_argument, NULL, OPT_THRESH }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct run runs[MAX_RUNS];
	const char *out = "history";
	double alpha = 0.05, thresh = 5;
	int nruns = 0, c, i, nfig = 0, latest_bad = 0;
	char err[1024], path[PATH_MAX], cmd[PATH_MAX + 256];
	json_t *wls = json_object();
	const char *wname;
	json_t *dummy;
	FILE *md;

	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case OPT_ALPHA: alpha = atof(optarg); break;
		case OPT_THRESH: thresh = atof(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (alpha <= 0 || alpha >= 1 || thresh < 0) {
		cl_err("history: --alpha must be in (0, 1) and --threshold >= 0");
		return 2;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = optind; i < argc; i++) {
		struct run *r = &runs[nruns];
		json_t *env;

		if (nruns == MAX_RUNS) {
			cl_err("history: at most %d results", MAX_RUNS);
			return 2;
		}
		r->root = cl_results_load(argv[i], err, sizeof(err));
		if (!r->root) {
			cl_err("history: %s", err);
			return 2;
		}
		env = json_object_get(r->root, "environment");
		r->path = argv[i];
		r->kernel = json_string_value(json_object_get(env, "kernel_name")) ?: jstr(env, "kernel");
		r->started = jstr(r->root, "started");
		r->commit = jstr(r->root, "commit");
		json_object_foreach(json_object_get(r->root, "workloads"), wname, dummy)
			json_object_set_new(wls, wname, json_true());
		nruns++;
	}
	qsort(runs, nruns, sizeof(runs[0]), by_kernel_then_time);
	if (mkdir(out, 0755) && errno != EEXIST) {
		cl_err("history: mkdir %s: %s", out, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/history.md", out);
	md = fopen(path, "w");
	if (!md) {
		cl_err("history: %s: %s", path, strerror(errno));
		return 1;
	}
	fprintf(md, "# cowlab history\n\n%d results. Each line: a metric on one kernel, the geometric "
		"mean over configurations of median / median in that kernel's first run (1 = unchanged; "
		"lower is better). Marked runs: a configuration significantly worse than in the run before "
		"(Mann-Whitney U p < %g and change >= %g%%).\n\nRegenerate: `cowlab history -o %s",
		nruns, alpha, thresh, out);
	for (i = optind; i < argc; i++)
		fprintf(md, " %s", argv[i]);
	fprintf(md, "`\n\n");

	json_object_foreach(wls, wname, dummy) {
		FILE *d, *g;
		int block = 0, first, k;
		bool any = false;
		char labels[64][160];
		int nlabels = 0;

		snprintf(path, sizeof(path), "%s/%s.dat", out, wname);
		d = fopen(path, "w");
		snprintf(path, sizeof(path), "%s/%s.gp", out, wname);
		g = fopen(path, "w");
		if (!d || !g) {
			cl_err("history: cannot write in %s", out);
			return 1;
		}
		fprintf(d, "# run_index index regressed  (one block per kernel and metric)\n");
		fprintf(md, "## %s\n\n", wname);
		for (first = 0; first < nruns; first = k) {
			json_t *c0 = wl_configs(runs[first].root, wname), *cc;
			const char *metric;
			json_t *mv;

			for (k = first; k < nruns && !strcmp(runs[k].kernel, runs[first].kernel); k++)
				;
			if (!json_array_size(c0))
				continue;
			/* metrics: those of the first run's first configuration */
			json_object_foreach(json_object_get(json_array_get(c0, 0), "summary"), metric, mv) {
				int j;

				if (nlabels == 64)
					break;
				snprintf(labels[nlabels++], sizeof(labels[0]), "%s %s", runs[first].kernel,
					 metric);
				fprintf(d, "# %s %s\n", runs[first].kernel, metric);
				for (j = first; j < k; j++) {
					json_t *cj = wl_configs(runs[j].root, wname);
					json_t *cp = j > first ? wl_configs(runs[j - 1].root, wname) : NULL;
					double lsum = 0;
					int n = 0, bad = 0;
					size_t ci;

					json_array_foreach(c0, ci, cc) {
						char id[1024];
						json_t *a, *p;
						double m0, mj;

						cl_config_id(cc, id, sizeof(id));
						a = cl_find_config(cj, id);
						m0 = cmedian(cc, metric);
						mj = a ? cmedian(a, metric) : -1;
						if (m0 > 0 && mj > 0) {
							lsum += log(mj / m0);
							n++;
						}
						p = cp ? cl_find_config(cp, id) : NULL;
						if (a && p) {
							size_t n1, n2;
							double *x = cl_samples_of(p, metric, &n1);
							double *y = cl_samples_of(a, metric, &n2);
							double mp = cmedian(p, metric), ch, pv, prev[WINDOW];
							int np = window(runs, first, j, wname, id, metric, prev);

							if (np >= 3) {
								/* the earlier runs' mean, and drift between them */
								mp = 0;
								for (int q = 0; q < np; q++)
									mp += prev[q] / np;
								pv = cl_new_run_p(prev, np, mj);
							} else {
								pv = n1 >= 2 && n2 >= 2 ?
								     cl_mann_whitney_p(x, n1, y, n2) : 1;
							}
							ch = mp > 0 ? 100 * (mj - mp) / mp : 0;
							if (ch >= thresh && pv < alpha) {
								bad = 1;
								fprintf(md, "- **regression** %s, %s (commit %s): %s "
									"`%s` %+.1f%% (%s)\n", runs[j].kernel,
									runs[j].started, runs[j].commit, metric,
									id, ch, runs[j].path);
								if (j == k - 1)
									latest_bad = 1;
							}
							free(x);
							free(y);
						}
					}
					if (n)
						fprintf(d, "%d %.5f %d \"%s\"\n", j - first,
							exp(lsum / n), bad, runs[j].started);
					any |= n > 0;
				}
				fprintf(d, "\n\n");
				block++;
			}
		}
		fclose(d);
		if (!any) {
			fclose(g);
			fprintf(md, "No metric with medians in the first run.\n\n");
			continue;
		}
		fprintf(g, "# %s: regenerate with  gnuplot -e \"term='svg'\" %s.gp  (or term='png')\n"
			"if (!exists(\"term\")) term = 'svg'\n"
			"if (term eq 'png') set terminal pngcairo size 1000,600 font 'sans,10'; "
			"else set terminal svg size 1000,600 dynamic font 'sans,10'\n"
			"set output '%s.'.term\nset title '%s: trend per kernel and metric (1 = first run; "
			"red = significant regression vs the run before)'\n"
			"set xlabel 'run (ordered by start time, per kernel)'\n"
			"set ylabel 'median / first run median (geometric mean over configurations)'\n"
			"set key outside right top\nset grid\nset logscale y\nplot ", wname, wname, wname,
			wname);
		for (i = 0; i < block && i < nlabels; i++)
			fprintf(g, "%s'%s.dat' index %d using 1:2 with linespoints title '%s', '' index %d "
				"using 1:($3 > 0 ? $2 : 1/0) with points pt 7 ps 2 lc rgb 'red' notitle",
				i ? ", " : "", wname, i, labels[i], i);
		fprintf(g, "\n");
		fclose(g);
		/* gnuplot's messages (e.g. "empty y range" for a flat trend) go to a log */
		snprintf(cmd, sizeof(cmd), "cd '%s' && { gnuplot -e \"term='png'\" %s.gp && "
			 "gnuplot -e \"term='svg'\" %s.gp; } 2>%s.gnuplot.log", out, wname, wname,
			 wname);
		if (system(cmd)) {
			cl_err("history: gnuplot failed on %s/%s.gp (is gnuplot-nox installed?): see "
			       "%s/%s.gnuplot.log", out, wname, out, wname);
			return 1;
		}
		fprintf(md, "\n![%s](%s.png)\n\nData `%s.dat`, script `%s.gp`.\n\n", wname, wname, wname,
			wname);
		nfig++;
	}
	fclose(md);
	if (!nfig) {
		cl_err("history: nothing to plot");
		return 1;
	}
	printf("history: %d results, %d figures in %s (history.md)%s\n", nruns, nfig, out,
	       latest_bad ? "; the newest run of a kernel REGRESSED" : "");
	return latest_bad;
}
