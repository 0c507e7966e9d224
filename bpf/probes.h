/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by probes.bpf.c and tools/lib/probes.c: what the probes record. */
#ifndef COWLAB_BPF_PROBES_H
#define COWLAB_BPF_PROBES_H

#include "hist.h"

/* Histograms (per CPU in the kernel). Latencies in ns unless noted. */
enum cl_hist_id {
	CL_H_FORK,		/* fork(2) in the parent, by syscall */
	CL_H_VFORK,		/* vfork(2): includes waiting for the child's exec/exit */
	CL_H_CLONE,		/* clone(2): glibc's fork() and posix_spawn() come here */
	CL_H_CLONE3,
	CL_H_FIRST_RUN,		/* child: created -> first scheduled in */
	CL_H_DUP_MMAP,		/* one per fork with a new mm */
	CL_H_CPR_CALL,		/* copy_page_range, one per copied VMA */
	CL_H_CPR_FORK,		/* copy_page_range summed over one fork */
	CL_H_PGTABLE_BYTES,	/* bytes of page tables the child received */
	CL_H_WP_COPY,		/* do_wp_page that copied the page */
	CL_H_WP_REUSE,		/* do_wp_page that reused it (last reference) */
	CL_H_WP_SHARED,		/* do_wp_page on a shared mapping (no COW) */
	CL_H_FAULT_ANON,	/* handle_mm_fault by kind, minor then major */
	CL_H_FAULT_ANON_MAJ,
	CL_H_FAULT_FILE,
	CL_H_FAULT_FILE_MAJ,
	CL_H_FAULT_SWAP,
	CL_H_FAULT_SWAP_MAJ,
	CL_H_FAULT_COW,
	CL_H_FAULT_COW_MAJ,
	CL_H_SWAPIN,		/* do_swap_page */
	CL_H_SWAP_READ,		/* swap_readpage / swap_read_folio (submission for async devices) */
	CL_H_SWAP_WRITE,	/* swap_writepage */
	CL_H_DIRECT_RECLAIM,
	CL_H_MEMCG_RECLAIM,
	CL_H_CA_BATCH_NS,	/* cowlab module: one cow-ahead batch */
	CL_H_CA_BATCH_PAGES,	/* pages it made writable (count, not ns) */
	CL_H_REFORK,		/* cowlab module: one refork call (complete or partial sync) */
	CL_H_REFORK_PTES,	/* entries it re-copied (count, not ns) */
	CL_H_SWAP_ALLOC,	/* swap-slot allocation (folio_alloc_swap, or get_swap_pages) */
	CL_H_NR,
};

/* Plain counters (per CPU). */
enum cl_counter_id {
	CL_C_TRAP_WP,		/* exceptions:page_fault_user: write to a present page */
	CL_C_TRAP_WRITE_NP,	/* write to a missing page */
	CL_C_TRAP_READ,		/* read or exec */
	CL_C_FORKS,		/* sched_process_fork of a new process (not a thread) */
	CL_C_THREADS,		/* sched_process_fork of a thread */
	CL_C_STATE_FULL,	/* a per-thread state slot could not be allocated */
	CL_C_RF_COMPLETE,	/* refork calls that completed the sync */
	CL_C_RF_PARTIAL,	/* ... that stopped early (budget, stop word, signal) */
	CL_C_NR,
};

/* Fault-in-progress flags, set by nested probes, read when the fault ends. */
#define CL_FF_COW	(1U << 0)
#define CL_FF_SWAP	(1U << 1)

#endif
