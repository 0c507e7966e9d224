/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log-linear histogram buckets, shared by the BPF programs and user space.
 *
 * Values below 64 have a bucket each. Above, every power of two [2^e, 2^e+1)
 * is split into 64 equal sub-buckets, so a bucket is at most 1/64 = 1.56% of
 * its lower bound wide: reporting a bucket's midpoint is off by at most 0.78%
 * (the same scheme as HdrHistogram with 6 significant bits). Values from 2^42
 * on (73 minutes in ns, 4 TiB in bytes) share the last bucket; max is exact.
 */
#ifndef COWLAB_BPF_HIST_H
#define COWLAB_BPF_HIST_H

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define CL_HIST_SUB_BITS	6
#define CL_HIST_SUB		(1U << CL_HIST_SUB_BITS)
#define CL_HIST_MAX_EXP		41	/* highest exponent with its own buckets */
#define CL_HIST_SLOTS		(CL_HIST_SUB + (CL_HIST_MAX_EXP - CL_HIST_SUB_BITS + 1) * CL_HIST_SUB)

struct cl_hist {
	__u64 count;
	__u64 sum;
	__u64 min;	/* 0 = no sample yet; stored as value + 1 */
	__u64 max;
	__u64 slots[CL_HIST_SLOTS];
};

/* Index of the highest set bit of v (v != 0), without loops (BPF-friendly). */
static __always_inline __u32 cl_hist_msb(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8)  { v >>= 8;  r += 8; }
	if (v >> 4)  { v >>= 4;  r += 4; }
	if (v >> 2)  { v >>= 2;  r += 2; }
	if (v >> 1)  { r += 1; }
	return r;
}

static __always_inline __u32 cl_hist_index(__u64 v)
{
	__u32 e;

	if (v < CL_HIST_SUB)
		return (__u32)v;
	e = cl_hist_msb(v);
	if (e > CL_HIST_MAX_EXP)
		return CL_HIST_SLOTS - 1;
	return CL_HIST_SUB + (e - CL_HIST_SUB_BITS) * CL_HIST_SUB +
	       (__u32)((v >> (e - CL_HIST_SUB_BITS)) & (CL_HIST_SUB - 1));
}

/* The values bucket i holds: [*lo, *hi). */
static __always_inline void cl_hist_bounds(__u32 i, __u64 *lo, __u64 *hi)
{
	__u32 e, sub;

	if (i < CL_HIST_SUB) {
		*lo = i;
		*hi = (__u64)i + 1;
		return;
	}
	e = (i - CL_HIST_SUB) / CL_HIST_SUB + CL_HIST_SUB_BITS;
	sub = (i - CL_HIST_SUB) % CL_HIST_SUB;
	*lo = ((__u64)(CL_HIST_SUB + sub)) << (e - CL_HIST_SUB_BITS);
	*hi = ((__u64)(CL_HIST_SUB + sub + 1)) << (e - CL_HIST_SUB_BITS);
}

#endif
