// SPDX-License-Identifier: GPL-2.0
/* The log-linear histogram (bpf/hist.h, tools/lib/histo.c) and probe-list parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "histo.h"
#include "probelib.h"

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* log-uniform in [1, 2^42) */
static uint64_t rnd_value(void)
{
	unsigned int e = rnd() % 42;

	return (1ULL << e) + rnd() % (1ULL << e);
}

static void add(struct cl_hist *h, uint64_t v)
{
	h->slots[cl_hist_index(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (!h->min || v + 1 < h->min)
		h->min = v + 1;
}

static void test_buckets_bound_error(void **state)
{
	__u64 lo, hi;
	int i;

	for (i = 0; i < 64; i++) {
		cl_hist_bounds(cl_hist_index(i), &lo, &hi);
		assert_int_equal(lo, i);
		assert_int_equal(hi, i + 1);
	}
	for (i = 0; i < 200000; i++) {
		uint64_t v = rnd_value();
		uint32_t idx = cl_hist_index(v);

		assert_true(idx < CL_HIST_SLOTS);
		cl_hist_bounds(idx, &lo, &hi);
		assert_true(lo <= v && v < hi);
		if (v < 64)	/* exact below 64 */
			assert_true(lo == v && hi == v + 1);
		else		/* a bucket is at most 1/64 of its lower bound wide: <= 1.6% */
			assert_true((double)(hi - lo) / (double)lo <= 1.0 / 64 + 1e-12);
	}
	/* beyond the last exponent: the last bucket, never out of range */
	assert_int_equal(cl_hist_index(UINT64_MAX), CL_HIST_SLOTS - 1);
	assert_int_equal(cl_hist_index(1ULL << 50), CL_HIST_SLOTS - 1);
}

static void test_index_monotonic(void **state)
{
	uint64_t v;
	uint32_t prev = 0;

	for (v = 0; v < (1U << 20); v++) {
		uint32_t i = cl_hist_index(v);

		assert_true(i >= prev);
		assert_true(i <= prev + 1);
		prev = i;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_quantiles_match_exact(void **state)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	struct cl_hist *h = calloc(1, sizeof(*h));
	uint64_t *v = calloc(10000, sizeof(*v));
	size_t i, k;

	for (i = 0; i < 10000; i++) {
		v[i] = 1000 + rnd() % 5000000;	/* 1 us .. 5 ms in ns */
		add(h, v[i]);
	}
	qsort(v, 10000, sizeof(*v), cmp_u64);
	for (k = 0; k < 4; k++) {
		uint64_t exact = v[(size_t)(qs[k] * 10000 + 0.999999) - 1];
		double got = cl_histo_quantile(h, qs[k]);

		assert_true(got >= exact * (1 - 1.0 / 64) && got <= exact * (1 + 1.0 / 64));
	}
	assert_true(cl_histo_quantile(h, 1.0) == (double)v[9999]);
	assert_int_equal(cl_histo_min(h), v[0]);
	free(h);
	free(v);
}

static void test_empty_and_single(void **state)
{
	struct cl_hist *h = calloc(1, sizeof(*h));

	assert_true(cl_histo_quantile(h, 0.5) == 0);
	add(h, 12345);
	assert_true(cl_histo_quantile(h, 0.5) == 12345);	/* clamped to min = max */
	assert_true(cl_histo_quantile(h, 0.999) == 12345);
	free(h);
}

static void test_add_sub(void **state)
{
	struct cl_hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct cl_hist *all = calloc(1, sizeof(*all)), *m = calloc(1, sizeof(*m));
	int i;

	for (i = 0; i < 1000; i++) {
		uint64_t x = rnd_value(), y = rnd_value();

		add(a, x);
		add(all, x);
		add(b, y);
		add(all, y);
	}
	cl_histo_add(m, a);
	cl_histo_add(m, b);
	assert_memory_equal(m, all, sizeof(*m));
	/* all - a leaves b's buckets and counts; min/max bounded by b's buckets */
	cl_histo_sub(m, a);
	assert_int_equal(m->count, b->count);
	assert_int_equal(m->sum, b->sum);
	assert_memory_equal(m->slots, b->slots, sizeof(m->slots));
	assert_true(m->max >= b->max);
	free(a);
	free(b);
	free(all);
	free(m);
}

static void test_format_units(void **state)
{
	char buf[32];

	assert_string_equal(cl_histo_fmt(812, CL_UNIT_NS, buf, sizeof(buf)), "812 ns");
	assert_string_equal(cl_histo_fmt(12345, CL_UNIT_NS, buf, sizeof(buf)), "12.3 us");
	assert_string_equal(cl_histo_fmt(4560000, CL_UNIT_NS, buf, sizeof(buf)), "4.56 ms");
	assert_string_equal(cl_histo_fmt(2.5e9, CL_UNIT_NS, buf, sizeof(buf)), "2.5 s");
	assert_string_equal(cl_histo_fmt(36864, CL_UNIT_BYTES, buf, sizeof(buf)), "36 KiB");
	assert_string_equal(cl_histo_fmt(17, CL_UNIT_COUNT, buf, sizeof(buf)), "17");
}

static void test_probe_parse(void **state)
{
	uint32_t mask;
	char err[512];

	assert_int_equal(cl_probe_parse("fork,cow", &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, (1U << CL_P_FORK) | (1U << CL_P_COW));
	assert_int_equal(cl_probe_parse("all", &mask, err, sizeof(err)), 0);
	assert_int_equal(mask, (1U << CL_P_NR) - 1);
	assert_int_equal(cl_probe_parse("fork,bogus", &mask, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown probe 'bogus'"));
	assert_non_null(strstr(err, "dup_mmap"));
	assert_int_equal(cl_probe_parse(",", &mask, err, sizeof(err)), -1);
	assert_string_equal(err, "empty probe list");
	assert_int_equal(cl_method_parse("kprobe"), CL_M_KPROBE);
	assert_int_equal(cl_method_parse("tp"), CL_M_TRACEPOINT);
	assert_int_equal(cl_method_parse("auto"), CL_M_NONE);
	assert_int_equal(cl_method_parse("uprobe"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets_bound_error),
		cmocka_unit_test(test_index_monotonic),
		cmocka_unit_test(test_quantiles_match_exact),
		cmocka_unit_test(test_empty_and_single),
		cmocka_unit_test(test_add_sub),
		cmocka_unit_test(test_format_units),
		cmocka_unit_test(test_probe_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
