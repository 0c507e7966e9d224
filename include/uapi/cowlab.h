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
#define COWLAB_ABI_VERSION	2
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

/* ---- refork --------------------------------------------------------------
 *
 * A parent P forks a speculative child C. C parks in COWLAB_IOC_RF_WAIT between
 * rounds. P calls COWLAB_IOC_REFORK on C: every covered mapping of C is brought
 * back to P's current contents, shared copy-on-write as fork() leaves it, by
 * releasing and re-copying (with the kernel's own copy_page_range) only the runs
 * of page-table entries that differ between P and C. The sync stops early, its
 * progress kept, when the time budget runs out, a signal is pending, or the
 * 32-bit stop word in P's memory no longer holds stop_val. Granularity: the
 * stop conditions are checked after every re-copied run of entries (at most
 * one page table's, 512 pages, or one PMD-mapped huge page), after every 256 entries
 * re-synced in place (COWLAB_RF_TRK_INPLACE) and after every 16
 * page-table ranges that compared equal (each at most 2 MiB of address space
 * and 512 entries; a COWLAB_RF_CHUNK_SIZE chunk, 16 entries, when tracked);
 * the stop word also before the first range. A call completes only if
 * it compares every covered range before a stop condition holds. A stopped sync keeps a cursor and the next call resumes there,
 * going round to it (ranges already in sync cost only the comparison), so
 * every call makes progress. C leaves RF_WAIT only after a
 * complete sync (the generation grows by one) or on a signal, a timeout, or
 * when its parent is gone.
 *
 * Covered by default: every private writable mapping of P except stacks,
 * shared-memory, I/O, PFN-map, hugetlb, DONTCOPY/WIPEONFORK and userfaultfd
 * mappings. With COWLAB_RF_RANGES, only the given page-aligned ranges (a range
 * reaching into a PMD-mapped huge page syncs the whole huge page).
 *
 * errno: ESRCH no such process or C has exited; ECHILD C is not the caller's
 * child; EBUSY C is not parked in RF_WAIT (after a complete sync, until C has
 * returned with the new generation and called RF_WAIT again); ESTALE P's (or C's) layout of covered
 * mappings changed since C registered, or a mapping P has anonymous memory in
 * was never linked to C (fork again); EOPNOTSUPP P or C is multi-threaded;
 * EFAULT unreadable argument or stop word; EINVAL unknown flags, non-zero
 * reserved fields, a misaligned stop word or a bad range; EINTR a fatal signal
 * while taking the locks; ENOMEM C is left incomplete (ESTALE from then on).
 */
#define COWLAB_RF_MAX_RANGES	256

/* cowlab_refork.flags */
#define COWLAB_RF_STOPWORD	(1U << 0) /* stop once *stop_addr != stop_val */
#define COWLAB_RF_RANGES	(1U << 1) /* sync only ranges[nr_ranges] */
/* after a complete sync, compare every covered entry too (the oracle of change tracking) */
#define COWLAB_RF_VERIFY	(1U << 2)
/*
 * re-sync every difference as a run (a zap of C's entries and the kernel's copy_page_range()),
 * never in place: the path of the module before in-place re-sync, for comparisons
 */
#define COWLAB_RF_RUNS_ONLY	(1U << 3)
#define COWLAB_RF_FLAGS		(COWLAB_RF_STOPWORD | COWLAB_RF_RANGES | COWLAB_RF_VERIFY | \
				 COWLAB_RF_RUNS_ONLY)

/*
 * cowlab_refork.tracking: how the call found what to compare. A sync compares
 * only the chunks (COWLAB_RF_CHUNK_SIZE) marked changed since the last sync (every change to P's
 * or C's page tables is marked: mmu-notifier invalidations, and page faults by a
 * kprobe on handle_mm_fault), and in them only the entries of the pages marked
 * (a mark records its pages too; a child covering more than 64 GiB has chunk marks
 * only, and its marked chunks are compared whole), unless tracking is unavailable for this child (no
 * kprobe, a notifier could not be registered, P is not the mm tracked): then it
 * compares every entry and says FULL. Never is anything silently skipped.
 */
#define COWLAB_RF_TRK_INCREMENTAL (1U << 0) /* only changed chunks compared */
#define COWLAB_RF_TRK_FULL	(1U << 1) /* every covered entry compared */
#define COWLAB_RF_TRK_VERIFIED	(1U << 2) /* VERIFY's full comparison ran */
/*
 * some entries were re-synced in place: a page P or C broke COW on since the last sync, one
 * small anonymous page on both sides, C's released and P's shared under both page-table locks
 * (counted in ptes_updated, not in ranges_updated)
 */
#define COWLAB_RF_TRK_INPLACE	(1U << 3)

/* cowlab_refork.status */
#define COWLAB_RF_COMPLETE	0
#define COWLAB_RF_PARTIAL	1

/* cowlab_refork.stop_reason */
#define COWLAB_RF_STOP_NONE	0
#define COWLAB_RF_STOP_BUDGET	1
#define COWLAB_RF_STOP_WORD	2
#define COWLAB_RF_STOP_SIGNAL	3

/* Change tracking's granularity: a sync compares the chunks marked changed. */
#define COWLAB_RF_CHUNK_SIZE	(64 * 1024)

struct cowlab_range {
	__u64 start;		/* page-aligned */
	__u64 end;		/* page-aligned, > start */
};

struct cowlab_refork {
	__s32 pid;		/* in: the child C */
	__u32 flags;		/* in: COWLAB_RF_* */
	__u64 budget_ns;	/* in: stop after this long, 0 = no limit */
	__u64 stop_addr;	/* in: with STOPWORD: 4-aligned address in P */
	__u32 stop_val;		/* in: the sync runs while the word equals this */
	__u32 nr_ranges;	/* in: with RANGES: 1..COWLAB_RF_MAX_RANGES */
	__u64 ranges;		/* in: with RANGES: user pointer to struct cowlab_range[] */
	__u64 reserved_in[2];	/* in: must be 0 */
	/* out */
	__u32 status;		/* COWLAB_RF_COMPLETE or COWLAB_RF_PARTIAL */
	__u32 stop_reason;	/* COWLAB_RF_STOP_* */
	__u64 generation;	/* C's sync generation after this call */
	__u64 ranges_scanned;	/* page-table ranges compared: each inside one PMD and,
				 * when tracked, one COWLAB_RF_CHUNK_SIZE chunk
				 */
	__u64 ranges_updated;	/* runs of differing entries released and re-copied
				 * (entries re-synced in place are not runs)
				 */
	__u64 ptes_scanned;	/* entries compared (a PMD-mapped huge page counts 1) */
	__u64 ptes_updated;	/* entries re-synced: pages in the re-copied runs and
				 * entries re-synced in place
				 */
	__u64 bytes_covered;	/* size of the covered mappings */
	__u64 ns;		/* time spent in the call */
	__u32 tracking;		/* COWLAB_RF_TRK_* */
	/* VERIFY: entries the tracking missed (different in a chunk not marked since the sync
	 * passed it; re-copied)
	 */
	__u32 verify_diffs;
	__u64 dirty_pending;	/* chunks still marked changed after this call */
};

struct cowlab_rf_wait {
	__u64 generation;	/* in: last generation seen (0 at first); out: the current one */
	__u64 timeout_ns;	/* in: 0 = no timeout (ETIMEDOUT) */
	__u32 flags;		/* in: must be 0 */
	__u32 state;		/* in: must be 0; out: COWLAB_RF_WAIT_* */
};

/*
 * RF_WAIT's state on return (also with ETIMEDOUT, EINTR or ESRCH): a sync
 * stopped part-way (budget, stop word, signal) since the generation returned,
 * so the caller's memory is part that generation, part the next: MIXED; a sync
 * failed half-way and this child can never be synced again (REFORK says
 * ESTALE): BROKEN. 0: the memory is exactly the generation returned.
 */
#define COWLAB_RF_WAIT_MIXED	(1U << 0)
#define COWLAB_RF_WAIT_BROKEN	(1U << 1)

#define COWLAB_IOC_REFORK	_IOWR(COWLAB_IOC_MAGIC, 0x20, struct cowlab_refork)
#define COWLAB_IOC_RF_WAIT	_IOWR(COWLAB_IOC_MAGIC, 0x21, struct cowlab_rf_wait)

#endif /* _UAPI_COWLAB_H */
