/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The measuring probes as a library (bpf/probes.bpf.c): choose, per probe,
 * fentry/fexit, kprobe/kretprobe or a tracepoint, whichever this kernel
 * allows, attach, and read the histograms. Used by `cowlab trace` and by the
 * benchmark runner around each workload.
 */
#ifndef COWLAB_PROBELIB_H
#define COWLAB_PROBELIB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "histo.h"
#include "probes.h"

enum cl_probe_id {
	CL_P_FORK, CL_P_FIRST_RUN, CL_P_DUP_MMAP, CL_P_CPR, CL_P_PGTABLES, CL_P_COW,
	CL_P_FAULTS, CL_P_SWAPIN, CL_P_SWAPREAD, CL_P_SWAPOUT, CL_P_DRECLAIM,
	CL_P_MRECLAIM, CL_P_COWAHEAD, CL_P_REFORK, CL_P_SWAPALLOC, CL_P_NR,
};

enum cl_method { CL_M_NONE, CL_M_FENTRY, CL_M_KPROBE, CL_M_TRACEPOINT };

struct cl_probe_opts {
	pid_t pid;		/* 0: every process; else this one and its descendants */
	const char *cgroup;	/* cgroup v2 directory, or NULL */
	const char *comm;	/* command name (15 chars at most), or NULL */
	uint32_t mask;		/* 1 << CL_P_*; 0 = all */
	enum cl_method force;	/* CL_M_NONE: best available; else only this method */
};

struct cl_probe_status {
	enum cl_method method;	/* CL_M_NONE: not attached */
	char target[160];	/* what it is attached to */
	char reason[512];	/* why not, per method; or a note */
};

struct cl_snapshot {
	struct cl_hist h[CL_H_NR];
	uint64_t c[CL_C_NR];
	/*
	 * events the kernel did not give the probes' programs, summed over them: an event
	 * that came while the same program was already running on that CPU (a task
	 * preempted inside it, an interrupt) is skipped and counted (bpf_prog_info's
	 * recursion_misses, since load)
	 */
	uint64_t missed;
};

struct cl_probes;

const char *cl_probe_name(int id);
const char *cl_probe_summary(int id);
const char *cl_method_name(enum cl_method m);
/* Histograms and counters a probe fills (terminated by -1). */
const int *cl_probe_hists(int id);
const int *cl_probe_counters(int id);
const char *cl_hist_name(int h);
const char *cl_counter_name(int c);
enum cl_unit cl_hist_unit(int h);

/* "fork,cow" or "all" -> mask; on a bad name, fills @err and returns -1. */
int cl_probe_parse(const char *list, uint32_t *mask, char *err, size_t len);
/* "auto", "fentry", "kprobe", "tracepoint" -> method; -1 when unknown. */
int cl_method_parse(const char *s);

/*
 * Check the capabilities BPF tracing needs. Returns 0, or -1 with a message
 * naming the missing ones in @err.
 */
int cl_probes_check_caps(char *err, size_t len);

/*
 * Load and attach. NULL with @err filled when nothing could be attached or the
 * options are bad (errno: ESRCH no such pid, ENOTDIR not a cgroup, EPERM).
 */
struct cl_probes *cl_probes_open(const struct cl_probe_opts *o, char *err, size_t len);
const struct cl_probe_status *cl_probes_status(const struct cl_probes *p, int id);
bool cl_probes_wanted(const struct cl_probes *p, int id);
/* Follow one more process (and its future children) under a PID filter. */
int cl_probes_track(struct cl_probes *p, pid_t pid);
/* Totals since open, summed over CPUs. */
int cl_probes_read(struct cl_probes *p, struct cl_snapshot *s);
void cl_probes_close(struct cl_probes *p);
/*
 * Detach every link and attach them again, the programs staying loaded: what a caller that
 * toggles probes many times uses (loading parses the kernel's BTF, and the allocator keeps
 * some of that memory, which a process that forks then copies). Reattach: 0 or -errno (then
 * all detached).
 */
void cl_probes_detach(struct cl_probes *p);
int cl_probes_reattach(struct cl_probes *p);
/*
 * Time spent in the probes' BPF programs and how many times they ran, summed
 * over every loaded program; counted only while BPF run-time statistics are
 * on (cl_bpf_stats_enable()). 0 on success.
 */
int cl_probes_run_time(const struct cl_probes *p, uint64_t *ns, uint64_t *runs);
/* Turn on BPF run-time statistics for as long as the returned fd is open; -1 on failure. */
int cl_bpf_stats_enable(void);

/* {"probes": {name: {"method","target","reason"}}, ...} pieces for JSON output */
struct json_t *cl_probes_status_json(const struct cl_probes *p);
/* {"histograms": {...}, "counters": {...}} of the wanted probes, non-empty only unless @all */
struct json_t *cl_snapshot_json(const struct cl_probes *p, const struct cl_snapshot *s);

#endif
