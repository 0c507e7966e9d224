/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by faults.bpf.c and its users: user page-fault traps by kind. */
#ifndef COWLAB_BPF_FAULTS_H
#define COWLAB_BPF_FAULTS_H

/* x86 page-fault error code bits (arch/x86/include/asm/trap_pf.h) */
#define COWLAB_PF_PROT	(1UL << 0)	/* the page was present */
#define COWLAB_PF_WRITE	(1UL << 1)

enum cowlab_fault_kind {
	COWLAB_FAULT_WP,	/* write to a present page: COW (or soft-dirty, uffd-wp) */
	COWLAB_FAULT_WRITE_NP,	/* write to a missing page */
	COWLAB_FAULT_READ,	/* read or exec */
	COWLAB_FAULT_KINDS,
};

#endif
