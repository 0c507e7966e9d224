/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The seeded, randomized stress programs' common part (tests/stress/): a judge that runs
 * episodes (each a forked process tree driven by a list of operations generated from a
 * seed), judges each with an oracle that does not trust the module (the episode's own
 * checks of memory contents, pagemap and smaps; /proc/meminfo PageTables and AnonPages
 * back at their starting values once every process has exited; the kernel log after
 * quiescing), prints TAP, and on a failure prints the seed, the operations run and a
 * shortened sequence that still fails (delta debugging over the operation list).
 *
 * Nothing here uses the module's view of things: the episode programs talk to the raw
 * ioctl ABI (include/uapi/cowlab.h) and read /proc.
 */
#ifndef COWLAB_STRESSLIB_H
#define COWLAB_STRESSLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ST_PAGE		4096UL
#define ST_PMD		(2UL << 20)
#define ST_MAX_OPS	4096
#define ST_MSG		8192

/* One operation: a kind and up to five integer arguments (their meaning is the program's). */
struct st_op {
	uint16_t kind;
	uint16_t pad;
	uint32_t a[5];
};

/* Shared between the judge and an episode (MAP_SHARED, set up before the fork). */
struct st_shared {
	volatile int executed;		/* operations the episode has started */
	volatile int planned_kill;	/* the episode arranged its own SIGKILL */
	volatile int skipped;		/* the episode could not run here (reason in msg) */
	char msg[ST_MSG];		/* why it failed (or skipped) */
	uint64_t stats[64];		/* the program's counters, summed by the judge */
};

struct st_program {
	const char *name;			/* "refork", "cowahead" */
	const char *binary;			/* the program's name, "stress_<name>" if NULL */
	const char *const *kind_names;		/* for the operation log and --replay */
	unsigned int nr_kinds;
	const char *const *stat_names;		/* st_shared.stats[i], NULL-terminated */
	/* Fill ops[0..n) from the seed. */
	void (*generate)(uint64_t seed, struct st_op *ops, int n);
	/* Run the episode (in a fresh process); return 0 (pass) or 1 (failure, in sh->msg). */
	int (*episode)(uint64_t seed, const struct st_op *ops, int n, struct st_shared *sh);
	/* Once before the first episode (system setup); may be NULL. */
	void (*setup)(void);
};

/* The whole program: parses argv, runs the seeds, prints TAP. Returns the exit status. */
int st_main(const struct st_program *prog, int argc, char **argv);

/* ---- helpers for episodes ------------------------------------------------------------ */

struct st_rng {
	uint64_t s[4];
};

void st_rng_seed(struct st_rng *r, uint64_t seed);
uint64_t st_rnd(struct st_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t st_below(struct st_rng *r, uint64_t n);

uint64_t st_now_ns(void);
/* A 64-bit hash of one page's contents. */
uint64_t st_page_hash(const void *page);
/* The hash of a page of zeros. */
uint64_t st_zero_hash(void);

/* Append to sh->msg (printf style); the first failure stays first. */
void st_fail(struct st_shared *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set sh->skipped and the reason. */
void st_skip(struct st_shared *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read a whole /proc file into buf without malloc (layout-neutral): bytes, or -1. */
ssize_t st_read_file(const char *path, char *buf, size_t len);
/* The value of "Key:" in a /proc/.../status or meminfo style text, in kB (or the number). */
long long st_kv(const char *text, const char *key);

/* /proc/PID/pagemap entries for [addr, addr + n pages) (pid 0 = self). 0 or -errno. */
int st_pagemap(pid_t pid, uintptr_t addr, size_t n, uint64_t *out);

#define ST_PM_PRESENT	(1ULL << 63)
#define ST_PM_SWAP	(1ULL << 62)
#define ST_PM_FILE	(1ULL << 61)	/* file page or shared anon */
#define ST_PM_EXCL	(1ULL << 56)	/* page exclusively mapped */
#define ST_PM_PFN(e)	((e) & ((1ULL << 55) - 1))

/* Counters of page movement to other PFNs (/proc/vmstat): migration, compaction, khugepaged, swap-in. */
uint64_t st_vm_events(void);

/* Run cl_quiesce (every CPU, an RCU grace period, delayed works, vmstat folded). */
void st_quiesce(int wait_ms);

/* --verbose was given. */
bool st_verbose(void);

/* Write a string to a sysfs/proc file; 0 or -errno. */
int st_write_file(const char *path, const char *s);

#endif
