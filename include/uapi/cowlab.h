/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cowlab ioctl ABI: /dev/cowlab. Shared by the module, the cowlab tool and the tests.
 *
 * Rules: every struct has a fixed size encoded in its ioctl number; the module
 * answers ENOTTY for an unknown command and EINVAL for a known command whose
 * encoded size differs (wrong struct size), for unknown flags and for non-zero
 * reserved fields. COWLAB_ABI_VERSION changes whenever a struct changes.
 */
#ifndef _UAPI_COWLAB_H
#define _UAPI_COWLAB_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define COWLAB_DEVICE		"/dev/cowlab"
#define COWLAB_ABI_VERSION	1
#define COWLAB_IOC_MAGIC	0xCB

/* Features the loaded module offers (cowlab_version.features). */
#define COWLAB_FEAT_COWAHEAD	(1ULL << 0)
#define COWLAB_FEAT_REFORK	(1ULL << 1)

struct cowlab_version {
	__u32 abi_version;		/* out: COWLAB_ABI_VERSION of the module */
	__u32 reserved;			/* out: 0 */
	__u64 features;			/* out: COWLAB_FEAT_* that are usable now */
	char module_version[32];	/* out: NUL-terminated */
	char kernel_release[65];	/* out: utsname release, NUL-terminated */
	char pad[7];
};

/* ---- cow-ahead ---------------------------------------------------------- */

#define COWLAB_CA_MAX_WINDOW	512	/* pages */

/* cowlab_cowahead_policy.flags */
#define COWLAB_CA_ADAPTIVE	(1U << 0) /* grow on sequential COW faults, collapse on random */
#define COWLAB_CA_KEEP_EXEC	(1U << 1) /* keep the policy across execve() */
#define COWLAB_CA_NO_INHERIT	(1U << 2) /* children forked later do not inherit it */
#define COWLAB_CA_RANGE		(1U << 3) /* only [start, end) triggers and is broken */
#define COWLAB_CA_FLAGS		(COWLAB_CA_ADAPTIVE | COWLAB_CA_KEEP_EXEC | \
				 COWLAB_CA_NO_INHERIT | COWLAB_CA_RANGE)

struct cowlab_cowahead_policy {
	__s32 pid;		/* in: target process, 0 = caller */
	__u32 flags;		/* COWLAB_CA_* */
	__u32 window;		/* pages after the faulting one, 0 = remove the policy */
	__u32 reserved;		/* must be 0 */
	__u64 start;		/* with COWLAB_CA_RANGE: page-aligned user range */
	__u64 end;
};

#define COWLAB_STATS_GLOBAL	(-1)

struct cowlab_cowahead_stats {
	__s32 pid;		/* in: process, 0 = caller, COWLAB_STATS_GLOBAL = all */
	__u32 cur_window;	/* out: adaptive window now (pages), or the fixed window */
	__u64 wp_faults;	/* write faults on present pages seen (COW candidates) */
	__u64 batches;		/* cow-ahead batches run */
	__u64 pages_broken;	/* pages COW-broken ahead of a fault */
	__u64 pages_skipped;	/* pages in a window left alone (not present, not COW, ...) */
	__u64 grows;		/* adaptive window grew */
	__u64 shrinks;		/* adaptive window collapsed */
	__u64 errors;		/* allocation or fault-handling failures */
	__u64 policies;		/* global only: policies live now */
};

#define COWLAB_IOC_VERSION	_IOR(COWLAB_IOC_MAGIC, 0x00, struct cowlab_version)
#define COWLAB_IOC_CA_SET	_IOW(COWLAB_IOC_MAGIC, 0x10, struct cowlab_cowahead_policy)
#define COWLAB_IOC_CA_GET	_IOWR(COWLAB_IOC_MAGIC, 0x11, struct cowlab_cowahead_policy)
#define COWLAB_IOC_CA_STATS	_IOWR(COWLAB_IOC_MAGIC, 0x12, struct cowlab_cowahead_stats)

#endif /* _UAPI_COWLAB_H */
