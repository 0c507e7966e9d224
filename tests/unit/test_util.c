// SPDX-License-Identifier: GPL-2.0
/* Unit tests (cmocka) for tools/lib/util.c: size and number parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util.h"

static void test_sizes(void **state)
{
	static const struct { const char *s; uint64_t want; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "64K", 65536 }, { "64KiB", 65536 },
		{ "256M", 256ULL << 20 }, { "256MB", 256ULL << 20 }, { "1G", 1ULL << 30 },
		{ "1.5G", 3ULL << 29 }, { "2T", 2ULL << 40 }, { "16m", 16ULL << 20 },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(cl_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].want);
	}
}

static void test_bad_sizes(void **state)
{
	static const char *bad[] = { "", "-1", "+5", "abc", "12Q", "1GG", "M", "1.5.5G",
				     "99999999999T", "1 G" };
	uint64_t v = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cl_parse_size(bad[i], &v), -1);
		assert_int_equal(v, 7);	/* untouched on error */
	}
	assert_int_equal(cl_parse_size(NULL, &v), -1);
}

static void test_u64(void **state)
{
	uint64_t v;

	assert_int_equal(cl_parse_u64("512", 1, 512, &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(cl_parse_u64("0x10", 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(cl_parse_u64("513", 1, 512, &v), -1);
	assert_int_equal(cl_parse_u64("0", 1, 512, &v), -1);
	assert_int_equal(cl_parse_u64("-1", 0, UINT64_MAX, &v), -1);
	assert_int_equal(cl_parse_u64("12abc", 0, 100, &v), -1);
	assert_int_equal(cl_parse_u64("", 0, 100, &v), -1);
	assert_int_equal(cl_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_u64),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
