/* SPDX-License-Identifier: GPL-2.0 */
/* System set-up shared by the swapping workloads: sysfs/proc files, memory cgroups, swap devices. */
#ifndef COWLAB_SYSUTIL_H
#define COWLAB_SYSUTIL_H

#include <stdint.h>

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

#endif
