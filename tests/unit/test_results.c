// SPDX-License-Identifier: GPL-2.0
/* Unit tests (cmocka) for tools/lib/results.c: configuration identity, timing-metric names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "results.h"

static void test_time_metric(void **state)
{
	const char *const yes[] = { "write_ms", "call_us", "us", "latest_fork_usec", "ns_per_page",
				    "cow_ns_per_page", "on_ns_per_op", "stop_latency_us", NULL };
	const char *const no[] = { "traps_wp", "minflt", "majflt", "pages", "ptes_updated", "bus",
				   "_us", "ms_count", "", NULL };
	int i;

	for (i = 0; yes[i]; i++)
		assert_true(cl_is_time_metric(yes[i]));
	for (i = 0; no[i]; i++)
		assert_false(cl_is_time_metric(no[i]));
}

static void test_config_id(void **state)
{
	json_t *a = json_pack("{s:s,s:s,s:I,s:f,s:s,s:[]}", "pattern", "seq", "mode", "16",
			      "size_bytes", (json_int_t)4096, "time_ratio_to_off", 0.5,
			      "status", "ok", "samples");
	json_t *b = json_pack("{s:I,s:s,s:s,s:f}", "size_bytes", (json_int_t)4096, "mode", "16",
			      "pattern", "seq", "time_ratio_to_off", 0.9);
	json_t *arr = json_pack("[O,O]", b, a);
	char ia[256], ib[256];

	cl_config_id(a, ia, sizeof(ia));
	cl_config_id(b, ib, sizeof(ib));
	/* sorted keys; measured numbers and status are not identity */
	assert_string_equal(ia, "mode=16 pattern=seq size_bytes=4096");
	assert_string_equal(ia, ib);
	assert_ptr_equal(cl_find_config(arr, ia), json_array_get(arr, 0));
	assert_null(cl_find_config(arr, "mode=off"));
	json_decref(arr);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_metric),
		cmocka_unit_test(test_config_id),
	};

	return cmocka_run_group_tests_name("results", tests, NULL, NULL);
}
