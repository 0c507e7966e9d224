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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_outliers),
		cmocka_unit_test(test_mann_whitney),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
