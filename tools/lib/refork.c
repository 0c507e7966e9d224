// SPDX-License-Identifier: GPL-2.0
/* Speculative children and refork, from user space: see refork.h. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "refork.h"

void cl_spec_child(int fd, cl_spec_fn fn, void *arg)
{
	struct cowlab_rf_wait w = { .generation = 0, .timeout_ns = 1 };
	uint64_t gen = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Register (a 1 ns wait) before running anything: the layout now is P's at fork. */
	if (ioctl(fd, COWLAB_IOC_RF_WAIT, &w) && errno != ETIMEDOUT)
		_exit(120);
	if (fn)
		fn(arg, 0);
	for (;;) {
		memset(&w, 0, sizeof(w));
		w.generation = gen;
		if (ioctl(fd, COWLAB_IOC_RF_WAIT, &w) == 0) {
			gen = w.generation;
			if (fn)
				fn(arg, gen);
			continue;
		}
		if (errno == EINTR)
			continue;
		_exit(errno == ESRCH ? 0 : 121);	/* ESRCH: the parent is gone */
	}
}

int cl_spec_start(struct cl_spec *s, int fd, cl_spec_fn fn, void *arg)
{
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->fn = fn;
	s->arg = arg;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		cl_spec_child(fd, fn, arg);
	s->pid = pid;
	s->forks = 1;
	return 0;
}

void cl_spec_stop(struct cl_spec *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	s->pid = 0;
}

static int respawn(struct cl_spec *s)
{
	pid_t pid;

	cl_spec_stop(s);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		cl_spec_child(s->fd, s->fn, s->arg);
	s->pid = pid;
	s->forks++;
	return 0;
}

/* COWLAB_IOC_REFORK on C; with @wait, retried while C is not parked (up to 10 s). 0 or errno. */
static int refork_ioctl(struct cl_spec *s, struct cowlab_refork *req, bool wait)
{
	struct timespec nap = { 0, 100000 };	/* 100 us */
	int tries = 0;

	for (;;) {
		req->pid = s->pid;
		if (ioctl(s->fd, COWLAB_IOC_REFORK, req) == 0)
			return 0;
		if (errno != EBUSY || !wait || ++tries >= 100000)
			return errno;
		nanosleep(&nap, NULL);
	}
}

int cowlab_refork(struct cl_spec *s, struct cowlab_refork *req, unsigned int flags,
		  enum cl_refork_path *path)
{
	int e = refork_ioctl(s, req, flags & CL_RF_WAIT_PARKED);

	if (!e) {
		s->reforks++;
		if (path)
			*path = CL_REFORK_INCREMENTAL;
		return 0;
	}
	if ((e != ESTALE && e != ESRCH) || (flags & CL_RF_NO_FALLBACK))
		return -e;
	e = respawn(s);
	if (e)
		return e;
	if (path)
		*path = CL_REFORK_FULL;
	return 0;
}

int cl_spec_wait_parked(struct cl_spec *s)
{
	uint32_t flipped = 1;
	struct cowlab_refork req = {
		.flags = COWLAB_RF_STOPWORD,
		.stop_addr = (uintptr_t)&flipped,
		.stop_val = 0,
	};
	int e = refork_ioctl(s, &req, true);

	/* ESTALE, EOPNOTSUPP: past the module's parked check, so C is parked. */
	if (!e || e == ESTALE || e == EOPNOTSUPP)
		return 0;
	return e == EBUSY ? -ETIMEDOUT : -e;
}

const char *cl_refork_stop_name(uint32_t reason)
{
	switch (reason) {
	case COWLAB_RF_STOP_NONE:	return "none";
	case COWLAB_RF_STOP_BUDGET:	return "budget";
	case COWLAB_RF_STOP_WORD:	return "stop-word";
	case COWLAB_RF_STOP_SIGNAL:	return "signal";
	default:			return "?";
	}
}
