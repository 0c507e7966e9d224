/* SPDX-License-Identifier: GPL-2.0 */
/* System set-up shared by the swapping workloads: sysfs/proc files, memory cgroups, swap devices. */
#ifndef COWLAB_SYSUTIL_H
#define COWLAB_SYSUTIL_H

#include <stdint.h>
#include <sys/types.h>

/* Write @val to @path: 0 or -errno. */
int cl_write_file(const char *path, const char *val);
/* Read the first line of @path into @buf: 0 or -errno. */
int cl_read_file(const char *path, char *buf, int len);
/* A /proc/vmstat counter, or -1. */
long cl_vmstat(const char *key);
/* SwapTotal in kB. */
long cl_swap_total_kb(void);
/*
 * Move the caller into a new cgroup v2 group /sys/fs/cgroup/cowlab-NAME-PID
 * with memory.max = @limit; it leaves and removes the group at exit. 0, or -1
 * after printing why.
 */
int cl_memcg_join(const char *name, uint64_t limit);
/* A zram swap device of @size (e.g. "512M") unless zram0 is swapping already: 0 or -1. */
int cl_setup_zram(const char *size);

/* A kB field of /proc/PID/status (0: this process), e.g. "VmPTE"; -1 when absent. */
long cl_status_kb(pid_t pid, const char *key);

/*
 * Which page tables a process has written to since it last shared them, read from
 * /proc/PID/pagemap (0: this process) over its private writable mappings within
 * [lo, hi) (lo == hi: all of them), per 2 MiB region (one PTE table): *present counts
 * the regions holding a present page, *exclusive those holding a present page mapped
 * by this process alone (pagemap bit 56: a COW break, a page faulted in since the
 * fork, or one never shared). Right after fork() no region of either side is
 * exclusive; the exclusive regions are the tables a lazy, shared-page-table fork would
 * have had to unshare. 0, or -errno.
 */
int cl_pt_regions(pid_t pid, uintptr_t lo, uintptr_t hi, long *present, long *exclusive);

#endif
