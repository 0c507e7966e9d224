/* SPDX-License-Identifier: GPL-2.0 */
/* Count one process's page-fault traps by kind with bpf/faults.bpf.c. */
#ifndef COWLAB_TRAPS_H
#define COWLAB_TRAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../bpf/faults.h"

struct cl_traps;

/* Load and attach; NULL with the reason in @why when this kernel does not allow it. */
struct cl_traps *cl_traps_open(char *why, size_t len);
/* Follow @tgid from now on, counters zeroed. */
void cl_traps_follow(struct cl_traps *t, pid_t tgid);
void cl_traps_read(const struct cl_traps *t, uint64_t out[COWLAB_FAULT_KINDS]);
void cl_traps_close(struct cl_traps *t);

#endif
