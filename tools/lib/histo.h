/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the probes' log-linear histograms (bpf/hist.h): percentiles, text, JSON. */
#ifndef COWLAB_HISTO_H
#define COWLAB_HISTO_H

#include <stdint.h>
#include <stdio.h>
#include <linux/types.h>

#include "hist.h"

struct json_t;

enum cl_unit { CL_UNIT_NS, CL_UNIT_BYTES, CL_UNIT_COUNT };

/* a += b (merging per-CPU copies or intervals) */
void cl_histo_add(struct cl_hist *a, const struct cl_hist *b);
/* a -= b, for the interval since snapshot b (b taken earlier from the same counters) */
void cl_histo_sub(struct cl_hist *a, const struct cl_hist *b);
/*
 * The q-quantile (0 < q <= 1): the midpoint of the bucket holding the sample
 * of rank ceil(q * count), clamped to [min, max]. 0 when empty.
 */
double cl_histo_quantile(const struct cl_hist *h, double q);
static inline uint64_t cl_histo_min(const struct cl_hist *h) { return h->min ? h->min - 1 : 0; }

/* "812 ns", "12.3 us", "4.56 ms", "1.23 s"; "4.0 KiB"; "17" */
const char *cl_histo_fmt(double v, enum cl_unit unit, char *buf, size_t len);
const char *cl_unit_name(enum cl_unit unit);

/* One line of summary, then bars over power-of-two ranges. */
void cl_histo_print(FILE *f, const char *name, const struct cl_hist *h, enum cl_unit unit);
/* {"unit","count","sum","min","max","mean","p50","p90","p99","p999","buckets":[[lo,hi,n],...]} */
struct json_t *cl_histo_json(const struct cl_hist *h, enum cl_unit unit);

#endif
