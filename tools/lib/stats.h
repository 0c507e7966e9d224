/* SPDX-License-Identifier: GPL-2.0 */
/* Summary statistics over raw samples (hyperfine style), used by bench and compare. */
#ifndef COWLAB_STATS_H
#define COWLAB_STATS_H

#include <stddef.h>

struct cl_summary {
	size_t n;
	double mean, stddev, min, max;
	double median, p90, p99;
	double mad;		/* median absolute deviation */
	size_t outliers;	/* |modified Z-score| > 3.5 (Iglewicz and Hoaglin) */
};

/* Percentile p in [0, 100] of sorted[0..n) with linear interpolation. */
double cl_percentile(const double *sorted, size_t n, double p);
/* Summarise x[0..n) (x is not modified); -1 when n == 0. */
int cl_summarize(const double *x, size_t n, struct cl_summary *s);
/*
 * Two-sided p-value of the Mann-Whitney U test (Wilcoxon rank-sum) that x and
 * y come from the same distribution: normal approximation with tie and
 * continuity corrections. NAN when either sample has fewer than 2 values.
 */
double cl_mann_whitney_p(const double *x, size_t nx, const double *y, size_t ny);
/* ---- ttest.c (links GSL) ---- */
/*
 * Two-sided p-value of Welch's t-test that x and y have the same mean (unequal
 * variances, Welch-Satterthwaite degrees of freedom; the t distribution is
 * GSL's). When both variances are 0: 1 if the means are equal, else 0. NAN
 * when either sample has fewer than 2 values. *t and *df, when not NULL, get
 * the statistic and the degrees of freedom.
 */
double cl_welch_t_p(const double *x, size_t nx, const double *y, size_t ny, double *t, double *df);
/*
 * One-sided p-value that a new run's value @x is as high as it is, given the
 * values of k >= 2 earlier runs: x against the t prediction interval of the
 * earlier runs (mean m, sample stddev s): t = (x - m) / (s sqrt(1 + 1/k)) on
 * k - 1 df. When s is 0: 0 if x > m, else 1. NAN when k < 2.
 */
double cl_new_run_p(const double *prev, size_t k, double x);

#endif
