// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab report DIR: figures (gnuplot, PNG and SVG) and report.md / report.html
 * from one results directory, from this machine or another.
 *
 * Each figure is three files beside the images: NAME.dat (the plotted
 * numbers, with a header naming the columns), NAME.gp (the gnuplot script) and
 * the command that regenerates both images, written in report.md:
 *   gnuplot -e "term='svg'" NAME.gp     (or term='png')
 * A figure whose workload is absent from the results is listed as such; a
 * report with no figure at all is an error, never a silent empty report.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "jsonout.h"
#include "results.h"
#include "util.h"

struct fig {
	char name[64];
	char title[200];
	char caption[512];
};

struct report {
	const char *out;		/* output directory */
	json_t *root, *wl;
	bool emulated;
	bool icount;			/* emulated, with an instruction-counted clock */
	char where[256];		/* "kernel 6.12.117, QEMU TCG (emulated times)" */
	struct fig figs[24];
	int nfigs;
	char missing[1024];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab report DIR [-o OUTDIR]\n\n"
		"Figures and a report from DIR/results.json (cowlab bench): fork latency and page\n"
		"tables vs RSS, COW-fault latency CDFs, cow-ahead trap and time ratios by window\n"
		"and pattern, refork cost vs changed fraction beside a full re-fork, the speculative\n"
		"swapping workload, swap latency CDFs, probe overhead, the lazy page-table model\n"
		"(lazyfork), swap-slot allocation vs fill (swapfrag). Writes NAME.dat, NAME.gp,\n"
		"NAME.png and NAME.svg per figure, report.md and a self-contained report.html.\n\n"
		"  -o, --out DIR   where to write (default: DIR/report)\n\n"
		"exit status: 0 written, 1 nothing to plot or gnuplot failed, 2 bad input.\n");
}

static json_t *configs(struct report *r, const char *w)
{
	return json_object_get(json_object_get(json_object_get(r->wl, w), "result"), "configs");
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static double median(json_t *c, const char *metric)
{
	json_t *m = json_object_get(json_object_get(c, "summary"), metric);

	return json_is_number(json_object_get(m, "median")) ? num(m, "median") : -1;
}

static FILE *open_out(struct report *r, const char *name, const char *ext)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", r->out, name, ext);
	f = fopen(path, "w");
	if (!f)
		cl_err("report: %s: %s", path, strerror(errno));
	return f;
}

/* The common head of every script: terminal from `term`, honest title. */
static void gp_head(struct report *r, FILE *g, const char *name, const char *title)
{
	fprintf(g, "# %s: regenerate with  gnuplot -e \"term='svg'\" %s.gp  (or term='png')\n"
		"if (!exists(\"term\")) term = 'svg'\n"
		"if (term eq 'png') set terminal pngcairo size 900,560 font 'sans,10'; "
		"else set terminal svg size 900,560 dynamic font 'sans,10'\n"
		"set output '%s.'.term\n"
		"set title \"%s\\n{/*0.8 %s}\"\n"
		"set key outside right top noenhanced\nset grid\n", title, name, name, title, r->where);
}

static void add_fig(struct report *r, const char *name, const char *title, const char *caption)
{
	struct fig *f = &r->figs[r->nfigs++];

	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->title, sizeof(f->title), "%s", title);
	snprintf(f->caption, sizeof(f->caption), "%s", caption);
}

static void missing(struct report *r, const char *what)
{
	size_t o = strlen(r->missing);

	snprintf(r->missing + o, sizeof(r->missing) - o, "%s%s", o ? "; " : "", what);
}

/* ---- figures ---------------------------------------------------------------- */

static void fig_fork(struct report *r)
{
	static const char *const variants[] = { "fork", "forkexec", "vfork", "spawn", "clonevm" };
	static const char *const thp[] = { "never", "always" };
	json_t *cs = configs(r, "forkbench"), *c;
	int ncol = 0, cols[10][2], v, t;
	double sizes[64];
	int nsizes = 0, i, k;
	size_t j;
	FILE *d, *g, *d2, *g2;

	if (!json_array_size(cs)) {
		missing(r, "forkbench (fork latency and page tables vs RSS)");
		return;
	}
	json_array_foreach(cs, j, c) {
		double s = num(c, "size_bytes");

		if (strcmp(str(c, "layout"), "dense"))
			continue;
		for (i = 0; i < nsizes && sizes[i] != s; i++)
			;
		if (i == nsizes && nsizes < 64)
			sizes[nsizes++] = s;
	}
	for (v = 0; v < 5; v++)
		for (t = 0; t < 2; t++) {
			json_array_foreach(cs, j, c)
				if (!strcmp(str(c, "variant"), variants[v]) && !strcmp(str(c, "thp"), thp[t]) &&
				    !strcmp(str(c, "layout"), "dense"))
					break;
			if (j < json_array_size(cs)) {
				cols[ncol][0] = v;
				cols[ncol++][1] = t;
			}
		}
	d = open_out(r, "fork_latency", "dat");
	d2 = open_out(r, "page_tables", "dat");
	if (!d || !d2)
		return;
	fprintf(d, "size_MiB");
	for (k = 0; k < ncol; k++)
		fprintf(d, " %s:thp-%s", variants[cols[k][0]], thp[cols[k][1]]);
	fprintf(d, "\n");
	fprintf(d2, "# size_MiB fork/thp-never_pte_kB fork/thp-always_pte_kB\n");
	for (i = 0; i < nsizes; i++) {
		double pk[2] = { -1, -1 };

		fprintf(d, "%g", sizes[i] / (1 << 20));
		for (k = 0; k < ncol; k++) {
			double m = -1;

			json_array_foreach(cs, j, c)
				if (num(c, "size_bytes") == sizes[i] &&
				    !strcmp(str(c, "variant"), variants[cols[k][0]]) &&
				    !strcmp(str(c, "thp"), thp[cols[k][1]]) && !strcmp(str(c, "layout"), "dense"))
					m = median(c, "call_us");
			fprintf(d, m < 0 ? " NaN" : " %.1f", m);
		}
		fprintf(d, "\n");
		json_array_foreach(cs, j, c)
			if (num(c, "size_bytes") == sizes[i] && !strcmp(str(c, "variant"), "fork") &&
			    !strcmp(str(c, "layout"), "dense"))
				pk[!strcmp(str(c, "thp"), "always")] = num(c, "pte_kb");
		fprintf(d2, "%g", sizes[i] / (1 << 20));
		fprintf(d2, pk[0] < 0 ? " NaN" : " %.0f", pk[0]);
		fprintf(d2, pk[1] < 0 ? " NaN\n" : " %.0f\n", pk[1]);
	}
	fclose(d);
	fclose(d2);

	g = open_out(r, "fork_latency", "gp");
	g2 = open_out(r, "page_tables", "gp");
	if (!g || !g2)
		return;
	gp_head(r, g, "fork_latency", "Process creation latency vs parent RSS (dense layout)");
	fprintf(g, "set xlabel 'parent RSS (MiB)'\nset ylabel 'latency in the parent (us, median)'\n"
		"set logscale y\nplot for [i=2:%d] 'fork_latency.dat' using 1:i with linespoints "
		"title columnhead(i)\n", ncol + 1);
	fclose(g);
	gp_head(r, g2, "page_tables", "Page tables of the parent vs its RSS (what fork copies)");
	fprintf(g2, "set xlabel 'parent RSS (MiB)'\nset ylabel 'page tables (kB)'\n"
		"plot 'page_tables.dat' using 1:2 with linespoints title '4 KiB pages (THP never)', "
		"'' using 1:3 with linespoints title 'THP always'\n");
	fclose(g2);
	add_fig(r, "fork_latency", "Fork latency vs RSS",
		"forkbench: median latency in the parent of each way to create a process, by parent RSS, "
		"THP never and always (one line each).");
	add_fig(r, "page_tables", "Page tables vs RSS",
		"forkbench: the parent's page-table size at each RSS (fork copies them; per-fork "
		"copy time is in the BPF histogram `copy_page_range.fork` of results.json).");
}

/* A CDF from a BPF histogram's buckets: "upper_bound cumulative_fraction" lines. */
static int write_cdf(FILE *d, json_t *h)
{
	json_t *b = json_object_get(h, "buckets"), *e;
	double total = num(h, "count"), acc = 0;
	size_t i;

	if (total <= 0 || !json_array_size(b))
		return -1;
	json_array_foreach(b, i, e) {
		acc += json_number_value(json_array_get(e, 2));
		fprintf(d, "%g %.5f\n", json_number_value(json_array_get(e, 1)), acc / total);
	}
	fprintf(d, "\n\n");
	return 0;
}

static void fig_cdf(struct report *r, const char *name, const char *workload,
		    const char *const *hists, const char *const *labels, int nh, const char *title,
		    const char *caption)
{
	json_t *hs = json_object_get(json_object_get(json_object_get(r->wl, workload), "bpf"),
				     "histograms");
	const char *unit = NULL;
	int k, n = 0, idx[8];
	FILE *d, *g;
	char what[128];

	for (k = 0; k < nh; k++) {
		json_t *h = json_object_get(hs, hists[k]);

		if (num(h, "count") > 0) {
			idx[n++] = k;
			unit = unit ?: str(h, "unit");
		}
	}
	if (!n) {
		snprintf(what, sizeof(what), "%s (no %s histogram with samples)", title, workload);
		missing(r, what);
		return;
	}
	d = open_out(r, name, "dat");
	g = open_out(r, name, "gp");
	if (!d || !g)
		return;
	fprintf(d, "# latency_upper_bound cumulative_fraction; one block per histogram\n");
	for (k = 0; k < n; k++) {
		fprintf(d, "# %s (%s, n=%.0f)\n", hists[idx[k]], workload,
			num(json_object_get(hs, hists[idx[k]]), "count"));
		write_cdf(d, json_object_get(hs, hists[idx[k]]));
	}
	fclose(d);
	gp_head(r, g, name, title);
	fprintf(g, "set xlabel 'latency (%s, log scale)'\nset ylabel 'fraction of events <= x'\n"
		"set logscale x\nset yrange [0:1]\nset key right bottom inside\nplot ", unit);
	for (k = 0; k < n; k++)
		fprintf(g, "%s'%s.dat' index %d using 1:2 with steps lw 2 title '%s (n=%.0f)'",
			k ? ", " : "", name, k, labels[idx[k]],
			num(json_object_get(hs, hists[idx[k]]), "count"));
	fprintf(g, "\n");
	fclose(g);
	add_fig(r, name, title, caption);
}

static void fig_cowahead(struct report *r)
{
	json_t *cs = configs(r, "cowbench"), *c;
	const char *pats[8], *modes[16];
	int np = 0, nm = 0, i, k, m;
	size_t j;
	FILE *d, *g;

	json_array_foreach(cs, j, c) {
		for (i = 0; i < np && strcmp(pats[i], str(c, "pattern")); i++)
			;
		if (i == np && np < 8)
			pats[np++] = str(c, "pattern");
		for (i = 0; i < nm && strcmp(modes[i], str(c, "mode")); i++)
			;
		if (i == nm && nm < 16)
			modes[nm++] = str(c, "mode");
	}
	if (!np) {
		missing(r, "cowbench (cow-ahead trap and time ratios)");
		return;
	}
	d = open_out(r, "cowahead", "dat");
	g = open_out(r, "cowahead", "gp");
	if (!d || !g)
		return;
	fprintf(d, "mode");
	for (k = 0; k < np; k++)
		fprintf(d, " %s:traps %s:write-time", pats[k], pats[k]);
	fprintf(d, "\n");
	for (m = 0; m < nm; m++) {
		fprintf(d, "%s", modes[m]);
		for (k = 0; k < np; k++) {
			double tr = -1, ti = -1;

			json_array_foreach(cs, j, c)
				if (!strcmp(str(c, "pattern"), pats[k]) && !strcmp(str(c, "mode"), modes[m])) {
					tr = num(c, "trap_ratio_to_off");
					ti = num(c, "time_ratio_to_off");
				}
			fprintf(d, tr < 0 ? " NaN NaN" : " %.4f %.4f", tr, ti);
		}
		fprintf(d, "\n");
	}
	fclose(d);
	gp_head(r, g, "cowahead", "cow-ahead: COW traps and write time, relative to off");
	fprintf(g, "set style data histogram\nset style histogram cluster gap 1\n"
		"set style fill solid 0.8 border -1\nset boxwidth 0.9\nset yrange [0:*]\n"
		"set xlabel 'mode (off, fixed window in pages, adaptiveN, populate = MADV_POPULATE_WRITE)' noenhanced\n"
		"set ylabel 'ratio to mode off (1 = no change; lower is better)'\n"
		"plot for [i=2:%d] 'cowahead.dat' using i:xtic(1) title columnhead(i)\n", 2 * np + 1);
	fclose(g);
	add_fig(r, "cowahead", "cow-ahead by window and pattern",
		"cowbench: per write pattern, the write-protect traps (exact counts, by BPF) and the time "
		"to write the pages after fork, each divided by mode off's.");
}

static void fig_refork(struct report *r)
{
	json_t *cs = configs(r, "reforkbench"), *c;
	double sizes[8];
	const char *chg[8];
	int ns = 0, nc = 0, i, k;
	size_t j;
	FILE *d, *g;

	json_array_foreach(cs, j, c) {
		if (strcmp(str(c, "kind"), "refork"))
			continue;
		for (i = 0; i < ns && sizes[i] != num(c, "size_bytes"); i++)
			;
		if (i == ns && ns < 8)
			sizes[ns++] = num(c, "size_bytes");
		for (i = 0; i < nc && strcmp(chg[i], str(c, "changed")); i++)
			;
		if (i == nc && nc < 8)
			chg[nc++] = str(c, "changed");
	}
	if (!ns) {
		missing(r, json_object_get(json_object_get(r->wl, "reforkbench"), "result") ?
			"reforkbench (no refork configurations: module without refork?)" :
			"reforkbench (refork cost vs changed fraction)");
		return;
	}
	d = open_out(r, "refork", "dat");
	g = open_out(r, "refork", "gp");
	if (!d || !g)
		return;
	fprintf(d, "changed");
	for (k = 0; k < ns; k++)
		fprintf(d, " refork:%gMiB full-re-fork:%gMiB", sizes[k] / (1 << 20), sizes[k] / (1 << 20));
	fprintf(d, "\n");
	for (i = 0; i < nc; i++) {
		fprintf(d, "%s", chg[i]);
		for (k = 0; k < ns; k++) {
			double rf = -1, full = -1;

			json_array_foreach(cs, j, c) {
				if (num(c, "size_bytes") != sizes[k])
					continue;
				/*
				 * A full re-fork after the same changes; results before that
				 * measured one full re-fork per size, without "changed".
				 */
				if (!strcmp(str(c, "kind"), "full_refork")) {
					if (!json_object_get(c, "changed") || !strcmp(str(c, "changed"), chg[i]))
						full = median(c, "us");
				} else if (!strcmp(str(c, "kind"), "refork") &&
					   !strcmp(str(c, "changed"), chg[i])) {
					rf = median(c, "us");
				}
			}
			fprintf(d, rf < 0 ? " NaN" : " %.1f", rf);
			fprintf(d, full < 0 ? " NaN" : " %.1f", full);
		}
		fprintf(d, "\n");
	}
	fclose(d);
	gp_head(r, g, "refork", "Re-synchronising a speculative child: refork vs full re-fork");
	fprintf(g, "set xlabel 'pages P changed since the last sync'\n"
		"set ylabel 'time in P (us, median, log scale)'\nset logscale y\n"
		"plot for [k=0:%d] 'refork.dat' using (column(2+2*k)):xtic(1) with linespoints lw 2 "
		"title columnhead(2+2*k), for [k=0:%d] '' using (column(3+2*k)) with lines dt 2 "
		"title columnhead(3+2*k)\n", ns - 1, ns - 1);
	fclose(g);
	add_fig(r, "refork", "refork cost vs changed fraction",
		"reforkbench: COWLAB_IOC_REFORK after P changed that fraction of its pages (solid), and "
		"killing, reaping and forking the child again after the same changes (dashed), per "
		"parent size.");
}

static void fig_specswap(struct report *r)
{
	json_t *cs = configs(r, "specswap"), *c;
	size_t j;
	FILE *d, *g;

	if (!json_array_size(cs)) {
		missing(r, "specswap (the speculative swapping workload)");
		return;
	}
	d = open_out(r, "specswap", "dat");
	g = open_out(r, "specswap", "gp");
	if (!d || !g)
		return;
	fprintf(d, "# mode runtime_ms stall_ms\n");
	json_array_foreach(cs, j, c)
		fprintf(d, "%s %.1f %.1f\n", str(c, "mode"), median(c, "runtime_ms"),
			median(c, "stall_ms"));
	fclose(d);
	gp_head(r, g, "specswap", "Swapping tree walk with a speculative prefetching child");
	fprintf(g, "set style data histogram\nset style histogram cluster gap 1\n"
		"set style fill solid 0.8 border -1\nset yrange [0:*]\n"
		"set xlabel 'speculation (none; naive: kill+fork at each miss; refork)'\n"
		"set ylabel 'P (ms, median)'\n"
		"plot 'specswap.dat' using 2:xtic(1) title 'runtime', '' using 3 title "
		"'stalled in record reads'\n");
	fclose(g);
	add_fig(r, "specswap", "specswap: speculation by refork",
		"specswap: the parent's runtime and its time stalled in swap-ins, with no speculative "
		"child, one re-forked at every miss, or one re-synchronised with refork.");
}

static void fig_overhead(struct report *r)
{
	json_t *cs = configs(r, "traceoverhead"), *c;
	size_t j;
	FILE *d, *g;

	if (!json_array_size(cs)) {
		missing(r, "traceoverhead (probe overhead)");
		return;
	}
	d = open_out(r, "overhead", "dat");
	g = open_out(r, "overhead", "gp");
	if (!d || !g)
		return;
	fprintf(d, "# loop overhead_pct low_pct high_pct target_pct\n");
	json_array_foreach(cs, j, c) {
		bool ci = json_is_number(json_object_get(c, "ci95_low_pct"));

		fprintf(d, "%s %.2f %.2f %.2f %.1f\n", str(c, "loop"), num(c, "overhead_pct"),
			num(c, ci ? "ci95_low_pct" : "range_low_pct"),
			num(c, ci ? "ci95_high_pct" : "range_high_pct"), num(c, "target_pct"));
	}
	fclose(d);
	gp_head(r, g, "overhead", "What the probes cost (all probes attached, no filter)");
	fprintf(g, "set style fill solid 0.6 border -1\nset boxwidth 0.5\n"
		"set ylabel 'time added per operation (%%, median of paired blocks)'\n"
		"set xlabel 'loop'\nset xrange [-0.6:%zu.6]\n"
		"plot 'overhead.dat' using 0:2:xtic(1) with boxes title 'overhead', "
		"'' using 0:2:3:4 with yerrorbars lc rgb 'black' title '95%% CI (or range)', "
		"'' using 0:5 with points pt 7 ps 1.5 title 'target'\n", json_array_size(cs) - 1);
	fclose(g);
	add_fig(r, "overhead", "Probe overhead",
		"traceoverhead: relative cost of a fork loop and a COW loop with every probe attached, "
		"from alternating off/on blocks; error bars: distribution-free 95% CI of the median.");
}

static void fig_lazyfork(struct report *r)
{
	json_t *model = json_object_get(json_object_get(json_object_get(r->wl, "lazyfork"),
					"result"), "model");
	json_t *pred = json_object_get(model, "predictions"), *c;
	double sizes[16], fr[32];
	int ns = 0, nf = 0, i, k;
	size_t j;
	FILE *d, *g;

	json_array_foreach(pred, j, c) {
		for (i = 0; i < ns && sizes[i] != num(c, "size_bytes"); i++)
			;
		if (i == ns && ns < 16)
			sizes[ns++] = num(c, "size_bytes");
		for (i = 0; i < nf && fr[i] != num(c, "fraction"); i++)
			;
		if (i == nf && nf < 32)
			fr[nf++] = num(c, "fraction");
	}
	if (!ns) {
		missing(r, "lazyfork (the lazy page-table model)");
		return;
	}
	d = open_out(r, "lazyfork", "dat");
	g = open_out(r, "lazyfork", "gp");
	if (!d || !g)
		return;
	fprintf(d, "fraction");
	for (k = 0; k < ns; k++)
		fprintf(d, " lazy:%gMiB eager:%gMiB", sizes[k] / (1 << 20), sizes[k] / (1 << 20));
	fprintf(d, "\n");
	for (i = 0; i < nf; i++) {
		fprintf(d, "%g", fr[i] * 100);
		for (k = 0; k < ns; k++) {
			double lz = -1, eg = -1;

			json_array_foreach(pred, j, c)
				if (num(c, "size_bytes") == sizes[k] && num(c, "fraction") == fr[i]) {
					lz = num(c, "lazy_total_us") / 1e3;
					eg = num(c, "eager_total_us") / 1e3;
				}
			fprintf(d, lz < 0 ? " NaN NaN" : " %.4f %.4f", lz, eg);
		}
		fprintf(d, "\n");
	}
	fclose(d);
	gp_head(r, g, "lazyfork", "Lazy, shared page tables at fork: predicted cost");
	fprintf(g, "set xlabel 'page tables written after the fork (%%, log scale)'\n"
		"set ylabel 'fork + unsharing (ms, model; log scale)'\nset logscale xy\n"
		"plot for [k=0:%d] 'lazyfork.dat' using 1:(column(2+2*k)) with linespoints lw 2 "
		"lc k+1 title columnhead(2+2*k), for [k=0:%d] '' using 1:(column(3+2*k)) with lines "
		"dt 2 lc k+1 title columnhead(3+2*k)\n", ns - 1, ns - 1);
	fclose(g);
	add_fig(r, "lazyfork", "lazy page tables: fork + unsharing vs tables written",
		"lazyfork's model: a fork that shares page tables and copies one at its first write "
		"(solid), against today's eager copy (dashed), per parent size, from the measured "
		"per-table copy time and the kernel's own cost of a first fault into a lazy table; "
		"results.json model.validation has its check on MAP_SHARED with the error.");
}

static void fig_swapfrag(struct report *r)
{
	json_t *res = json_object_get(json_object_get(r->wl, "swapfrag"), "result");
	json_t *cs = json_object_get(res, "configs"), *c;
	const char *fr[8];
	int fills[32], nfr = 0, nfl = 0, i, k;
	size_t j;
	FILE *d, *g;
	char title[160];

	json_array_foreach(cs, j, c) {
		for (i = 0; i < nfr && strcmp(fr[i], str(c, "frag")); i++)
			;
		if (i == nfr && nfr < 8)
			fr[nfr++] = str(c, "frag");
		for (i = 0; i < nfl && fills[i] != (int)num(c, "fill_pct"); i++)
			;
		if (i == nfl && nfl < 32)
			fills[nfl++] = (int)num(c, "fill_pct");
	}
	if (!nfr) {
		missing(r, "swapfrag (swap-slot allocation vs fill)");
		return;
	}
	d = open_out(r, "swapfrag", "dat");
	g = open_out(r, "swapfrag", "gp");
	if (!d || !g)
		return;
	fprintf(d, "fill");
	for (k = 0; k < nfr; k++)
		fprintf(d, " frag=%s", fr[k]);
	fprintf(d, "\n");
	for (i = 0; i < nfl; i++) {
		fprintf(d, "%d", fills[i]);
		for (k = 0; k < nfr; k++) {
			double v = -1;

			json_array_foreach(cs, j, c)
				if (!strcmp(str(c, "frag"), fr[k]) && (int)num(c, "fill_pct") == fills[i])
					v = median(c, "alloc_ns_per_slot");
			fprintf(d, v < 0 ? " NaN" : " %.1f", v);
		}
		fprintf(d, "\n");
	}
	fclose(d);
	{
		/* the function's name, its underscores escaped from gnuplot's enhanced text */
		const char *fn = str(json_object_get(res, "params"), "alloc_function");
		char esc[96];
		size_t o = 0;

		for (; *fn && o < sizeof(esc) - 4; fn++) {
			if (*fn == '_') {
				esc[o++] = '\\';
				esc[o++] = '\\';
			}
			esc[o++] = *fn;
		}
		esc[o] = 0;
		snprintf(title, sizeof(title), "Swap-slot allocation as the device fills (%s)", esc);
	}
	gp_head(r, g, "swapfrag", title);
	fprintf(g, "set xlabel 'swap device in use (%%)'\nset yrange [0:*]\n"
		"set ylabel 'allocator time per slot swapped out (ns, median)'\n"
		"plot for [k=2:%d] 'swapfrag.dat' using 1:k with linespoints lw 2 title columnhead(k)\n",
		nfr + 1);
	fclose(g);
	add_fig(r, "swapfrag", "swap-slot allocation vs fill and fragmentation",
		"swapfrag: the slot allocator's time (BPF on the function named in the title) per page "
		"swapped out, as its own zram device fills, with no holes, every k-th page freed, or "
		"random frees.");
}

/* ---- output ------------------------------------------------------------------ */

static int run_gnuplot(struct report *r)
{
	char cmd[PATH_MAX + 512];
	int i;

	if (system("command -v gnuplot >/dev/null 2>&1")) {
		cl_err("report: gnuplot not found (Debian: apt-get install gnuplot-nox)");
		return -1;
	}
	for (i = 0; i < r->nfigs; i++) {
		snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot -e \"term='png'\" %s.gp && "
			 "gnuplot -e \"term='svg'\" %s.gp", r->out, r->figs[i].name, r->figs[i].name);
		if (system(cmd)) {
			cl_err("report: gnuplot failed on %s/%s.gp", r->out, r->figs[i].name);
			return -1;
		}
	}
	return 0;
}

static void html_escape(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		default: fputc(*s, f);
		}
}

static int write_docs(struct report *r, const char *src)
{
	json_t *env = json_object_get(r->root, "environment");
	FILE *md = open_out(r, "report", "md"), *h = open_out(r, "report", "html");
	char path[PATH_MAX], buf[8192];
	int i;

	if (!md || !h)
		return -1;
	fprintf(md, "# cowlab report\n\nFrom `%s` (suite %s, commit %s, started %s).\n\n"
		"Environment: %s.\n\n", src, str(r->root, "suite"), str(r->root, "commit"),
		str(r->root, "started"), r->where);
	if (r->icount)
		fprintf(md, "**Times are instruction counts** (QEMU TCG, `-icount shift=0`: 1 ns per "
			"instruction): repeatable between runs, blind to cache and TLB misses and memory "
			"bandwidth; not hardware numbers. Counts are exact.\n\n");
	else if (r->emulated)
		fprintf(md, "**Timings are emulated** (QEMU TCG): compare configurations of this run with "
			"each other, by ratio; do not read them as hardware numbers. Counts are exact.\n\n");
	fprintf(md, "Regenerate everything: `cowlab report %s -o %s`. Regenerate one figure: "
		"`cd %s && gnuplot -e \"term='svg'\" NAME.gp` (or `term='png'`).\n\n",
		src, r->out, r->out);
	fprintf(h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cowlab report</title>"
		"<style>body{font-family:sans-serif;max-width:960px;margin:auto}"
		"figure{margin:2em 0}figcaption{color:#333}code{background:#eee}</style></head><body>\n"
		"<h1>cowlab report</h1>\n<p>From <code>");
	html_escape(h, src);
	fprintf(h, "</code> (suite %s, commit %s, started %s). Environment: ", str(r->root, "suite"),
		str(r->root, "commit"), str(r->root, "started"));
	html_escape(h, r->where);
	fprintf(h, ".</p>\n");
	if (r->icount)
		fprintf(h, "<p><b>Times are instruction counts</b> (QEMU TCG, icount: 1 ns per "
			"instruction): repeatable, blind to cache and TLB misses; not hardware numbers. "
			"Counts are exact.</p>\n");
	else if (r->emulated)
		fprintf(h, "<p><b>Timings are emulated</b> (QEMU TCG): compare configurations of this run "
			"by ratio; they are not hardware numbers. Counts are exact.</p>\n");
	for (i = 0; i < r->nfigs; i++) {
		struct fig *f = &r->figs[i];
		FILE *svg;
		size_t n;

		fprintf(md, "## %s\n\n![%s](%s.png)\n\n%s\n\nData: [`%s.dat`](%s.dat), script: "
			"[`%s.gp`](%s.gp), vector: [`%s.svg`](%s.svg).\n\n", f->title, f->title, f->name,
			f->caption, f->name, f->name, f->name, f->name, f->name, f->name);
		fprintf(h, "<figure><h2>");
		html_escape(h, f->title);
		fprintf(h, "</h2>\n");
		snprintf(path, sizeof(path), "%s/%s.svg", r->out, f->name);
		svg = fopen(path, "r");
		if (!svg) {
			cl_err("report: %s: %s", path, strerror(errno));
			return -1;
		}
		/* Inline the SVG (skipping its XML prolog): the page needs no other file. */
		while (fgets(buf, sizeof(buf), svg))
			if (strncmp(buf, "<?xml", 5) && strncmp(buf, "<!DOCTYPE", 9) &&
			    strncmp(buf, " \"http://www.w3.org", 19))
				break;
		fputs(buf, h);
		while ((n = fread(buf, 1, sizeof(buf), svg)) > 0)
			fwrite(buf, 1, n, h);
		fclose(svg);
		fprintf(h, "<figcaption>");
		html_escape(h, f->caption);
		fprintf(h, " Data: <code>%s.dat</code>; script: <code>%s.gp</code>.</figcaption></figure>\n",
			f->name, f->name);
	}
	if (r->missing[0]) {
		fprintf(md, "## Not in these results\n\n%s.\n", r->missing);
		fprintf(h, "<h2>Not in these results</h2><p>");
		html_escape(h, r->missing);
		fprintf(h, ".</p>\n");
	}
	fprintf(h, "</body></html>\n");
	(void)env;
	fclose(md);
	fclose(h);
	return 0;
}

int cmd_report(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const cow_h[] = { "cow.copy", "cow.reuse", "cow.shared" };
	static const char *const cow_l[] = { "COW fault, page copied", "COW fault, page reused",
					     "write fault on a shared mapping" };
	static const char *const swap_h[] = { "swapin", "swapread", "swapout", "memcg_reclaim" };
	static const char *const swap_l[] = { "swap-in fault (do_swap_page)", "swap read",
					      "swap-out (page write)", "memcg reclaim" };
	struct report r = { .out = NULL };
	char err[1024], outbuf[PATH_MAX];
	json_t *env;
	int c;

	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': r.out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	r.root = cl_results_load(argv[optind], err, sizeof(err));
	if (!r.root) {
		cl_err("report: %s", err);
		return 2;
	}
	r.wl = json_object_get(r.root, "workloads");
	if (!r.out) {
		snprintf(outbuf, sizeof(outbuf), "%s/report", argv[optind]);
		r.out = outbuf;
	}
	if (mkdir(r.out, 0755) && errno != EEXIST) {
		cl_err("report: mkdir %s: %s", r.out, strerror(errno));
		return 1;
	}
	env = json_object_get(r.root, "environment");
	r.emulated = !strcmp(str(env, "accel"), "tcg");
	r.icount = !strcmp(cl_clock_of(r.root), "icount");
	snprintf(r.where, sizeof(r.where), "kernel %s, %s%s, %lld CPU%s", str(env, "kernel"),
		 json_is_true(json_object_get(env, "cowlab_vm")) ? "cowlab VM, " : "host, ",
		 r.icount ? "QEMU TCG icount: times count instructions" :
		 r.emulated ? "QEMU TCG: times emulated" : str(env, "cpu"),
		 (long long)json_integer_value(json_object_get(env, "cpus")),
		 json_integer_value(json_object_get(env, "cpus")) == 1 ? "" : "s");

	fig_fork(&r);
	fig_cdf(&r, "cow_cdf", "cowbench", cow_h, cow_l, 3, "COW fault latency (cowbench)",
		"BPF (do_wp_page entry to exit) over the whole cowbench run, split by what the kernel "
		"did: cumulative distribution from the log-linear histogram (buckets <= 1.6% wide).");
	fig_cowahead(&r);
	fig_refork(&r);
	fig_specswap(&r);
	fig_cdf(&r, "swap_cdf", "swapbench", swap_h, swap_l, 4, "Swap latency (swapbench)",
		"BPF over the swapbench run: swap-in faults, swap reads, page writes to swap and memcg "
		"reclaim, as cumulative distributions.");
	fig_overhead(&r);
	fig_lazyfork(&r);
	fig_swapfrag(&r);
	if (!r.nfigs) {
		cl_err("report: nothing to plot in %s (missing: %s)", argv[optind], r.missing);
		return 1;
	}
	if (run_gnuplot(&r) || write_docs(&r, argv[optind]))
		return 1;
	printf("report: %d figures in %s: report.md, report.html%s%s\n", r.nfigs, r.out,
	       r.missing[0] ? "; not in these results: " : "", r.missing);
	json_decref(r.root);
	return 0;
}
