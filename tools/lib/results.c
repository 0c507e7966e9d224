// SPDX-License-Identifier: GPL-2.0
/* Reading cowlab results.json files: shared by compare, report and history. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"

/* Integer fields that name a configuration rather than measure it, and string fields that do not. */
static const char *const id_ints[] = { "size_bytes", "depth", "pages", "ops_per_block", NULL };
static const char *const not_id[] = { "status", "reason", "bpf", NULL };

json_t *cl_results_load(const char *arg, char *err, size_t len)
{
	char path[4096];
	struct stat st;
	json_error_t je;
	json_t *r;

	snprintf(path, sizeof(path), "%s%s", arg,
		 !stat(arg, &st) && S_ISDIR(st.st_mode) ? "/results.json" : "");
	r = json_load_file(path, 0, &je);
	if (!r) {
		snprintf(err, len, "%s: %s", path, access(path, R_OK) ? strerror(errno) : je.text);
		return NULL;
	}
	if (json_integer_value(json_object_get(r, "schema")) != 1 ||
	    !json_is_object(json_object_get(r, "workloads"))) {
		snprintf(err, len, "%s: not a cowlab results file of schema 1 (no \"schema\": 1 and "
			 "\"workloads\" object)", path);
		json_decref(r);
		return NULL;
	}
	return r;
}

/* "pattern=seq mode=16 size_bytes=67108864": what identifies a configuration. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys in sorted order: the identity must not depend on how a file ordered them. */
void cl_config_id(json_t *c, char *buf, size_t len)
{
	const char *k, *keys[64];
	json_t *v;
	size_t o = 0, nk = 0, j;
	int i;

	buf[0] = 0;
	json_object_foreach(c, k, v) {
		bool id = json_is_string(v);

		for (i = 0; id && not_id[i]; i++)
			id = strcmp(k, not_id[i]) != 0;
		for (i = 0; !id && id_ints[i]; i++)
			id = json_is_integer(v) && !strcmp(k, id_ints[i]);
		if (id && nk < 64)
			keys[nk++] = k;
	}
	qsort(keys, nk, sizeof(keys[0]), cmp_str);
	for (j = 0; j < nk && o < len; j++) {
		v = json_object_get(c, keys[j]);
		if (json_is_string(v))
			o += snprintf(buf + o, len - o, "%s%s=%s", o ? " " : "", keys[j],
				      json_string_value(v));
		else
			o += snprintf(buf + o, len - o, "%s%s=%lld", o ? " " : "", keys[j],
				      (long long)json_integer_value(v));
	}
}

json_t *cl_find_config(json_t *configs, const char *id)
{
	char other[1024];
	json_t *c;
	size_t i;

	json_array_foreach(configs, i, c) {
		cl_config_id(c, other, sizeof(other));
		if (!strcmp(other, id))
			return c;
	}
	return NULL;
}

/* The raw samples of @metric; their count in *n (0 when there are none). */
double *cl_samples_of(json_t *c, const char *metric, size_t *n)
{
	json_t *s = json_object_get(c, "samples"), *e;
	double *v = calloc(json_array_size(s) + 1, sizeof(double));
	size_t i;

	*n = 0;
	json_array_foreach(s, i, e) {
		json_t *x = json_object_get(e, metric);

		if (json_is_number(x) && json_number_value(x) >= 0)
			v[(*n)++] = json_number_value(x);
	}
	return v;
}

bool cl_is_time_metric(const char *name)
{
	static const char *const units[] = { "ms", "us", "ns", "usec", "ns_per_page", "ns_per_op", NULL };
	size_t n = strlen(name), k;
	int i;

	for (i = 0; units[i]; i++) {
		k = strlen(units[i]);
		if (n == k && !strcmp(name, units[i]))
			return true;
		if (n > k + 1 && name[n - k - 1] == '_' && !strcmp(name + n - k, units[i]))
			return true;
	}
	return false;
}
