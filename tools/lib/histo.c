// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "histo.h"

void cl_histo_add(struct cl_hist *a, const struct cl_hist *b)
{
	uint32_t i;

	if (!b->count)
		return;
	a->count += b->count;
	a->sum += b->sum;
	if (b->max > a->max)
		a->max = b->max;
	if (b->min && (!a->min || b->min < a->min))
		a->min = b->min;
	for (i = 0; i < CL_HIST_SLOTS; i++)
		a->slots[i] += b->slots[i];
}

void cl_histo_sub(struct cl_hist *a, const struct cl_hist *b)
{
	__u64 lo, hi;
	uint32_t i, first = CL_HIST_SLOTS, last = 0;

	a->count -= b->count;
	a->sum -= b->sum;
	for (i = 0; i < CL_HIST_SLOTS; i++) {
		a->slots[i] -= b->slots[i];
		if (a->slots[i]) {
			if (first == CL_HIST_SLOTS)
				first = i;
			last = i;
		}
	}
	/* min and max are not subtractable: bound them by the buckets left */
	if (!a->count) {
		a->min = a->max = 0;
		return;
	}
	cl_hist_bounds(first, &lo, &hi);
	if (cl_histo_min(a) < lo)
		a->min = lo + 1;
	cl_hist_bounds(last, &lo, &hi);
	if (a->max >= hi)
		a->max = hi - 1;
}

double cl_histo_quantile(const struct cl_hist *h, double q)
{
	uint64_t rank, cum = 0;
	__u64 lo, hi;
	double v;
	uint32_t i;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank >= h->count)
		return (double)h->max;
	for (i = 0; i < CL_HIST_SLOTS; i++) {
		cum += h->slots[i];
		if (cum >= rank)
			break;
	}
	if (i == CL_HIST_SLOTS)
		return (double)h->max;
	cl_hist_bounds(i, &lo, &hi);
	v = hi - lo == 1 ? (double)lo : (lo + hi) / 2.0;
	if (v < cl_histo_min(h))
		v = cl_histo_min(h);
	if (v > h->max)
		v = h->max;
	return v;
}

const char *cl_unit_name(enum cl_unit unit)
{
	return unit == CL_UNIT_NS ? "ns" : unit == CL_UNIT_BYTES ? "bytes" : "count";
}

const char *cl_histo_fmt(double v, enum cl_unit unit, char *buf, size_t len)
{
	static const char *const tu[] = { "ns", "us", "ms", "s" };
	static const char *const bu[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	switch (unit) {
	case CL_UNIT_NS:
		while (v >= 1000 && i < 3) {
			v /= 1000;
			i++;
		}
		snprintf(buf, len, i ? "%.3g %s" : "%.0f %s", v, tu[i]);
		break;
	case CL_UNIT_BYTES:
		while (v >= 1024 && i < 4) {
			v /= 1024;
			i++;
		}
		snprintf(buf, len, i ? "%.3g %s" : "%.0f %s", v, bu[i]);
		break;
	default:
		snprintf(buf, len, "%.0f", v);
	}
	return buf;
}

void cl_histo_print(FILE *f, const char *name, const struct cl_hist *h, enum cl_unit unit)
{
	uint64_t rows[66] = { 0 }, peak = 0;
	__u64 lo, hi;
	char a[32], b[32], c[32], d[32], e[32], m[32];
	int i, first = -1, last = -1, w;

	fprintf(f, "%s: %llu, mean %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", name,
		(unsigned long long)h->count,
		cl_histo_fmt(h->count ? (double)h->sum / h->count : 0, unit, m, sizeof(m)),
		cl_histo_fmt(cl_histo_quantile(h, 0.50), unit, a, sizeof(a)),
		cl_histo_fmt(cl_histo_quantile(h, 0.90), unit, b, sizeof(b)),
		cl_histo_fmt(cl_histo_quantile(h, 0.99), unit, c, sizeof(c)),
		cl_histo_fmt(cl_histo_quantile(h, 0.999), unit, d, sizeof(d)),
		cl_histo_fmt((double)h->max, unit, e, sizeof(e)));
	if (!h->count)
		return;
	/* fold the log-linear buckets into power-of-two rows for the eye */
	for (i = 0; i < (int)CL_HIST_SLOTS; i++) {
		int r;

		if (!h->slots[i])
			continue;
		cl_hist_bounds(i, &lo, &hi);
		r = lo ? 64 - __builtin_clzll(lo) : 0;
		rows[r] += h->slots[i];
	}
	for (i = 0; i < 66; i++) {
		if (!rows[i])
			continue;
		if (first < 0)
			first = i;
		last = i;
		if (rows[i] > peak)
			peak = rows[i];
	}
	for (i = first; i <= last; i++) {
		lo = i ? 1ULL << (i - 1) : 0;
		hi = i ? (1ULL << i) : 1;
		w = (int)(rows[i] * 40 / peak);
		fprintf(f, "  %10s .. %-10s %10llu |%-40.*s|\n",
			cl_histo_fmt((double)lo, unit, a, sizeof(a)),
			cl_histo_fmt((double)hi, unit, b, sizeof(b)),
			(unsigned long long)rows[i], w ? w : 1,
			"****************************************");
	}
}

json_t *cl_histo_json(const struct cl_hist *h, enum cl_unit unit)
{
	json_t *o = json_object(), *bk = json_array();
	__u64 lo, hi;
	uint32_t i;

	json_object_set_new(o, "unit", json_string(cl_unit_name(unit)));
	json_object_set_new(o, "count", json_integer((json_int_t)h->count));
	json_object_set_new(o, "sum", json_integer((json_int_t)h->sum));
	json_object_set_new(o, "min", json_integer((json_int_t)cl_histo_min(h)));
	json_object_set_new(o, "max", json_integer((json_int_t)h->max));
	json_object_set_new(o, "mean", json_real(h->count ? (double)h->sum / h->count : 0));
	json_object_set_new(o, "p50", json_real(cl_histo_quantile(h, 0.50)));
	json_object_set_new(o, "p90", json_real(cl_histo_quantile(h, 0.90)));
	json_object_set_new(o, "p99", json_real(cl_histo_quantile(h, 0.99)));
	json_object_set_new(o, "p999", json_real(cl_histo_quantile(h, 0.999)));
	for (i = 0; i < CL_HIST_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		cl_hist_bounds(i, &lo, &hi);
		json_array_append_new(bk, json_pack("[I,I,I]", (json_int_t)lo, (json_int_t)hi,
						    (json_int_t)h->slots[i]));
	}
	json_object_set_new(o, "buckets", bk);
	return o;
}
