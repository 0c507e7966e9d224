// SPDX-License-Identifier: GPL-2.0
/*
 * stress_cowahead: seeded, randomized stress of cow-ahead against the raw ABI.
 *
 * An episode: P fills four regions (THP-advised anonymous, no-THP anonymous, default
 * anonymous with holes, a private file mapping), then runs rounds. A round forks a chain of
 * descendants (depth 1 to 3) with random policies on any of them (fixed or adaptive windows,
 * RANGE, NO_INHERIT, KEEP_EXEC), and one of them, the writer, writes in random patterns
 * (sequential, reverse, strided, random, whole huge pages) while P writes its own pages,
 * policies change under it, a second thread of the writer zaps pages it never writes, and
 * the writer may exec itself (the new image checks whether the policy survived, forks and
 * writes again).
 *
 * The oracle trusts nothing the module says:
 *  - contents: every process of the chain holds exactly its own writes over what it
 *    inherited at fork, whatever the others wrote (COW isolation with pages broken early);
 *  - pagemap of the writer: a page it wrote maps a page of its own (exclusive); a page it
 *    did not write either still maps its parent's PFN or was broken ahead, and then lies
 *    within the policy's window after a page it wrote, inside the same region and the
 *    policy's RANGE; a hole (never touched, or zapped by the second thread) and not written
 *    is still a hole: cow-ahead never populates;
 *  - the module's counters are only checked against those observations (pages broken ahead
 *    that the writer did not write <= pages_broken <= window x batches);
 *  - inheritance: CA_GET in every descendant says what the flags promise;
 *  - and from the judge: PageTables and AnonPages back at their starting values once every
 *    process exited, and a clean kernel log after quiescing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "stresslib.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

enum { R_THP, R_NOTHP, R_HOLES, R_FILE, NR_REG };

static const struct {
	const char *name;
	unsigned int pages;
	int advice;
} reg_def[NR_REG] = {
	[R_THP] = { "thp", 1024, MADV_HUGEPAGE },
	[R_NOTHP] = { "nothp", 768, MADV_NOHUGEPAGE },
	/*
	 * No THP here: under THP "always" khugepaged collapses a range with holes into a THP
	 * (max_ptes_none), filling the holes with zeros: a population the oracle must not
	 * blame on cow-ahead (seen on 6.12: a zapped page present again, exclusive).
	 */
	[R_HOLES] = { "holes", 768, MADV_NOHUGEPAGE },
	[R_FILE] = { "file", 512, 0 },
};

#define MAXPG		3072
#define MAXDEPTH	3
#define FILE_PATH	"/tmp/cowlab-stress-cowahead.dat"

enum { OP_ROUND, OP_WRITE, OP_PWRITE, OP_SETPOL, OP_ZAP, OP_COLLAPSE, OP_EXEC, OP_CHECK, NR_OPS };

static const char *const op_names[NR_OPS] = {
	"round", "write", "pwrite", "setpol", "zap", "collapse", "exec", "check",
};

enum { ST_ROUNDS, ST_WRITES, ST_CHECKS, ST_BROKEN_SEEN, ST_BATCHES, ST_EXECS, ST_POLICY_CHANGES,
       ST_ZAPS, ST_HOLES_JUDGED, NR_STATS };

static const char *const stat_names[NR_STATS + 1] = {
	"rounds", "writes", "checks", "pages-broken-ahead-seen", "batches", "execs",
	"policy-changes", "zaps", "holes-judged", NULL
};

static void gen_ops(uint64_t seed, struct st_op *ops, int n)
{
	struct st_rng r;
	int i;

	st_rng_seed(&r, seed);
	for (i = 0; i < n; i++) {
		struct st_op *o = &ops[i];
		uint64_t x = st_below(&r, 100);

		memset(o, 0, sizeof(*o));
		o->a[0] = st_rnd(&r);
		o->a[1] = st_rnd(&r);
		o->a[2] = st_rnd(&r);
		o->a[3] = st_rnd(&r);
		o->a[4] = st_rnd(&r);
		if (i == 0 || x < 12)
			o->kind = OP_ROUND;
		else if (x < 55)
			o->kind = OP_WRITE;
		else if (x < 63)
			o->kind = OP_PWRITE;
		else if (x < 73)
			o->kind = OP_SETPOL;
		else if (x < 80)
			o->kind = OP_ZAP;
		else if (x < 84)
			o->kind = OP_COLLAPSE;
		else if (x < 88)
			o->kind = OP_EXEC;
		else
			o->kind = OP_CHECK;
	}
}

/* ---- shared state ---------------------------------------------------------------------------- */

struct region {
	uint8_t *addr;
	unsigned int pages, first;
};

struct proc {				/* one process of the chain: slot 0 is P */
	volatile pid_t pid;
	uint64_t expect[MAXPG];		/* the hash each page must have */
	uint8_t wrote[MAXPG];		/* written by this process since its fork */
	uint8_t hole[MAXPG];		/* not present when forked, not written since */
	uint8_t zapped[MAXPG];		/* zapped by the writer's second thread, not written since */
	uint64_t events;		/* st_vm_events() at its fork: PFNs moved by the kernel? */
	uint64_t ppfn[MAXPG];		/* its parent's pagemap entries at its fork */
	uint32_t window, flags;		/* the policy set on it (0: none) */
	uint64_t rstart, rend;		/* its RANGE */
	bool inherited;			/* the policy came by fork: window and flags are the parent's */
	volatile int ready;		/* it runs and waits for commands */
	/* Over every policy it had since its fork (they change under it): */
	uint32_t maxwin;		/* the largest window */
	bool anyrange;			/* one had no RANGE: pages anywhere may be broken */
	uint64_t hlo, hhi;		/* else the hull of the ranges */
	struct cowlab_cowahead_stats st0;	/* its counters when it started */
};

struct ctl {
	struct region reg[NR_REG];
	struct proc p[MAXDEPTH + 1];
	int depth, writer;
	/* command to the writer: kind, args; the writer answers in done */
	volatile uint64_t cmd_seq, cmd_done;
	struct st_op cmd;
	volatile int zapping;		/* the writer's zap thread runs */
	volatile uint32_t zap_count;
	char err[1024];
	volatile int failed;
	char scratch[65536];
};

static struct ctl *ctl;
static struct region *R;
static int dev = -1;
static struct st_shared *SH;

static uint8_t *page_addr(unsigned int pg)
{
	int i;

	for (i = NR_REG - 1; i >= 0; i--)
		if (pg >= R[i].first)
			return R[i].addr + (size_t)(pg - R[i].first) * ST_PAGE;
	return NULL;
}

static int region_of(unsigned int pg)
{
	int i;

	for (i = NR_REG - 1; i >= 0; i--)
		if (pg >= R[i].first)
			return i;
	return 0;
}

static unsigned int total_pages(void)
{
	return R[NR_REG - 1].first + R[NR_REG - 1].pages;
}

static void cfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cfail(const char *fmt, ...)
{
	va_list ap;
	size_t l = strlen(ctl->err);

	if (l + 8 >= sizeof(ctl->err))
		return;
	if (l)
		ctl->err[l++] = ';', ctl->err[l++] = ' ';
	va_start(ap, fmt);
	vsnprintf(ctl->err + l, sizeof(ctl->err) - l, fmt, ap);
	va_end(ap);
	ctl->failed = 1;
}

static void put_page(struct proc *me, unsigned int pg, uint64_t val)
{
	uint64_t *w = (uint64_t *)page_addr(pg);

	w[(val >> 7) % (ST_PAGE / 8)] = val;
	w[0] = val ^ pg;
	me->expect[pg] = st_page_hash(w);
	me->wrote[pg] = 1;
	me->hole[pg] = 0;
}

/* Write pages of one region in a pattern. */
static void do_write(struct proc *me, const struct st_op *o)
{
	unsigned int reg = o->a[0] % NR_REG, np = R[reg].pages, start = o->a[1] % np;
	unsigned int count = 1 + o->a[2] % 300, pat = o->a[3] % 5, stride = 2 + o->a[4] % 7, i;
	struct st_rng r;

	st_rng_seed(&r, o->a[4]);
	if (pat == 4) {		/* a whole 2 MiB-aligned chunk */
		uintptr_t a = (uintptr_t)(R[reg].addr + (size_t)start * ST_PAGE) & ~(ST_PMD - 1);

		start = a < (uintptr_t)R[reg].addr ? 0 : (a - (uintptr_t)R[reg].addr) / ST_PAGE;
		count = 512;
		pat = 0;
	}
	for (i = 0; i < count; i++) {
		unsigned int pg;

		switch (pat) {
		case 0: pg = start + i; break;
		case 1: pg = start >= i ? start - i : np; break;
		case 2: pg = start + i * stride; break;
		default: pg = st_below(&r, np); break;
		}
		if (pg >= np)
			break;
		if (reg == R_HOLES && (pg % 8) == 7)
			continue;	/* the zap thread's pages: never written */
		put_page(me, R[reg].first + pg, st_rnd(&r) | 1);
	}
}

static void check_contents(struct proc *me, const char *who)
{
	unsigned int n = total_pages(), i, bad = 0, first = 0;
	uint64_t zh = st_zero_hash();

	for (i = 0; i < n; i++) {
		uint64_t h;

		if (me->hole[i] || me->zapped[i])
			continue;	/* reads as zeros, or as the file's page */
		h = st_page_hash(page_addr(i));
		/*
		 * A zap that came between the mark's read and the hash (the zap thread marks
		 * first): the mark is seen now.
		 */
		if (__atomic_load_n(&me->zapped[i], __ATOMIC_SEQ_CST))
			continue;
		if (h != me->expect[i] && !(me->expect[i] == 0 && h == zh)) {
			if (!bad++)
				first = i;
		}
	}
	if (bad)
		cfail("%s (pid %d): %u pages do not hold what it wrote or inherited (first page %u)",
		      who, getpid(), bad, first);
}

static int ca_set(pid_t pid, uint32_t window, uint32_t flags, uint64_t s, uint64_t e)
{
	struct cowlab_cowahead_policy p = { .pid = pid, .window = window, .flags = flags };

	if (flags & COWLAB_CA_RANGE) {
		p.start = s;
		p.end = e;
	}
	return ioctl(dev, COWLAB_IOC_CA_SET, &p) ? -errno : 0;
}

static void note_policy(struct proc *me)
{
	if (!me->window)
		return;
	if (me->window > me->maxwin)
		me->maxwin = me->window;
	if (!(me->flags & COWLAB_CA_RANGE)) {
		me->anyrange = true;
	} else {
		if (!me->hlo || me->rstart < me->hlo)
			me->hlo = me->rstart;
		if (me->rend > me->hhi)
			me->hhi = me->rend;
	}
}

static void random_policy(struct proc *me, pid_t pid, const struct st_op *o)
{
	uint32_t win = o->a[1] % 5 == 0 ? 0 : 1 + o->a[1] % 64, flags = 0;
	unsigned int reg = o->a[2] % NR_REG;
	int e;

	if (o->a[2] & (1U << 8))
		flags |= COWLAB_CA_ADAPTIVE;
	if (o->a[2] & (1U << 9))
		flags |= COWLAB_CA_NO_INHERIT;
	if (o->a[2] & (1U << 10))
		flags |= COWLAB_CA_KEEP_EXEC;
	if ((o->a[2] & (3U << 11)) == 0) {
		flags |= COWLAB_CA_RANGE;
		me->rstart = (uintptr_t)R[reg].addr;
		me->rend = me->rstart + (uint64_t)R[reg].pages * ST_PAGE;
	}
	struct cowlab_cowahead_stats before = { .pid = pid };
	bool had = !win && ioctl(dev, COWLAB_IOC_CA_STATS, &before) == 0;

	e = ca_set(pid, win, win ? flags : 0, me->rstart, me->rend);
	/*
	 * Clearing drops the counters (a replaced policy keeps them): the next policy counts
	 * from zero, so the baseline moves down by what was counted (modulo 2^64). No batch
	 * runs in between: batches run in this thread, on its way back to user space.
	 */
	if (!e && had) {
		me->st0.pages_broken -= before.pages_broken;
		me->st0.batches -= before.batches;
	}
	if (e) {
		cfail("CA_SET pid %d window %u flags 0x%x: %s", pid, win, flags, strerror(-e));
		return;
	}
	me->window = win;
	me->flags = win ? flags : 0;
	me->inherited = false;
	note_policy(me);
}

/* What CA_GET says about pid: window or 0 (ENOENT). */
static int ca_window(pid_t pid, uint32_t *flags)
{
	struct cowlab_cowahead_policy p = { .pid = pid };

	if (ioctl(dev, COWLAB_IOC_CA_GET, &p))
		return errno == ENOENT ? 0 : -errno;
	*flags = p.flags;
	return p.window;
}

/*
 * The writer's pagemap against what it did, and the bounds of cow-ahead: see the header.
 * me is the writer, parent the process it was forked from (whose PFNs it started with).
 */
/* /proc/kpageflags: is the page of pagemap entry @e part of a THP (KPF_THP)? */
static bool pfn_is_thp(uint64_t e)
{
	uint64_t f = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);
	bool thp;

	if (fd < 0)
		return false;
	thp = pread(fd, &f, 8, (off_t)ST_PM_PFN(e) * 8) == 8 && (f >> 22 & 1);
	close(fd);
	return thp;
}

static void check_pagemap(struct proc *me, struct cowlab_cowahead_stats *st0)
{
	static uint64_t pm[MAXPG];
	struct cowlab_cowahead_stats st = { .pid = 0 };
	unsigned int n = total_pages(), i, broken = 0, outside = 0, populated = 0, notmine = 0;
	uint32_t maxwin = me->maxwin;
	unsigned int k;

	for (k = 0; k < NR_REG; k++)
		if (st_pagemap(0, (uintptr_t)R[k].addr, R[k].pages, pm + R[k].first))
			return;
	bool moved = st_vm_events() != me->events;

	for (i = 0; i < n; i++) {
		uint64_t e = pm[i], p = me->ppfn[i];
		bool present = e & ST_PM_PRESENT;

		if (me->zapped[i] && !me->wrote[i]) {
			SH->stats[ST_HOLES_JUDGED]++;
			if (present && !populated++)
				cfail("page %u was zapped by the writer's other thread and never written "
				      "but is mapped again (pagemap %016llx%s): cow-ahead populated it", i,
				      (unsigned long long)e, pfn_is_thp(e) ? ", part of a THP" : "");
			continue;
		}
		if (me->hole[i]) {
			SH->stats[ST_HOLES_JUDGED]++;
			if (present && !(e & ST_PM_FILE) && region_of(i) != R_FILE) {
				if (!populated++)
					cfail("page %u was a hole and never written but is now mapped "
					      "(pagemap %016llx): cow-ahead populated it", i,
					      (unsigned long long)e);
			}
			continue;
		}
		if (me->wrote[i]) {
			/*
			 * Its own page now, mapped by nobody else (the PFN may still be the
			 * parent's at fork: when the parent broke COW first, the write reused it).
			 */
			if (present && !(e & ST_PM_EXCL) && !notmine++)
				cfail("page %u written by pid %d is not exclusively its own (pagemap "
				      "%016llx, parent's at fork %016llx)", i, getpid(),
				      (unsigned long long)e, (unsigned long long)p);
			continue;
		}
		/* not written: shared with the parent, or broken ahead (unless the kernel moved it) */
		if (moved || !present || !(p & ST_PM_PRESENT) || ST_PM_PFN(e) == ST_PM_PFN(p))
			continue;
		broken++;
		{
			/* within the window after a page it wrote, same region, inside RANGE */
			unsigned int reg = region_of(i), j, lo = R[reg].first;
			bool ok = false;
			uintptr_t a = (uintptr_t)page_addr(i);

			for (j = i; j > lo && i - j < maxwin && !ok; j--)
				ok = me->wrote[j - 1];
			if (!me->anyrange)
				ok = ok && a >= me->hlo && a < me->hhi;
			if (!maxwin)
				ok = false;
			if (!ok && !outside++)
				cfail("page %u broken ahead (PFN %llx, parent's %llx) but not within the "
				      "largest window %u after a page it wrote%s", i,
				      (unsigned long long)ST_PM_PFN(e), (unsigned long long)ST_PM_PFN(p),
				      maxwin, me->anyrange ? "" : " inside the RANGEs");
		}
	}
	SH->stats[ST_BROKEN_SEEN] += broken;
	if (ioctl(dev, COWLAB_IOC_CA_STATS, &st) == 0 && st0) {
		uint64_t pb = st.pages_broken - st0->pages_broken, bt = st.batches - st0->batches;

		SH->stats[ST_BATCHES] += bt;
		if (broken > pb)
			cfail("%u pages broken ahead are seen, the module counted %llu", broken,
			      (unsigned long long)pb);
		if (pb > bt * me->maxwin)
			cfail("pages_broken %llu > batches %llu x the largest window %u",
			      (unsigned long long)pb, (unsigned long long)bt, me->maxwin);
	}
}

/* ---- the chain ---------------------------------------------------------------------------- */

static void zap_thread_body(struct proc *me)
{
	struct st_rng r;

	st_rng_seed(&r, getpid());
	while (ctl->zapping) {
		unsigned int pg = 8 * st_below(&r, R[R_HOLES].pages / 8) + 7;

		/* marked first: a page populated after this mark is a page cow-ahead populated */
		__atomic_store_n(&me->zapped[R[R_HOLES].first + pg], 1, __ATOMIC_SEQ_CST);
		madvise(R[R_HOLES].addr + (size_t)pg * ST_PAGE, ST_PAGE, MADV_DONTNEED);
		ctl->zap_count++;
		if (st_below(&r, 4) == 0)
			usleep(st_below(&r, 200));
	}
}

static void *zap_thread(void *arg)
{
	zap_thread_body(arg);
	return NULL;
}

static void snapshot_for_child(struct proc *parent, struct proc *child)
{
	unsigned int n = total_pages(), k;

	memcpy(child->expect, parent->expect, n * sizeof(uint64_t));
	memset(child->wrote, 0, n);
	memset(child->zapped, 0, n);
	child->events = st_vm_events();
	for (k = 0; k < NR_REG; k++)
		st_pagemap(0, (uintptr_t)R[k].addr, R[k].pages, child->ppfn + R[k].first);
	for (k = 0; k < n; k++)
		child->hole[k] = !(child->ppfn[k] & (ST_PM_PRESENT | ST_PM_SWAP));
	child->maxwin = 0;
	child->anyrange = false;
	child->hlo = child->hhi = 0;
	/* A fork inherits the policy unless NO_INHERIT. */
	if (parent->window && !(parent->flags & COWLAB_CA_NO_INHERIT)) {
		child->window = parent->window;
		child->flags = parent->flags;
		child->rstart = parent->rstart;
		child->rend = parent->rend;
		child->inherited = true;
		note_policy(child);
	} else {
		child->window = child->flags = 0;
		child->inherited = false;
	}
}

static void chain_member(int level, const char *self);

static pid_t fork_member(int level, const char *self)
{
	pid_t pid;

	snapshot_for_child(&ctl->p[level - 1], &ctl->p[level]);
	pid = fork();
	if (pid == 0)
		chain_member(level, self);
	if (pid > 0)
		ctl->p[level].pid = pid;
	return pid;
}

static pthread_t zt;
static bool zt_on;

/* The writer's zap thread stops (before any check: it zaps while running). */
static void stop_zapper(void)
{
	if (zt_on) {
		ctl->zapping = 0;
		pthread_join(zt, NULL);
		zt_on = false;
	}
}

/* The writer's handling of one command. */
static void writer_cmd(struct proc *me, const struct st_op *o, const char *self)
{

	switch (o->kind) {
	case OP_WRITE:
		do_write(me, o);
		SH->stats[ST_WRITES]++;
		break;
	case OP_SETPOL:
		random_policy(me, 0, o);
		SH->stats[ST_POLICY_CHANGES]++;
		break;
	case OP_ZAP:
		if (!zt_on) {
			ctl->zapping = 1;
			zt_on = pthread_create(&zt, NULL, zap_thread, me) == 0;
			SH->stats[ST_ZAPS]++;
		} else {
			ctl->zapping = 0;
			pthread_join(zt, NULL);
			zt_on = false;
		}
		break;
	case OP_COLLAPSE: {
		unsigned int reg = o->a[0] % 2;

		madvise(R[reg].addr, (size_t)R[reg].pages * ST_PAGE, MADV_COLLAPSE);
		break;
	}
	case OP_CHECK:
	default:
		if (zt_on) {
			ctl->zapping = 0;
			pthread_join(zt, NULL);
			zt_on = false;
		}
		check_contents(me, "the writer");
		check_pagemap(me, &me->st0);
		SH->stats[ST_CHECKS]++;
		break;
	}
	(void)self;
}

static void chain_member(int level, const char *self)
{
	struct proc *me = &ctl->p[level];
	uint64_t seen = ctl->cmd_seq;	/* commands from now on are ours */
	uint32_t flags = 0;
	int w;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	me->pid = getpid();
	/* Inheritance: what CA_GET says must be what fork promises. */
	w = ca_window(0, &flags);
	if (w < 0 || (uint32_t)w != me->window || (w && flags != me->flags))
		cfail("level %d: CA_GET window %d flags 0x%x after fork, want %u 0x%x", level, w, flags,
		      me->window, me->flags);
	if (level < ctl->depth && fork_member(level + 1, self) < 0)
		cfail("fork at level %d failed", level);
	memset(&me->st0, 0, sizeof(me->st0));
	ioctl(dev, COWLAB_IOC_CA_STATS, &me->st0);	/* ENOENT without a policy: zeros */
	me->ready = 1;
	for (;;) {
		while (ctl->cmd_seq == seen)
			usleep(30);
		seen = ctl->cmd_seq;
		if (ctl->cmd.kind == OP_ROUND) {	/* the round ends: everyone checks and leaves */
			/*
			 * The zap thread still ran here during the check (seen once on 7.3, a
			 * fresh seed: a page zapped between the check's read of its mark and its
			 * hash, blamed on cow-ahead).
			 */
			if (level == ctl->writer)
				stop_zapper();
			break;
		}
		if (level == ctl->writer) {
			if (ctl->cmd.kind == OP_EXEC) {
				char lv[16], sq[32];

				snprintf(lv, sizeof(lv), "%d", level);
				snprintf(sq, sizeof(sq), "%llu", (unsigned long long)seen);
				if (ctl->zapping) {
					ctl->zapping = 0;
					usleep(1000);
				}
				ctl->cmd_done = seen;
				execl(self, self, "--exec-writer", lv, sq, (char *)NULL);
				cfail("exec %s: %s", self, strerror(errno));
				_exit(1);
			}
			writer_cmd(me, &ctl->cmd, self);
			ctl->cmd_done = seen;
		}
	}
	check_contents(me, level == ctl->writer ? "the writer" : "a chain member");
	if (level < ctl->depth && ctl->p[level + 1].pid > 0) {
		int st;

		/* Our child checks too: wait for it (our exit would kill it, PDEATHSIG). */
		while (waitpid(ctl->p[level + 1].pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st))
			cfail("chain level %d died of signal %d", level + 1, WTERMSIG(st));
	}
	_exit(0);
}

/*
 * The writer after exec: its memory is new, so it checks only what exec promises (the
 * policy survives with KEEP_EXEC, else it is gone), then forks a child of its own over a
 * fresh region, writes there sequentially and checks contents and that cow-ahead
 * behaved as that policy says.
 */
static int exec_writer(int level, uint64_t seen)
{
	struct proc *me;
	uint32_t flags = 0;
	int w, fd = 3;
	size_t np = 512, i;
	uint8_t *m;
	pid_t c;
	int st;

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	dev = open(COWLAB_DEVICE, O_RDWR);
	if (ctl == MAP_FAILED || dev < 0)
		return 2;
	me = &ctl->p[level];
	w = ca_window(0, &flags);
	if (me->window && (me->flags & COWLAB_CA_KEEP_EXEC)) {
		if ((uint32_t)w != me->window)
			cfail("after exec with KEEP_EXEC: window %d, want %u", w, me->window);
	} else if (w != 0) {
		cfail("after exec without KEEP_EXEC (policy window %u flags 0x%x): window %d", me->window,
		      me->flags, w);
	}
	m = mmap(NULL, np * ST_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < np; i++)
		memset(m + i * ST_PAGE, (int)(i & 0xff) | 1, ST_PAGE);
	c = fork();
	if (c == 0) {
		struct cowlab_cowahead_stats s0 = { .pid = 0 }, s1 = { .pid = 0 };
		size_t bad = 0;

		ioctl(dev, COWLAB_IOC_CA_STATS, &s0);
		for (i = 0; i < np; i++)
			m[i * ST_PAGE + 17] = 0xee;
		for (i = 0; i < np; i++)
			bad += m[i * ST_PAGE] != ((int)(i & 0xff) | 1) || m[i * ST_PAGE + 17] != 0xee;
		if (bad)
			cfail("after exec: the child's %zu pages hold the wrong contents", bad);
		if (w > 0 && !(flags & COWLAB_CA_RANGE) && ioctl(dev, COWLAB_IOC_CA_STATS, &s1) == 0 &&
		    s1.pages_broken == s0.pages_broken && !(flags & COWLAB_CA_NO_INHERIT))
			cfail("after exec with a kept policy (window %d): no page broken ahead in "
			      "%zu sequential COW writes", w, np);
		_exit(0);
	}
	waitpid(c, &st, 0);
	for (i = 0; i < np; i++)
		if (m[i * ST_PAGE] != ((int)(i & 0xff) | 1) || m[i * ST_PAGE + 17] == 0xee)
			cfail("after exec: the child's writes reached the parent (page %zu)", i);
	/* Wait for the end of the round like the others (P sends it nothing else). */
	while (!(ctl->cmd.kind == OP_ROUND && ctl->cmd_seq != seen))
		usleep(100);
	/* Its child in the chain (forked before the exec) checks too. */
	if (level < ctl->depth && ctl->p[level + 1].pid > 0)
		waitpid(ctl->p[level + 1].pid, &st, 0);
	return 0;
}

/* ---- the episode ------------------------------------------------------------------------------ */

static int memfd = -1;

static void send_cmd(const struct st_op *o)
{
	uint64_t t0 = st_now_ns(), seq;

	ctl->cmd = *o;
	seq = __atomic_add_fetch(&ctl->cmd_seq, 1, __ATOMIC_ACQ_REL);
	if (o->kind == OP_ROUND)
		return;
	while (ctl->cmd_done != seq) {
		if (st_now_ns() - t0 > 60000000000ULL) {
			cfail("the writer did not answer command %s", op_names[o->kind]);
			return;
		}
		usleep(30);
	}
}

static void end_round(void)
{
	struct st_op o = { .kind = OP_ROUND };
	int i, st;

	if (!ctl->depth)
		return;
	send_cmd(&o);
	for (i = 1; i <= ctl->depth; i++) {
		pid_t pid = ctl->p[i].pid;

		if (pid <= 0)
			continue;
		/* only the first level is our child; the others are reaped by their parents */
		if (i == 1) {
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			if (WIFSIGNALED(st))
				cfail("chain level 1 died of signal %d", WTERMSIG(st));
		}
	}
	ctl->depth = 0;
	check_contents(&ctl->p[0], "P");
}

static void start_round(const struct st_op *o, const char *self)
{
	struct proc *p0 = &ctl->p[0];
	int level;

	end_round();
	ctl->depth = 1 + o->a[0] % MAXDEPTH;
	ctl->writer = 1 + o->a[1] % ctl->depth;
	/* P's own policy, inherited down the chain or not */
	random_policy(p0, 0, o);
	for (level = 1; level <= ctl->depth; level++)
		ctl->p[level].pid = ctl->p[level].ready = 0;
	if (fork_member(1, self) < 0) {
		cfail("fork failed");
		return;
	}
	/* wait until the chain is up */
	{
		uint64_t t0 = st_now_ns();

		for (level = 1; level <= ctl->depth; level++)
			while (!ctl->p[level].ready && st_now_ns() - t0 < 30000000000ULL)
				usleep(100);
	}
	/* Sometimes a policy on the writer itself, set from P by pid. */
	if (o->a[3] & 1) {
		random_policy(&ctl->p[ctl->writer], ctl->p[ctl->writer].pid, o);
		SH->stats[ST_POLICY_CHANGES]++;
	}
	SH->stats[ST_ROUNDS]++;
}

static int setup_regions(void)
{
	int i, fd;
	unsigned int p;

	fd = open(FILE_PATH, O_RDONLY);
	if (fd < 0)
		return -1;
	for (i = 0; i < NR_REG; i++) {
		size_t len = (size_t)reg_def[i].pages * ST_PAGE;
		uint8_t *m = mmap(NULL, len + ST_PMD, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | (i == R_FILE ? 0 : MAP_ANONYMOUS), i == R_FILE ? fd : -1, 0);
		uint8_t *a;

		if (m == MAP_FAILED)
			return -1;
		if (i == R_FILE) {
			a = m;
			munmap(m + len, ST_PMD);
		} else {
			a = (uint8_t *)(((uintptr_t)m + ST_PMD - 1) & ~(ST_PMD - 1));
			if (a > m)
				munmap(m, a - m);
			munmap(a + len, (m + len + ST_PMD) - (a + len));
		}
		if (reg_def[i].advice)
			madvise(a, len, reg_def[i].advice);
		R[i].addr = a;
		R[i].pages = reg_def[i].pages;
		R[i].first = i ? R[i - 1].first + R[i - 1].pages : 0;
	}
	close(fd);
	/*
	 * Fill every page but the holes (R_HOLES's odd 64-page chunks). Every 8th page of
	 * R_HOLES is present but never written by a writer: its second thread zaps them.
	 */
	for (p = 0; p < total_pages(); p++) {
		int reg = region_of(p);
		unsigned int q = p - R[reg].first;

		if (reg == R_HOLES && (q / 64) % 2 && (q % 8) != 7)
			continue;
		if (reg == R_FILE && q % 3) {
			volatile uint8_t x = *page_addr(p);	/* mapped, the file's page */

			(void)x;
			ctl->p[0].expect[p] = st_page_hash(page_addr(p));
			continue;
		}
		put_page(&ctl->p[0], p, 0x4242000000000000ULL | p);
	}
	memset(ctl->p[0].wrote, 0, sizeof(ctl->p[0].wrote));
	return 0;
}

static const char *self_path = "/proc/self/exe";

static int episode(uint64_t seed, const struct st_op *ops, int n, struct st_shared *sh)
{
	int i;

	SH = sh;
	dev = open(COWLAB_DEVICE, O_RDWR);
	if (dev < 0) {
		st_skip(sh, "no %s (%s)", COWLAB_DEVICE, strerror(errno));
		return 0;
	}
	{
		struct cowlab_version v = {};

		if (ioctl(dev, COWLAB_IOC_VERSION, &v) || !(v.features & COWLAB_FEAT_COWAHEAD)) {
			st_skip(sh, "the module offers no cow-ahead here");
			return 0;
		}
	}
	/* ctl lives in a memfd so that an exec'd writer can map it again (fd 3). */
	memfd = memfd_create("cowlab-stress", 0);
	if (memfd < 0 || ftruncate(memfd, sizeof(*ctl)) || dup2(memfd, 3) < 0) {
		st_fail(sh, "memfd: %s", strerror(errno));
		return 1;
	}
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (ctl == MAP_FAILED) {
		st_fail(sh, "mmap: %s", strerror(errno));
		return 1;
	}
	R = ctl->reg;
	(void)seed;
	if (setup_regions()) {
		st_fail(sh, "setting up the regions failed: %s", strerror(errno));
		return 1;
	}
	for (i = 0; i < n && !ctl->failed; i++) {
		const struct st_op *o = &ops[i];

		sh->executed = i + 1;
		if (st_verbose())
			printf("# op %d: %s\n", i, op_names[o->kind]);
		switch (o->kind) {
		case OP_ROUND:
			start_round(o, self_path);
			break;
		case OP_PWRITE:
			do_write(&ctl->p[0], o);
			break;
		case OP_EXEC:
			if (ctl->depth && ctl->writer) {
				send_cmd(o);
				ctl->writer = 0;	/* a new image: it takes no more commands */
				SH->stats[ST_EXECS]++;
			}
			break;
		default:
			if (ctl->depth && ctl->writer)
				send_cmd(o);
			break;
		}
	}
	end_round();
	ca_set(0, 0, 0, 0, 0);
	if (ctl->failed)
		st_fail(sh, "%s", ctl->err);
	return ctl->failed;
}

static void setup(void)
{
	static char page[ST_PAGE];
	int fd, i;

	st_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "always");
	fd = open(FILE_PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
	for (i = 0; fd >= 0 && i < (int)reg_def[R_FILE].pages; i++) {
		memset(page, 'A' + i % 26, sizeof(page));
		((uint32_t *)page)[1] = i;
		if (write(fd, page, sizeof(page)) != sizeof(page))
			break;
	}
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	static const struct st_program prog = {
		.name = "cowahead",
		.kind_names = op_names,
		.nr_kinds = NR_OPS,
		.stat_names = stat_names,
		.generate = gen_ops,
		.episode = episode,
		.setup = setup,
	};

	if (argc == 4 && !strcmp(argv[1], "--exec-writer")) {
		int rc = exec_writer(atoi(argv[2]), strtoull(argv[3], NULL, 10));

		return rc;
	}
	return st_main(&prog, argc, argv);
}
