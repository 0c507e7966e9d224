/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the cowlab tool, workloads and tests. */
#ifndef COWLAB_UTIL_H
#define COWLAB_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Print "PROG: message" to stderr. */
void cl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cl_set_prog(const char *prog);

/* "4096", "64K", "256M", "1G", "1.5G" (binary units) -> bytes; -1 on bad input. */
int cl_parse_size(const char *s, uint64_t *out);
/* Whole number in [min, max]; -1 on bad input. */
int cl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Comma-separated names -> their indexes in names[0..n): "seq,stride" -> {0, 2}.
 * At most @max entries; returns how many, or -1 after printing "bad WHAT 'x'".
 */
int cl_parse_choices(char *list, const char *const *names, int n, int *out, int max,
		     const char *what);

uint64_t cl_now_ns(void);
/* COWLAB_INJECT_PCT=P: stretch the interval measured since @t0 by P% (a timing lane's test). */
void cl_inject(uint64_t t0);
/* icount guests: the measuring process is not preempted by its children (util.c). */
int cl_timing_sched(void);
/* icount guests: let the guest go idle before a timed interval (deferred work done; util.c). */
void cl_settle(void);
/*
 * Re-exec the running program (same argv) with address randomisation off, so
 * that layouts, and with them page-table and fault counts, repeat exactly.
 * Returns 0 when ASLR is already off; does not return when the exec works;
 * -1 with errno set otherwise.
 */
int cl_reexec_no_aslr(char **argv);

/* The repository root, found from the running binary (build/bin/X -> ../..). */
const char *cl_repo_root(void);
/* The source checkout this cowlab runs from (the directory holding vm/run), or NULL when
 * it is installed (make install, the cowlab package): the VM harness and the committed
 * baselines live only in a checkout. */
const char *cl_checkout(void);

#endif
