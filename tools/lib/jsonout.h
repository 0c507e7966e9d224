/* SPDX-License-Identifier: GPL-2.0 */
/* JSON pieces shared by workloads and the tool (jansson). */
#ifndef COWLAB_JSONOUT_H
#define COWLAB_JSONOUT_H

#include <jansson.h>

#include "stats.h"

/* {"n", "mean", "stddev", "min", "max", "median", "p90", "p99", "mad", "outliers"} of x[0..n). */
json_t *cl_summary_json(const double *x, size_t n);
/* The environment every result records: kernel, CPU, VM or host, accelerator, THP, swap, versions. */
json_t *cl_environment_json(void);
const char *cl_clock_kind(void);
const char *cl_clock_of(json_t *root);
/* Write @o to @path ("-" = stdout), pretty-printed; 0 or -1 with a message. */
int cl_json_write(json_t *o, const char *path);

#endif
