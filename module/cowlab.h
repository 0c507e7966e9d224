/* SPDX-License-Identifier: GPL-2.0 */
/* cowlab: internal interfaces between the module's files. */
#ifndef _COWLAB_INTERNAL_H
#define _COWLAB_INTERNAL_H

#include <linux/types.h>
#include <uapi/cowlab.h>

#define COWLAB_MODULE_VERSION	"0.1.0"

struct task_struct;
struct mm_struct;
struct tracepoint;

/*
 * ksyms.c: non-exported kernel functions, resolved and verified at load time
 * and called only through static_call (direct calls: IBT-safe).
 */
int cowlab_ksyms_init(void);

/* The verified address of a kernel function (not exported is fine), or 0. */
unsigned long cowlab_resolve_function(const char *name);

/* Find a kernel tracepoint by name (exported iteration), or NULL. */
struct tracepoint *cowlab_find_tracepoint(const char *name);

/* The task behind pid (0 = current) with a reference, after the ptrace check. */
struct task_struct *cowlab_get_target(pid_t pid, int *err);
struct mm_struct *cowlab_task_mm(struct task_struct *task, int *err);

/* cowahead.c */
int cowlab_cowahead_init(void);
void cowlab_cowahead_exit(void);
bool cowlab_cowahead_ready(void);
long cowlab_cowahead_ioctl(unsigned int cmd, void __user *arg);

/* refork.c */
int cowlab_refork_init(void);
void cowlab_refork_exit(void);
bool cowlab_refork_ready(void);
long cowlab_refork_ioctl(unsigned int cmd, void __user *arg);

#endif /* _COWLAB_INTERNAL_H */
