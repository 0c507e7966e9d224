// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "faults.skel.h"
#include "traps.h"

struct cl_traps {
	struct faults_bpf *skel;
};

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

struct cl_traps *cl_traps_open(char *why, size_t len)
{
	static struct cl_traps t;
	libbpf_print_fn_t old = libbpf_set_print(silent);
	int err;

	t.skel = faults_bpf__open();
	if (!t.skel) {
		snprintf(why, len, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	err = faults_bpf__load(t.skel);
	if (!err)
		err = faults_bpf__attach(t.skel);
	if (err) {
		snprintf(why, len, "raw_tp/page_fault_user: %s%s", strerror(-err),
			 err == -EPERM ? " (needs CAP_BPF and CAP_PERFMON, or root)" : "");
		faults_bpf__destroy(t.skel);
		goto fail;
	}
	libbpf_set_print(old);
	return &t;
fail:
	libbpf_set_print(old);
	return NULL;
}

void cl_traps_follow(struct cl_traps *t, pid_t tgid)
{
	t->skel->bss->targ_tgid = (__u32)tgid;
	memset((void *)t->skel->bss->traps, 0, sizeof(t->skel->bss->traps));
	__sync_synchronize();
}

void cl_traps_read(const struct cl_traps *t, uint64_t out[COWLAB_FAULT_KINDS])
{
	int i;

	__sync_synchronize();
	for (i = 0; i < COWLAB_FAULT_KINDS; i++)
		out[i] = t->skel->bss->traps[i];
}

void cl_traps_close(struct cl_traps *t)
{
	if (t)
		faults_bpf__destroy(t->skel);
}
