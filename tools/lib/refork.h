/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Speculative children and refork, from user space.
 *
 *   struct cl_spec s;
 *   cl_spec_start(&s, fd, child_fn, arg);     fork C; C runs child_fn(arg, 0), then parks
 *   ... P runs, changes its memory ...
 *   cowlab_refork(&s, &req, 0, &path);        C now holds P's memory; it runs child_fn(arg, gen)
 *   cl_spec_stop(&s);
 *
 * C registers with the module (RF_WAIT) before it runs anything, so its layout
 * is P's at fork. child_fn must not change C's layout of P's mappings (no
 * malloc that grows the heap, no mmap over them): that makes the next refork
 * ESTALE, and cowlab_refork() then forks a new C.
 */
#ifndef COWLAB_REFORK_H
#define COWLAB_REFORK_H

#include <stdint.h>
#include <sys/types.h>

#include <uapi/cowlab.h>

typedef void (*cl_spec_fn)(void *arg, uint64_t gen);

struct cl_spec {
	int fd;			/* /dev/cowlab */
	pid_t pid;		/* C, 0 when none */
	cl_spec_fn fn;
	void *arg;
	unsigned int forks;	/* children forked (the first and every fallback) */
	unsigned int reforks;	/* complete or partial incremental syncs */
};

enum cl_refork_path {
	CL_REFORK_INCREMENTAL,	/* the module synced C (complete or partial: see req->status) */
	CL_REFORK_FULL,		/* C was killed and forked again: fresh, like a complete sync */
};

/* cowlab_refork() flags */
#define CL_RF_WAIT_PARKED	(1U << 0) /* C still running its round: wait (up to 10 s) */
#define CL_RF_NO_FALLBACK	(1U << 1) /* return -ESTALE/-ESRCH instead of forking again */

/* Fork C. 0 or -errno. */
int cl_spec_start(struct cl_spec *s, int fd, cl_spec_fn fn, void *arg);

/*
 * Sync C with the caller (req->pid is filled in). On ESTALE (layout changed) or
 * ESRCH (C is gone) C is killed, reaped and forked again, unless
 * CL_RF_NO_FALLBACK. *path says which ran. 0 or -errno (-EBUSY: C is not
 * parked and CL_RF_WAIT_PARKED was not given).
 */
int cowlab_refork(struct cl_spec *s, struct cowlab_refork *req, unsigned int flags,
		  enum cl_refork_path *path);

/*
 * Wait (up to 10 s) until C is parked in RF_WAIT, without syncing it: a
 * REFORK call whose stop word has already flipped returns before any work.
 * For timing a sync alone, not C's way back to RF_WAIT. 0 or -errno
 * (-ESRCH: C is gone, -ETIMEDOUT).
 */
int cl_spec_wait_parked(struct cl_spec *s);

/* Kill and reap C. */
void cl_spec_stop(struct cl_spec *s);

/* The child's side, for programs that fork by themselves: register, run fn(0), park forever. */
void cl_spec_child(int fd, cl_spec_fn fn, void *arg) __attribute__((noreturn));

const char *cl_refork_stop_name(uint32_t reason);

#endif
