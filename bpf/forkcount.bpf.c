// SPDX-License-Identifier: GPL-2.0
/* Count the forks (sched_process_fork) done by one process: the smallest probe, used by the tests. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile __u32 targ_tgid = 0;

__u64 forks = 0;

/* raw_tp: no tracefs needed (hosts often do not mount it) */
SEC("raw_tp/sched_process_fork")
int count_fork(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	__sync_fetch_and_add(&forks, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
