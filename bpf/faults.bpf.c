// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware page-fault exceptions (traps) taken in user mode by one process,
 * by kind, from the x86 tracepoint exceptions:page_fault_user. Traps, not
 * faults: getrusage() minor faults also count faults handled on a trap's
 * behalf (MADV_POPULATE_WRITE, gup, cow-ahead batches); this does not.
 * raw_tp: needs no tracefs, works on tracepoint-only kernels.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "faults.h"

/* Set at run time (bss), so one loaded program can follow a forked writer. 0 = all. */
__u32 targ_tgid = 0;

__u64 traps[COWLAB_FAULT_KINDS] = {};

SEC("raw_tp/page_fault_user")
int BPF_PROG(count_trap, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	int kind;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (!(error_code & COWLAB_PF_WRITE))
		kind = COWLAB_FAULT_READ;
	else if (error_code & COWLAB_PF_PROT)
		kind = COWLAB_FAULT_WP;
	else
		kind = COWLAB_FAULT_WRITE_NP;
	__sync_fetch_and_add(&traps[kind], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
