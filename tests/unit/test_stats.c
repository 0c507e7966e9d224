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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_outliers),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
