/* SPDX-License-Identifier: GPL-2.0 */
/* Reading cowlab results.json files: shared by compare, report and history. */
#ifndef COWLAB_RESULTS_H
#define COWLAB_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* DIR/results.json or FILE, checked for schema 1; NULL with the reason in err. */
json_t *cl_results_load(const char *arg, char *err, size_t len);
/* "pattern=seq mode=16 size_bytes=67108864": what identifies a configuration. */
void cl_config_id(json_t *c, char *buf, size_t len);
/* The configuration of @configs with identity @id, or NULL. */
json_t *cl_find_config(json_t *configs, const char *id);
/* The raw samples of @metric (calloc'ed); their count in *n (0 when there are none). */
double *cl_samples_of(json_t *c, const char *metric, size_t *n);

/* A timing metric by its name's unit: write_ms, call_us, latest_fork_usec, cow_ns_per_page, us. */
bool cl_is_time_metric(const char *name);

#endif
