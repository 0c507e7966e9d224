// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab kernels: the kernels of one benchmark run side by side, in the manner of mmtests'
 * compare-kernels: for every workload, configuration and metric, the median on each kernel
 * (a column per kernel) and its ratio to the first kernel's; a table (kernels.md,
 * kernels.json) and, per workload and metric, a grouped-bar figure with a bar per kernel.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "lib/jsonout.h"
#include "lib/results.h"
#include "lib/stats.h"
#include "lib/util.h"

#define MAXK 16

struct kern {
	char name[128];		/* the kernel's matrix name, or its directory's */
	char release[128];	/* environment.kernel */
	json_t *root;
};

static void usage(FILE *f)
{
	fputs("usage: cowlab kernels RUN [-o OUTDIR] [-j]\n"
	      "       cowlab kernels DIR DIR... [-o OUTDIR] [-j]\n"
	      "\n"
	      "The kernels of one benchmark run side by side (mmtests compare-kernels style):\n"
	      "per workload, configuration and metric, the median on each kernel and its ratio\n"
	      "to the first kernel's. RUN is a `cowlab bench` output directory with one\n"
	      "subdirectory per kernel (6.1, 6.12, 7.3, ...); or name the result directories.\n"
	      "Writes OUTDIR/kernels.md, kernels.json and, per workload and metric, a grouped-bar\n"
	      "figure (NAME.dat, .gp, .png, .svg; gnuplot) with a bar per kernel.\n"
	      "\n"
	      "  -o, --out DIR   where to write (default: RUN/kernels, or ./kernels)\n"
	      "  -j, --json      the table as JSON on stdout too\n"
	      "\n"
	      "Timings from a TCG guest are emulated: read the ratios between the kernels of one\n"
	      "run, never the absolute values. Exact counts (pages, faults, PTE kB) compare as they are.\n"
	      "Exit status: 0 written, 1 gnuplot failed, 2 bad input.\n", f);
}

static int cmp_name(const void *a, const void *b)
{
	const struct kern *x = a, *y = b;
	int ma = 0, na = 0, mb = 0, nb = 0;

	/* version order: 6.1 < 6.12 < 7.3; a -debug suffix after its base */
	sscanf(x->name, "%d.%d", &ma, &na);
	sscanf(y->name, "%d.%d", &mb, &nb);
	if (ma != mb)
		return ma - mb;
	if (na != nb)
		return na - nb;
	return strcmp(x->name, y->name);
}

static int load(struct kern *k, const char *path, const char *name)
{
	char err[4200];
	const char *rel;

	k->root = cl_results_load(path, err, sizeof(err));
	if (!k->root) {
		cl_err("kernels: %s", err);
		return -1;
	}
	snprintf(k->name, sizeof(k->name), "%s", name);
	rel = json_string_value(json_object_get(json_object_get(k->root, "environment"), "kernel"));
	snprintf(k->release, sizeof(k->release), "%s", rel ? rel : "?");
	return 0;
}

static const char *base_name(const char *p)
{
	static char buf[4096];
	size_t l;
	const char *s;

	snprintf(buf, sizeof(buf), "%s", p);
	l = strlen(buf);
	while (l > 1 && buf[l - 1] == '/')
		buf[--l] = 0;
	s = strrchr(buf, '/');
	return s ? s + 1 : buf;
}

/* The median of @metric in @c: of its samples, else the scalar field itself. */
static bool metric_value(json_t *c, const char *metric, double *out)
{
	struct cl_summary sm;
	size_t n;
	double *x = cl_samples_of(c, metric, &n);
	bool ok = false;

	if (n && !cl_summarize(x, n, &sm)) {
		*out = sm.median;
		ok = true;
	}
	free(x);
	if (!ok && json_is_number(json_object_get(c, metric)) && !json_is_integer(json_object_get(c, metric))) {
		*out = json_number_value(json_object_get(c, metric));
		ok = true;
	}
	return ok;
}

/* Metrics of a configuration: its samples' fields, and its real-valued scalars (ratios). */
static size_t metrics_of(json_t *c, const char **out, size_t max)
{
	json_t *s0 = json_array_get(json_object_get(c, "samples"), 0), *v;
	const char *k;
	size_t n = 0;

	json_object_foreach(s0, k, v)
		if (json_is_number(v) && n < max)
			out[n++] = k;
	json_object_foreach(c, k, v)
		if (json_is_real(v) && n < max)
			out[n++] = k;
	return n;
}

static void fname(char *buf, size_t len, const char *w, const char *m)
{
	size_t i;

	snprintf(buf, len, "k-%s-%s", w, m);
	for (i = 0; buf[i]; i++)
		if (!((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9') ||
		      buf[i] == '-' || buf[i] == '_' || (buf[i] >= 'A' && buf[i] <= 'Z')))
			buf[i] = '_';
}

int cmd_kernels(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", 1, NULL, 'o' }, { "json", 0, NULL, 'j' }, { "help", 0, NULL, 'h' }, { 0 }
	};
	struct kern k[MAXK];
	char out[4096] = "", path[8192];
	int nk = 0, c, i, figs = 0, rc = 0;
	bool json_out = false, tcg = false;
	json_t *table = json_array();
	FILE *md, *gpall;
	const char *wname;
	json_t *wv;

	while ((c = getopt_long(argc, argv, "o:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'o': snprintf(out, sizeof(out), "%s", optarg); break;
		case 'j': json_out = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (argc - optind == 1) {	/* RUN: its subdirectories with a results.json */
		DIR *d = opendir(argv[optind]);
		struct dirent *e;

		if (!d) {
			cl_err("kernels: %s: %s", argv[optind], strerror(errno));
			return 2;
		}
		while ((e = readdir(d)) && nk < MAXK) {
			struct stat st;

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s/results.json", argv[optind], e->d_name);
			if (stat(path, &st))
				continue;
			if (load(&k[nk], path, e->d_name)) {
				closedir(d);
				return 2;
			}
			nk++;
		}
		closedir(d);
		if (!out[0])
			snprintf(out, sizeof(out), "%s/kernels", argv[optind]);
	} else {
		for (i = optind; i < argc && nk < MAXK; i++, nk++)
			if (load(&k[nk], argv[i], base_name(argv[i])))
				return 2;
		if (!out[0])
			snprintf(out, sizeof(out), "kernels");
	}
	if (nk < 2) {
		cl_err("kernels: %d result%s found: at least two kernels are needed", nk, nk == 1 ? "" : "s");
		return 2;
	}
	qsort(k, nk, sizeof(k[0]), cmp_name);
	for (i = 0; i < nk; i++) {
		const char *a = json_string_value(json_object_get(json_object_get(k[i].root,
								"environment"), "accel"));

		tcg |= a && !strcmp(a, "tcg");
		if (strcmp(cl_clock_of(k[i].root), cl_clock_of(k[0].root))) {
			cl_err("kernels: %s has %s times, %s has %s times: not comparable",
			       k[0].name, cl_clock_of(k[0].root), k[i].name, cl_clock_of(k[i].root));
			return 2;
		}
	}
	if (mkdir(out, 0755) && errno != EEXIST) {
		cl_err("kernels: %s: %s", out, strerror(errno));
		return 2;
	}
	snprintf(path, sizeof(path), "%s/kernels.md", out);
	md = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/kernels.gp", out);
	gpall = fopen(path, "w");
	if (!md || !gpall) {
		cl_err("kernels: cannot write in %s", out);
		return 2;
	}
	fprintf(md, "# Kernels side by side\n\n");
	fprintf(md, "Median per kernel; in brackets the ratio to %s. %s\n\n", k[0].name,
		tcg ? "The runs are in QEMU TCG: timings are emulated, so read only the ratios "
		      "between kernels, never the absolute values; exact counts are exact." : "");
	fprintf(md, "| kernel | release |\n|---|---|\n");
	for (i = 0; i < nk; i++)
		fprintf(md, "| %s | %s |\n", k[i].name, k[i].release);
	fprintf(md, "\nReproduce: `cowlab kernels RUN` over the output of `cowlab bench` (`make bench`).\n");

	json_object_foreach(json_object_get(k[0].root, "workloads"), wname, wv) {
		json_t *cfgs = json_object_get(json_object_get(wv, "result"), "configs"), *c0;
		const char *ms[64];
		size_t nm, m, ci;

		if (!json_array_size(cfgs))
			continue;
		nm = metrics_of(json_array_get(cfgs, 0), ms, 64);
		for (m = 0; m < nm; m++) {
			char fn[256], id[1024];
			FILE *dat;
			int rows = 0;

			fname(fn, sizeof(fn), wname, ms[m]);
			snprintf(path, sizeof(path), "%s/%s.dat", out, fn);
			dat = fopen(path, "w");
			if (!dat)
				continue;
			fprintf(md, "\n## %s: %s\n\n| configuration |", wname, ms[m]);
			fprintf(dat, "config");
			for (i = 0; i < nk; i++) {
				fprintf(md, " %s |", k[i].name);
				fprintf(dat, " %s", k[i].name);
			}
			fprintf(md, "\n|---|");
			for (i = 0; i < nk; i++)
				fprintf(md, "---:|");
			fprintf(md, "\n");
			fprintf(dat, "\n");
			json_array_foreach(cfgs, ci, c0) {
				double v[MAXK];
				bool have[MAXK];
				json_t *row = json_object(), *vals = json_object();

				cl_config_id(c0, id, sizeof(id));
				fprintf(md, "| %s |", id);
				fprintf(dat, "\"%s\"", id);
				for (i = 0; i < nk; i++) {
					json_t *ck = cl_find_config(json_object_get(json_object_get(
						json_object_get(json_object_get(k[i].root, "workloads"), wname),
						"result"), "configs"), id);

					have[i] = ck && metric_value(ck, ms[m], &v[i]);
					if (!have[i]) {
						fprintf(md, " - |");
						fprintf(dat, " NaN");
						continue;
					}
					json_object_set_new(vals, k[i].name, json_real(v[i]));
					if (i && have[0] && v[0] != 0)
						fprintf(md, " %.4g (x%.2f) |", v[i], v[i] / v[0]);
					else
						fprintf(md, " %.4g |", v[i]);
					fprintf(dat, " %.6g", v[i]);
				}
				fprintf(md, "\n");
				fprintf(dat, "\n");
				json_object_set_new(row, "workload", json_string(wname));
				json_object_set_new(row, "config", json_string(id));
				json_object_set_new(row, "metric", json_string(ms[m]));
				json_object_set_new(row, "median", vals);
				json_array_append_new(table, row);
				rows++;
			}
			fclose(dat);
			if (!rows)
				continue;
			/* a grouped-bar figure: configurations on x, a bar per kernel */
			fprintf(gpall, "set terminal pngcairo size 1000,520 noenhanced\n"
				"set output '%s.png'\n", fn);
			fprintf(gpall, "set title '%s: %s (median per kernel)%s'\n", wname, ms[m],
				tcg && cl_is_time_metric(ms[m]) ? ", TCG: compare ratios only" : "");
			fprintf(gpall, "set style data histograms\nset style histogram clustered gap 1\n"
				"set style fill solid 0.8 border -1\nset key outside right top\n"
				"set xtics rotate by -30 font ',8'\nset yrange [0:*]\nset grid ytics\n");
			fprintf(gpall, "plot for [i=2:%d] '%s.dat' using i:xtic(1) title columnheader(i)\n",
				nk + 1, fn);
			fprintf(gpall, "set terminal svg size 1000,520 noenhanced\nset output '%s.svg'\nreplot\n",
				fn);
			fprintf(md, "\n![%s %s](%s.png)\n", wname, ms[m], fn);
			figs++;
		}
	}
	fclose(md);
	fclose(gpall);
	snprintf(path, sizeof(path), "%s/kernels.json", out);
	{
		json_t *doc = json_object(), *ks = json_array();

		for (i = 0; i < nk; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "name", json_string(k[i].name));
			json_object_set_new(o, "release", json_string(k[i].release));
			json_array_append_new(ks, o);
		}
		json_object_set_new(doc, "kernels", ks);
		json_object_set_new(doc, "emulated_timings", json_boolean(tcg));
		json_object_set(doc, "rows", table);
		json_dump_file(doc, path, JSON_INDENT(1) | JSON_SORT_KEYS);
		if (json_out) {
			json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
			putchar('\n');
		}
		json_decref(doc);
	}
	if (figs) {
		snprintf(path, sizeof(path), "cd '%s' && gnuplot kernels.gp 2>gnuplot.err", out);
		if (system(path)) {
			cl_err("kernels: gnuplot failed (see %s/gnuplot.err)", out);
			rc = 1;
		}
	}
	fprintf(stderr, "kernels: %d kernels, %zu rows, %d figures in %s/kernels.md\n", nk,
		json_array_size(table), figs, out);
	json_decref(table);
	for (i = 0; i < nk; i++)
		json_decref(k[i].root);
	return rc;
}
