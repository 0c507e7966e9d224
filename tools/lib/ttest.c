// SPDX-License-Identifier: GPL-2.0
/*
 * The tests that need Student's t distribution (GSL), apart from stats.c so
 * that only the programs calling them (cowlab, unit tests) link GSL: the
 * workloads stay as small as they were (a fork benchmark's own size matters).
 */
#include <math.h>
#include <stddef.h>

#include <gsl/gsl_cdf.h>

#include "stats.h"

static void mean_var(const double *x, size_t n, double *mean, double *var)
{
	double m = 0, v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		m += x[i];
	m /= (double)n;
	for (i = 0; i < n; i++)
		v += (x[i] - m) * (x[i] - m);
	*mean = m;
	*var = v / (double)(n - 1);
}

double cl_welch_t_p(const double *x, size_t nx, const double *y, size_t ny, double *t, double *df)
{
	double mx, vx, my, vy, sx, sy, tt, dd;

	if (t)
		*t = NAN;
	if (df)
		*df = NAN;
	if (nx < 2 || ny < 2)
		return NAN;
	mean_var(x, nx, &mx, &vx);
	mean_var(y, ny, &my, &vy);
	sx = vx / (double)nx;
	sy = vy / (double)ny;
	if (sx + sy == 0)
		return mx == my ? 1.0 : 0.0;
	tt = (my - mx) / sqrt(sx + sy);
	dd = (sx + sy) * (sx + sy) /
	     (sx * sx / (double)(nx - 1) + sy * sy / (double)(ny - 1));
	if (t)
		*t = tt;
	if (df)
		*df = dd;
	return 2 * gsl_cdf_tdist_Q(fabs(tt), dd);
}

double cl_new_run_p(const double *prev, size_t k, double x)
{
	double m, v;

	if (k < 2)
		return NAN;
	mean_var(prev, k, &m, &v);
	if (v == 0)
		return x > m ? 0.0 : 1.0;
	return gsl_cdf_tdist_Q((x - m) / sqrt(v * (1 + 1.0 / (double)k)), (double)(k - 1));
}
