// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF program (tracepoint sched_process_fork, filtered by tgid) counts the
 * forks of this process: exactly K of its own, and not the ones its children
 * do. Runs in the guest and on tracepoint-only hosts alike.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "forkcount.skel.h"
#include "tap.h"

#define K 37
#define M 11	/* forks done by a child: must not be counted */

static int quiet(enum libbpf_print_level l, const char *f, va_list a)
{
	return l == LIBBPF_WARN ? vfprintf(stderr, f, a) : 0;
}

static int fork_and_reap(int n)
{
	int i, status;

	for (i = 0; i < n; i++) {
		pid_t p = fork();

		if (p < 0)
			return -1;
		if (p == 0)
			_exit(0);
		if (waitpid(p, &status, 0) != p || !WIFEXITED(status))
			return -1;
	}
	return 0;
}

int main(void)
{
	struct forkcount_bpf *skel;
	int err, status;
	pid_t helper;

	tap_plan(3);
	libbpf_set_print(quiet);
	skel = forkcount_bpf__open();
	if (!tap_ok(skel != NULL, "open forkcount skeleton"))
		return tap_finish();
	skel->rodata->targ_tgid = getpid();
	err = forkcount_bpf__load(skel) ?: forkcount_bpf__attach(skel);
	if (!tap_ok(err == 0, "load and attach raw_tp/sched_process_fork (%s)", strerror(-err))) {
		tap_skip("no program attached");
		return tap_finish();
	}
	/* K forks of ours, plus one helper child that forks M times itself. */
	fork_and_reap(K - 1);
	helper = fork();
	if (helper == 0)
		_exit(fork_and_reap(M) ? 1 : 0);
	waitpid(helper, &status, 0);
	tap_ok(skel->bss->forks == K && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "counted %llu forks of this process (want exactly %d; the child's %d excluded)",
	       (unsigned long long)skel->bss->forks, K, M);
	forkcount_bpf__destroy(skel);
	return tap_finish();
}
