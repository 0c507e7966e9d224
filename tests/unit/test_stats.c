// SPDX-License-Identifier: GPL-2.0
/* Unit tests (cmocka) for tools/lib/stats.c: percentiles, summaries, outliers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "stats.h"

static void test_percentile(void **state)
{
	const double v[] = { 1, 2, 3, 4, 5 };

	assert_float_equal(cl_percentile(v, 5, 0), 1, 1e-12);
	assert_float_equal(cl_percentile(v, 5, 50), 3, 1e-12);
	assert_float_equal(cl_percentile(v, 5, 100), 5, 1e-12);
	assert_float_equal(cl_percentile(v, 5, 25), 2, 1e-12);
	assert_float_equal(cl_percentile(v, 5, 90), 4.6, 1e-12);	/* interpolated */
	assert_float_equal(cl_percentile(v, 1, 99), 1, 1e-12);
	assert_true(isnan(cl_percentile(v, 0, 50)));
}

static void test_summary(void **state)
{
	const double x[] = { 4, 2, 8, 6 };	/* unsorted on purpose */
	struct cl_summary s;

	assert_int_equal(cl_summarize(x, 4, &s), 0);
	assert_int_equal(s.n, 4);
	assert_float_equal(s.mean, 5, 1e-12);
	assert_float_equal(s.median, 5, 1e-12);
	assert_float_equal(s.min, 2, 1e-12);
	assert_float_equal(s.max, 8, 1e-12);
	assert_float_equal(s.stddev, sqrt(20.0 / 3.0), 1e-12);	/* sample stddev */
	assert_float_equal(x[0], 4, 0);				/* input not sorted in place */
	assert_int_equal(cl_summarize(x, 0, &s), -1);
}

static void test_outliers(void **state)
{
	double x[20];
	struct cl_summary s;
	int i;

	for (i = 0; i < 20; i++)
		x[i] = 100 + (i % 5);	/* 100..104 */
	assert_int_equal(cl_summarize(x, 20, &s), 0);
	assert_int_equal(s.outliers, 0);
	x[7] = 1000;			/* one slow run */
	assert_int_equal(cl_summarize(x, 20, &s), 0);
	assert_int_equal(s.outliers, 1);
	assert_float_equal(s.median, 102, 1e-12);
}

static void test_mann_whitney(void **state)
{
	const double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
	const double c[] = { 5, 3, 1, 4, 2 }, same[] = { 7, 7, 7, 7 };
	const double s1[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, s2[] = { 1.5, 2.5, 3.5, 4.5, 5.5, 6.5,
								    7.5, 8.5, 9.5, 10.5 };

	/* completely separated, n = 5 + 5: U = 0, z = (12.5 - 0.5) / sqrt(25 * 11 / 12) */
	assert_float_equal(cl_mann_whitney_p(a, 5, b, 5), erfc(2.5067 / sqrt(2.0)), 1e-3);
	assert_float_equal(cl_mann_whitney_p(b, 5, a, 5), cl_mann_whitney_p(a, 5, b, 5), 1e-12);
	/* the same values: nothing to tell apart */
	assert_float_equal(cl_mann_whitney_p(a, 5, c, 5), 1.0, 1e-12);
	assert_float_equal(cl_mann_whitney_p(same, 4, same, 4), 1.0, 1e-12);
	/* interleaved: far from significant */
	assert_true(cl_mann_whitney_p(s1, 10, s2, 10) > 0.5);
	/* too few */
	assert_true(isnan(cl_mann_whitney_p(a, 1, b, 5)));
}

static void test_welch(void **state)
{
	const double a[] = { 1, 2, 3, 4 }, b[] = { 3, 4, 5, 6 };
	const double z2[] = { 0, 0 }, y2[] = { 1, 3 }, z3[] = { 0, 0, 0 }, y3[] = { 1, 2, 3 };
	const double same[] = { 7, 7, 7 }, other[] = { 8, 8, 8 };
	double t, df, p;

	/* equal variances: Student's t = 2.1909 on 6 df, p = 0.0710 (R: t.test(1:4, 3:6)) */
	assert_float_equal(cl_welch_t_p(a, 4, b, 4, &t, &df), 0.0710, 1e-4);
	assert_float_equal(t, 2.1909, 1e-4);
	assert_float_equal(df, 6, 1e-9);
	/* one variance 0: df = n - 1. On 1 df t is Cauchy: P(|T| > 2) = 1 - 2 atan(2) / pi */
	assert_float_equal(cl_welch_t_p(z2, 2, y2, 2, &t, &df), 1 - 2 * atan(2.0) / M_PI, 1e-9);
	assert_float_equal(df, 1, 1e-12);
	/* on 2 df: P(|T| > t) = 1 - t / sqrt(2 + t^2), here t = 2 / sqrt(1/3) */
	p = cl_welch_t_p(z3, 3, y3, 3, &t, &df);
	assert_float_equal(p, 1 - t / sqrt(2 + t * t), 1e-9);
	assert_float_equal(t, 2 / sqrt(1.0 / 3), 1e-9);
	/* symmetric in the sign of the difference */
	assert_float_equal(cl_welch_t_p(b, 4, a, 4, &t, NULL), cl_welch_t_p(a, 4, b, 4, NULL, NULL),
			   1e-12);
	assert_true(t < 0);
	/* no variance at all: equal or not */
	assert_float_equal(cl_welch_t_p(same, 3, same, 3, NULL, NULL), 1.0, 0);
	assert_float_equal(cl_welch_t_p(same, 3, other, 3, NULL, NULL), 0.0, 0);
	/* too few */
	assert_true(isnan(cl_welch_t_p(a, 1, b, 4, &t, &df)) && isnan(t) && isnan(df));
}

static void test_new_run(void **state)
{
	const double prev[] = { 9, 10, 11 }, flat[] = { 5, 5 };

	/* m = 10, s = 1, k = 3: t = (x - 10) / sqrt(4/3) on 2 df; P(T > t) = (1 - t / sqrt(2 + t^2)) / 2 */
	double t = 2 / sqrt(4.0 / 3);

	assert_float_equal(cl_new_run_p(prev, 3, 12), (1 - t / sqrt(2 + t * t)) / 2, 1e-9);
	assert_float_equal(cl_new_run_p(prev, 3, 10), 0.5, 1e-12);
	assert_true(cl_new_run_p(prev, 3, 8) > 0.5);
	assert_float_equal(cl_new_run_p(flat, 2, 5), 1.0, 0);
	assert_float_equal(cl_new_run_p(flat, 2, 5.1), 0.0, 0);
	assert_true(isnan(cl_new_run_p(prev, 1, 12)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_outliers),
		cmocka_unit_test(test_mann_whitney),
		cmocka_unit_test(test_welch),
		cmocka_unit_test(test_new_run),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
