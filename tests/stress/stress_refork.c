// SPDX-License-Identifier: GPL-2.0
/*
 * stress_refork: seeded, randomized, differential stress of refork against the raw ABI.
 *
 * An episode is a parent P with five covered regions (THP-advised anonymous, no-THP
 * anonymous, unaligned default-THP anonymous, a private file mapping, and a region whose
 * layout gets changed), a speculative child C parked in RF_WAIT, and a helper F that
 * flips stop words, signals P, kills C or P, and migrates P's pages, all at random
 * moments during a sync. The operations (generated from the seed) are random writes
 * (4 KiB and whole huge pages), reads, MADV_DONTNEED/FREE/PAGEOUT/COLLAPSE, mprotect
 * split/merge cycles, THP on/off per region, page migration, compaction, mremap and
 * munmap+mmap, userfaultfd fills (register, UFFDIO_COPY/ZEROPAGE, unregister) by P and by
 * C, grandchildren forked by P, writes and madvise by C between syncs, and syncs with
 * random budgets (1 ns to unbounded), stop words, signals and RANGES.
 *
 * The oracle trusts nothing the module says:
 *  - contents: after every complete sync C's hash of every synced page equals P's at the
 *    sync (MADV_FREE'd pages may also read as zeros), P's memory is the same before and
 *    after every sync, and writes after a sync stay private both ways;
 *  - /proc/PID/pagemap: after a complete sync every page P maps is mapped by C at the same
 *    PFN and neither says it is exclusive (COW-shared, nothing copied), every swap entry
 *    is the same, every hole is a hole (judged when no page moved meanwhile: /proc/vmstat);
 *  - /proc/PID/smaps per region: Rss, Anonymous, AnonHugePages and Swap equal;
 *  - /proc/PID/status VmPTE: C's never exceeds P's by more than its own non-covered tables
 *    plus one empty table per 2 MiB where P maps nothing;
 *  - the module's layout rule predicted from /proc/PID/maps: ESTALE exactly when P's
 *    covered mappings changed since C's fork or lost their twin in C;
 *  - and from the judge (stresslib.c): PageTables and AnonPages back at their starting
 *    values once every process exited, and a clean kernel log after quiescing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#ifndef UFFD_FEATURE_MOVE	/* 6.8's; built against older headers, refused by 6.1 at run time */
#define UFFD_FEATURE_MOVE	(1 << 16)
#define _UFFDIO_MOVE		0x05
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define UFFDIO_MOVE		_IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif
#define ST_PM_EXCLUSIVE		(1ULL << 56)

#include <uapi/cowlab.h>

#include "stresslib.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE	(1 << 1)
#endif

/* ---- regions --------------------------------------------------------------------------- */

enum { R_THP, R_NOTHP, R_DEF, R_FILE, R_MUT, NR_REG };

static const struct {
	const char *name;
	unsigned int pages;
	unsigned int offset;	/* pages after a 2 MiB boundary */
	int advice;
} reg_def[NR_REG] = {
	[R_THP] = { "thp", 1536, 0, MADV_HUGEPAGE },
	[R_NOTHP] = { "nothp", 1024, 0, MADV_NOHUGEPAGE },
	[R_DEF] = { "default", 1027, 3, 0 },
	[R_FILE] = { "file", 512, 0, 0 },
	[R_MUT] = { "mutable", 256, 0, 0 },
};

#define MAXPG		4608
#define FILE_PATH	"/tmp/cowlab-stress-refork.dat"

struct region {
	uint8_t *addr;
	unsigned int pages;
	unsigned int first;	/* index of its first page in the page arrays */
};

/* ---- operations ------------------------------------------------------------------------- */

enum {
	OP_PW, OP_PWH, OP_PRD, OP_PDN, OP_PFREE, OP_POUT, OP_PPROT, OP_PPROTL, OP_PTHP, OP_PCOLL,
	OP_PMIG, OP_PFORK, OP_PREMAP, OP_PCOMPACT, OP_PUFFD,
	OP_CW, OP_CWH, OP_CDN, OP_COUT, OP_CCOLL, OP_CMIG, OP_CRD, OP_CUFFD,
	OP_SYNC, OP_FULL, OP_CSIG, OP_RESPAWN, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"pw", "pwh", "prd", "pdn", "pfree", "pout", "pprot", "pprotl", "pthp", "pcoll",
	"pmig", "pfork", "premap", "pcompact", "puffd",
	"cw", "cwh", "cdn", "cout", "ccoll", "cmig", "crd", "cuffd",
	"sync", "full", "csig", "respawn",
};

/* sync a[4] bits */
#define SY_REGIONS	0x1f		/* RANGES: the regions to sync */
#define SY_RANGES	(1U << 8)
#define SY_SIGNAL	(1U << 9)	/* F sends P a SIGUSR1 after a[2] us */
#define SY_KILLC	(1U << 10)	/* F kills C after a[2] us */
#define SY_MIGRATE	(1U << 11)	/* F migrates/compacts P's pages during the sync */
#define SY_KILLP	(1U << 12)	/* F kills P after a[2] us: the episode ends */

enum { ST_SYNCS, ST_COMPLETE, ST_PARTIAL, ST_ESTALE, ST_VERIFIED, ST_PAGES, ST_PM_JUDGED,
       ST_PM_SKIPPED, ST_COPS, ST_RESPAWNS, ST_SIGNALS, ST_KILLS, ST_HUGE_SEEN, ST_SWAP_SEEN,
       ST_INCREMENTAL, ST_INPLACE, ST_RUNS_ONLY, ST_LAZY_LOST, ST_UFFD_FILLS, ST_UFFD_MOVES,
       NR_STATS };

static const char *const stat_names[NR_STATS + 1] = {
	"syncs", "complete", "partial", "estale", "verified", "pages-compared", "pagemap-judged",
	"pagemap-skipped", "c-ops", "respawns", "signals", "kills", "huge-pmds-seen",
	"swap-entries-seen", "incremental", "in-place", "runs-only", "lazy-lost-after-sync", "uffd-fills",
	"uffd-moves", NULL
};

static void gen_ops(uint64_t seed, struct st_op *ops, int n)
{
	struct st_rng r;
	int i;

	st_rng_seed(&r, seed);
	for (i = 0; i < n; i++) {
		struct st_op *o = &ops[i];
		uint64_t x = st_below(&r, 1000);
		unsigned int reg = st_below(&r, NR_REG), pages = reg_def[reg].pages;

		memset(o, 0, sizeof(*o));
		o->a[0] = reg;
		o->a[1] = st_below(&r, pages);
		o->a[2] = 1 + (st_below(&r, 4) ? st_below(&r, 16) : st_below(&r, 600));
		o->a[3] = st_rnd(&r);
		if (x < 130)
			o->kind = OP_PW;
		else if (x < 150)
			o->kind = OP_PUFFD;
		else if (x < 200)
			o->kind = OP_PWH;
		else if (x < 230)
			o->kind = OP_PRD;
		else if (x < 275)
			o->kind = OP_PDN;
		else if (x < 295)
			o->kind = OP_PFREE;
		else if (x < 320)
			o->kind = OP_POUT;
		else if (x < 345)
			o->kind = OP_PPROT;
		else if (x < 355)
			o->kind = OP_PPROTL;
		else if (x < 365)
			o->kind = OP_PTHP;
		else if (x < 380)
			o->kind = OP_PCOLL;
		else if (x < 395)
			o->kind = OP_PMIG;
		else if (x < 410)
			o->kind = OP_PFORK;
		else if (x < 420)
			o->kind = OP_PREMAP, o->a[0] = R_MUT, o->a[1] = st_below(&r, 3);
		else if (x < 425)
			o->kind = OP_PCOMPACT;
		else if (x < 480)
			o->kind = OP_CW;
		else if (x < 500)
			o->kind = OP_CWH;
		else if (x < 520)
			o->kind = OP_CDN;
		else if (x < 530)
			o->kind = OP_COUT;
		else if (x < 540)
			o->kind = OP_CCOLL;
		else if (x < 550)
			o->kind = OP_CMIG;
		else if (x < 560)
			o->kind = OP_CRD;
		else if (x < 575)
			o->kind = OP_CUFFD;
		else if (x < 940) {
			uint32_t f = 0;

			o->kind = OP_SYNC;
			o->a[0] = st_below(&r, 4);			/* budget class */
			o->a[1] = st_below(&r, 5) < 3 ? 0 : 1 + st_below(&r, 2);	/* stop word */
			o->a[2] = st_below(&r, 3) ? st_below(&r, 3000) : st_below(&r, 60000); /* us */
			if (st_below(&r, 6) == 0)
				f |= SY_RANGES | (1 + st_below(&r, (1 << NR_REG) - 1));
			if (st_below(&r, 10) == 0)
				f |= SY_SIGNAL;
			if (st_below(&r, 25) == 0)
				f |= SY_KILLC;
			if (st_below(&r, 8) == 0)
				f |= SY_MIGRATE;
			if (st_below(&r, 150) == 0)
				f |= SY_KILLP;
			o->a[4] = f;
		} else if (x < 975)
			o->kind = OP_FULL;
		else if (x < 990)
			o->kind = OP_CSIG;
		else
			o->kind = OP_RESPAWN;
	}
}

/* ---- state shared by P, C and F ---------------------------------------------------------- */

struct cop {
	uint32_t kind, reg, pg, n;
	uint64_t val;
};

struct ctl {
	/* P -> C */
	volatile uint64_t verify_gen;	/* C: verify this generation */
	volatile uint64_t go2;		/* C: P wrote its post pages, check them */
	volatile uint32_t nposted;
	uint32_t posted[64];		/* page indices P wrote after the verify */
	volatile uint32_t ncops;
	struct cop cops[512];
	/* C -> P */
	volatile uint64_t ack_pm, ack1, ack2;
	volatile uint64_t go_hash;	/* C: P has read its pagemap again, read your memory now */
	volatile int32_t c_err;		/* C could not do something: errno or a code */
	uint32_t c_sigs;		/* SIGUSR1s C has handled (csig) */
	volatile uint32_t c_post_bad;	/* pages P wrote after the verify that changed in C */
	uint64_t chash[MAXPG];
	uint64_t cpm[MAXPG];
	uint64_t cpmh[MAXPG];		/* C's pagemap while it hashes */
	long long csm[NR_REG][4];	/* Rss, Anonymous, AnonHugePages, Swap (kB) */
	long long c_vmpte;
	/* P <-> F */
	volatile uint32_t stop;		/* the stop word: in P's memory (this page is shared) */
	volatile uint64_t f_seq, f_done;
	volatile uint32_t f_delay_us, f_what, f_stopval;
	volatile int f_halt;
	volatile pid_t p_pid, c_pid;
	struct region reg[NR_REG];	/* P's regions now */
	struct region creg[NR_REG];	/* C's: P's when C was forked (C's globals are P's) */
	volatile uint32_t verify_mask;	/* regions the complete sync covered */
	uint8_t ro[MAXPG];		/* P left these pages read-only (mprotect) */
	uint8_t cro[MAXPG];		/* ... and these were read-only when C was forked */
	char scratch[262144];		/* C's buffers (C must not write what a sync overwrites) */
};

static struct ctl *ctl;
static struct region *R;	/* == ctl->reg */
static int dev = -1;
static int nodes = 1;
static struct st_shared *SH;

#define F_FLIP		1
#define F_SIGNAL	2
#define F_KILLC		4
#define F_MIGRATE	8
#define F_KILLP		16

static unsigned int total_pages(void)
{
	return R[NR_REG - 1].first + R[NR_REG - 1].pages;
}

static uint8_t *page_addr(unsigned int reg, unsigned int pg)
{
	return R[reg].addr + (size_t)pg * ST_PAGE;
}

/*
 * In C every global is whatever P's was at the last sync (a sync copies P's data and bss),
 * so C keeps its state on its stack and in ctl, and uses its own region table.
 */
static struct region *C_R(void)
{
	return ctl->creg;
}

/* ---- C: the speculative child ------------------------------------------------------------- */

static long long smaps_field(const char *line, const char *key)
{
	return st_kv(line, key);
}

/* Per region: Rss, Anonymous, AnonHugePages, Swap from smaps text of pid (0 = self). */
static int read_smaps(pid_t pid, const struct region *rg, char *buf, size_t len,
		      long long out[NR_REG][4])
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), pid ? "/proc/%d/smaps" : "/proc/self/smaps", pid);
	if (st_read_file(path, buf, len) <= 0)
		return -1;
	for (i = 0; i < NR_REG; i++) {
		char head[32];
		const char *p;

		static const char *const keys[4] = { "Rss", "Anonymous", "AnonHugePages", "Swap" };
		int k;

		snprintf(head, sizeof(head), "%lx-", (unsigned long)rg[i].addr);
		p = strstr(buf, head);
		/* must be a line start */
		while (p && p != buf && p[-1] != '\n')
			p = strstr(p + 1, head);
		for (k = 0; k < 4; k++) {
			char key[32];
			const char *q;

			snprintf(key, sizeof(key), "\n%s:", keys[k]);
			q = p ? strstr(p, key) : NULL;
			out[i][k] = q ? smaps_field(q + 1, keys[k]) : -1;
		}
	}
	return 0;
}

/*
 * The regions' contents, one hash a page. An anonymous page with no entry (pagemap: not
 * present, not swapped) is hashed as the zeros it reads as, without reading it: a read
 * would map the zero page there, and then no hole would survive from one sync to the next
 * (the userfaultfd fills need holes, and a sync must keep a hole a hole). A hole that
 * fills meanwhile (khugepaged) fills with zeros too. A private file mapping's hole reads
 * the file: those are read. @pm: scratch for the regions' pagemap.
 */
static void hash_regions(const struct region *rg, uint32_t mask, uint64_t *out, uint64_t *pm)
{
	uint64_t zh = st_zero_hash();
	unsigned int i, p;
	bool anon;

	for (i = 0; i < NR_REG; i++) {
		if (!(mask & (1U << i)))
			continue;
		anon = i != R_FILE &&
		       !st_pagemap(0, (uintptr_t)rg[i].addr, rg[i].pages, pm + rg[i].first);
		for (p = 0; p < rg[i].pages; p++)
			out[rg[i].first + p] =
				anon && !(pm[rg[i].first + p] & (ST_PM_PRESENT | ST_PM_SWAP)) ? zh :
				st_page_hash(rg[i].addr + (size_t)p * ST_PAGE);
	}
}

static void hash_all(uint64_t *out);

static void write_pages_in(const struct region *rg, unsigned int reg, unsigned int pg,
			   unsigned int n, uint64_t val)
{
	const uint8_t *ro = rg == ctl->creg ? ctl->cro : ctl->ro;
	unsigned int i;

	for (i = 0; i < n && pg + i < rg[reg].pages; i++) {
		uint64_t *w = (uint64_t *)(rg[reg].addr + (size_t)(pg + i) * ST_PAGE);

		if (ro[rg[reg].first + pg + i])
			continue;	/* read-only: a write would fault */
		w[(val >> 8) % (ST_PAGE / 8)] = val ^ i;
		w[0] ^= val + i;
	}
}

static void write_pages(unsigned int reg, unsigned int pg, unsigned int n, uint64_t val)
{
	write_pages_in(R, reg, pg, n, val);
}

static unsigned int huge_start_in(const struct region *rg, unsigned int reg, unsigned int pg)
{
	uintptr_t a = ((uintptr_t)rg[reg].addr + (size_t)pg * ST_PAGE) & ~(ST_PMD - 1);
	uintptr_t lo = (uintptr_t)rg[reg].addr;

	return a < lo ? 0 : (a - lo) / ST_PAGE;
}

static unsigned int huge_start(unsigned int reg, unsigned int pg)
{
	return huge_start_in(R, reg, pg);
}

static void read_pages_in(const struct region *rg, unsigned int reg, unsigned int pg,
			  unsigned int n)
{
	volatile uint8_t sink = 0;
	unsigned int i;

	for (i = 0; i < n && pg + i < rg[reg].pages; i++)
		sink += *(volatile uint8_t *)(rg[reg].addr + (size_t)(pg + i) * ST_PAGE);
	(void)sink;
}

static void read_pages(unsigned int reg, unsigned int pg, unsigned int n)
{
	read_pages_in(R, reg, pg, n);
}

static void advise_in(const struct region *rg, unsigned int reg, unsigned int pg, unsigned int n,
		      int adv)
{
	if (pg >= rg[reg].pages)
		return;
	if (pg + n > rg[reg].pages)
		n = rg[reg].pages - pg;
	madvise(rg[reg].addr + (size_t)pg * ST_PAGE, (size_t)n * ST_PAGE, adv);
}

static void advise(unsigned int reg, unsigned int pg, unsigned int n, int adv)
{
	advise_in(R, reg, pg, n, adv);
}

static void migrate_in(const struct region *rg, pid_t pid, unsigned int reg, unsigned int pg,
		       unsigned int n, int node)
{
	void *pages[64];
	int nd[64], status[64];
	unsigned int i;

	if (nodes < 2)
		return;
	for (i = 0; i < n && i < 64 && pg + i < rg[reg].pages; i++) {
		pages[i] = rg[reg].addr + (size_t)(pg + i) * ST_PAGE;
		nd[i] = node;
	}
	syscall(SYS_move_pages, pid, i, pages, nd, status, MPOL_MF_MOVE);
}

static void migrate(pid_t pid, unsigned int reg, unsigned int pg, unsigned int n, int node)
{
	migrate_in(R, pid, reg, pg, n, node);
}

/*
 * userfaultfd between two syncs: register (MISSING) the region's whole mappings, fill each
 * empty page of @n from @pg with UFFDIO_COPY (or, one in four, UFFDIO_ZEROPAGE), unregister.
 * The fills install entries with no fault and no invalidation: only the module's userfaultfd
 * probes see them. In half the operations (where the kernel has it, 6.8+) a page is filled
 * by UFFDIO_MOVE instead, from a page of the same region only this process maps (pagemap's
 * exclusive bit; not one MADV_FREE'd): the source becomes a hole (an invalidation), the
 * destination gets the page with none.
 *
 * Whole mappings, because registering part of one splits it, and the split invalidates the
 * 2 MiB around each cut (__split_huge_pmd() starts its notifier before it looks for a huge
 * PMD), which marks the fills of those 2 MiB whatever the probes do: one operation in four
 * registers only the pages it fills, and so splits and merges. Pages already mapped answer
 * EEXIST and stay as they are, so the range starts at the first empty page at or after @pg
 * (pagemap; wrapping), where an earlier zap, perhaps synced since, left one. A private file
 * mapping cannot be registered for MISSING (EINVAL) and neither can a range with a hole in
 * the mapping. @buf: room for two pages and the region's pagemap. @vol (P's only): a filled
 * page no longer reads as zeros after an MADV_FREE. Returns the pages filled.
 */
static unsigned int uffd_fill_in(const struct region *rg, unsigned int reg, unsigned int pg,
				 unsigned int n, uint64_t val, uint8_t *buf, uint8_t *vol)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register ur = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_range rr;
	unsigned int i, k, j, filled = 0, moved = 0;
	bool move = (val >> 44) & 1;
	uint64_t *pm;
	int fd;

	if (reg == R_FILE || pg >= rg[reg].pages)
		return 0;
	buf = (uint8_t *)(((uintptr_t)buf + ST_PAGE - 1) & ~(uintptr_t)(ST_PAGE - 1));
	pm = (uint64_t *)(buf + ST_PAGE);	/* UFFDIO_COPY's source must be page-aligned */
	if (st_pagemap(0, (uintptr_t)rg[reg].addr, rg[reg].pages, pm))
		return 0;
	for (k = 0; k < rg[reg].pages; k++)
		if (!(pm[(pg + k) % rg[reg].pages] & (ST_PM_PRESENT | ST_PM_SWAP)))
			break;
	if (k == rg[reg].pages)
		return 0;	/* nothing empty */
	pg = (pg + k) % rg[reg].pages;
	if (pg + n > rg[reg].pages)
		n = rg[reg].pages - pg;
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		st_fail(SH, "userfaultfd: %s", strerror(errno));
	api.features = move ? UFFD_FEATURE_MOVE : 0;
	k = ioctl(fd, UFFDIO_API, &api);
	if (k && move && errno == EINVAL) {
		/* no UFFDIO_MOVE here (before 6.8); UFFDIO_API is once per descriptor */
		close(fd);
		move = false;
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		api.api = UFFD_API;
		api.features = 0;
		k = fd < 0 || ioctl(fd, UFFDIO_API, &api);
	}
	if (k)
		st_fail(SH, "UFFDIO_API: %s", strerror(errno));
	if ((val >> 40) & 3) {
		ur.range.start = (uintptr_t)rg[reg].addr;
		ur.range.len = (size_t)rg[reg].pages * ST_PAGE;
	} else {
		ur.range.start = (uintptr_t)rg[reg].addr + (size_t)pg * ST_PAGE;
		ur.range.len = (size_t)n * ST_PAGE;
	}
	rr = ur.range;
	if (ioctl(fd, UFFDIO_REGISTER, &ur)) {
		if (errno != EINVAL && errno != ENOMEM)
			st_fail(SH, "UFFDIO_REGISTER %s+%u x%u: %s", reg_def[reg].name, pg, n,
				strerror(errno));
		close(fd);
		return 0;
	}
	j = (pg + n) % rg[reg].pages;	/* where the next move's source is looked for */
	for (i = 0; i < n; i++) {
		uintptr_t dst = (uintptr_t)rg[reg].addr + (size_t)(pg + i) * ST_PAGE;
		long r = 0;

		for (k = 0; move && k < rg[reg].pages; k++, j = (j + 1) % rg[reg].pages) {
			struct uffdio_move m = { .dst = dst, .len = ST_PAGE };

			if ((pm[j] & (ST_PM_PRESENT | ST_PM_EXCLUSIVE | ST_PM_SWAP)) !=
			    (ST_PM_PRESENT | ST_PM_EXCLUSIVE) || (j >= pg && j < pg + n) ||
			    (vol && vol[rg[reg].first + j]))
				continue;
			m.src = (uintptr_t)rg[reg].addr + (size_t)j * ST_PAGE;
			pm[j] = 0;	/* tried: a hole now, or not movable (THP, pinned, ...) */
			r = ioctl(fd, UFFDIO_MOVE, &m) ? -errno : m.move;
			if (r == ST_PAGE)
				moved++;
			break;
		}
		if (r == ST_PAGE) {
			/* moved */
		} else if (((val >> (i & 31)) & 3) == 0) {
			struct uffdio_zeropage z = { .range = { dst, ST_PAGE } };

			r = ioctl(fd, UFFDIO_ZEROPAGE, &z) ? -errno : z.zeropage;
		} else {
			struct uffdio_copy c = { .dst = dst, .src = (uintptr_t)buf, .len = ST_PAGE };

			memset(buf, 0, ST_PAGE);
			((uint64_t *)buf)[0] = val ^ i;
			((uint64_t *)buf)[(val >> 8) % (ST_PAGE / 8)] = val + i;
			r = ioctl(fd, UFFDIO_COPY, &c) ? -errno : c.copy;
		}
		if (r == ST_PAGE) {
			filled++;
			if (vol)
				vol[rg[reg].first + pg + i] = 0;
		} else if (r != -EEXIST) {
			st_fail(SH, "UFFDIO_COPY/ZEROPAGE %s+%u: %ld", reg_def[reg].name, pg + i, r);
		}
	}
	if (ioctl(fd, UFFDIO_UNREGISTER, &rr))
		st_fail(SH, "UFFDIO_UNREGISTER: %s", strerror(errno));
	close(fd);
	SH->stats[ST_UFFD_FILLS] += filled;
	SH->stats[ST_UFFD_MOVES] += moved;
	return filled;
}

static void c_run_ops(const struct region *rg)
{
	uint32_t i, n = ctl->ncops;

	for (i = 0; i < n; i++) {
		struct cop *o = &ctl->cops[i];

		if (o->reg >= NR_REG)
			continue;
		switch (o->kind) {
		case OP_CW: write_pages_in(rg, o->reg, o->pg, o->n, o->val); break;
		case OP_CWH:
			write_pages_in(rg, o->reg, huge_start_in(rg, o->reg, o->pg), 512, o->val);
			break;
		case OP_CDN: advise_in(rg, o->reg, o->pg, o->n, MADV_DONTNEED); break;
		case OP_COUT: advise_in(rg, o->reg, o->pg, o->n, MADV_PAGEOUT); break;
		case OP_CCOLL:
			advise_in(rg, o->reg, huge_start_in(rg, o->reg, o->pg), 512, MADV_COLLAPSE);
			break;
		case OP_CMIG: migrate_in(rg, 0, o->reg, o->pg, o->n, o->val & 1); break;
		case OP_CRD: read_pages_in(rg, o->reg, o->pg, o->n); break;
		case OP_CUFFD:
			uffd_fill_in(rg, o->reg, o->pg, o->n, o->val, (uint8_t *)ctl->scratch, NULL);
			break;
		}
	}
	ctl->ncops = 0;
}

static bool c_wait(volatile uint64_t *word, uint64_t want)
{
	uint64_t t0 = st_now_ns();

	while (*word != want) {
		if (st_now_ns() - t0 > 60000000000ULL)
			return false;
		if (getppid() != ctl->p_pid)
			_exit(0);
		usleep(20);
	}
	return true;
}

static void c_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&ctl->c_sigs, 1, __ATOMIC_RELEASE);
}

/* C's whole life: register, then one round per complete generation. Only the stack and ctl. */
static void __attribute__((noreturn)) c_main(void)
{
	struct cowlab_rf_wait w;
	struct region *rg = C_R();
	uint64_t gen = 0;
	uint32_t mask;
	unsigned int i;

	memcpy(ctl->creg, ctl->reg, sizeof(ctl->creg));
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGUSR1, c_usr1);
	if (getppid() != ctl->p_pid)
		_exit(0);
	/*
	 * The first wait registers C (its layout now is P's at fork) and parks it. No separate
	 * short registering wait: C is parked inside that one too, and a sync's wait for C to park
	 * could meet it there and then find C between the two calls (EBUSY: seed 0x1 on 6.12).
	 */
	for (;;) {
		memset(&w, 0, sizeof(w));
		w.generation = gen;
		if (ioctl(dev, COWLAB_IOC_RF_WAIT, &w)) {
			if (errno == EINTR || errno == ETIMEDOUT)
				continue;
			_exit(errno == ESRCH ? 0 : 121);
		}
		if (w.generation <= gen) {
			ctl->c_err = 1000;	/* RF_WAIT returned 0 without a new generation */
			continue;
		}
		gen = w.generation;
		if (!c_wait(&ctl->verify_gen, gen))
			_exit(122);
		mask = ctl->verify_mask;
		/* pagemap first: reading memory would swap pages in */
		for (i = 0; i < NR_REG; i++) {
			int e;

			if (!(mask & (1U << i)))
				continue;
			e = st_pagemap(0, (uintptr_t)rg[i].addr, rg[i].pages, ctl->cpm + rg[i].first);
			if (e)
				ctl->c_err = -e;
		}
		if (read_smaps(0, rg, ctl->scratch, sizeof(ctl->scratch), ctl->csm))
			ctl->c_err = 1001;
		if (st_read_file("/proc/self/status", ctl->scratch, sizeof(ctl->scratch)) > 0)
			ctl->c_vmpte = st_kv(ctl->scratch, "VmPTE");
		__atomic_store_n(&ctl->ack_pm, gen, __ATOMIC_RELEASE);
		if (!c_wait(&ctl->go_hash, gen))
			_exit(124);
		hash_regions(rg, mask, ctl->chash, ctl->cpmh);
		__atomic_store_n(&ctl->ack1, gen, __ATOMIC_RELEASE);
		/* P writes some pages now: they must not show here. */
		if (!c_wait(&ctl->go2, gen))
			_exit(123);
		ctl->c_post_bad = 0;
		for (i = 0; i < ctl->nposted; i++) {
			uint32_t pg = ctl->posted[i];
			unsigned int r = 0;

			while (r + 1 < NR_REG && pg >= rg[r + 1].first)
				r++;
			if (st_page_hash(rg[r].addr + (size_t)(pg - rg[r].first) * ST_PAGE) !=
			    ctl->chash[pg])
				ctl->c_post_bad++;
		}
		c_run_ops(rg);
		__atomic_store_n(&ctl->ack2, gen, __ATOMIC_RELEASE);
	}
}

/* ---- F: the helper that makes things happen during a sync ---------------------------------- */

static void __attribute__((noreturn)) f_main(void)
{
	uint64_t seq = 0;
	struct st_rng r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	st_rng_seed(&r, ctl->p_pid);
	for (;;) {
		uint32_t what, delay;
		uint64_t t0;

		while (ctl->f_seq == seq) {
			if (getppid() != ctl->p_pid)
				_exit(0);
			usleep(20);
		}
		seq = ctl->f_seq;
		what = ctl->f_what;
		delay = ctl->f_delay_us;
		t0 = st_now_ns();
		while (st_now_ns() - t0 < delay * 1000ULL && !ctl->f_halt) {
			if (what & F_MIGRATE) {
				unsigned int reg = st_below(&r, NR_REG);

				if (nodes > 1)
					migrate(ctl->p_pid, reg, st_below(&r, R[reg].pages), 32,
						st_below(&r, 2));
				else
					st_write_file("/proc/sys/vm/compact_memory", "1");
			} else {
				usleep(delay > 200 ? 50 : 5);
			}
		}
		if (what & F_FLIP)
			ctl->stop = ctl->f_stopval ^ 1;
		if (what & F_SIGNAL)
			kill(ctl->p_pid, SIGUSR1);
		if ((what & F_KILLC) && ctl->c_pid > 0)
			kill(ctl->c_pid, SIGKILL);
		if (what & F_KILLP)
			kill(ctl->p_pid, SIGKILL);
		/* A migration storm lasts the whole sync. */
		while ((what & F_MIGRATE) && !ctl->f_halt) {
			unsigned int reg = st_below(&r, NR_REG);

			if (nodes > 1)
				migrate(ctl->p_pid, reg, st_below(&r, R[reg].pages), 32, st_below(&r, 2));
			else
				st_write_file("/proc/sys/vm/compact_memory", "1");
		}
		ctl->f_done = seq;
	}
}

/* ---- P: the episode --------------------------------------------------------------------------- */

struct pstate {
	pid_t c, f;
	pid_t g[8];
	int ng;
	uint8_t vol[MAXPG];		/* MADV_FREE'd, not written since: may read as zeros */
	uint64_t pre[MAXPG], post[MAXPG], now[MAXPG];
	uint64_t pm0[MAXPG];		/* P's pagemap right before the last sync call */
	uint64_t pm1[MAXPG], pm2[MAXPG];
	uint64_t pm3[MAXPG];		/* P's pagemap after P read its memory */
	uint64_t pmh[MAXPG];		/* P's pagemap while it hashes */
	char maps_at_fork[16384];	/* P's covered mappings when C was forked */
	bool mut_alt;			/* R_MUT lives at its alternate address */
	bool mut_fresh;			/* R_MUT was unmapped and mapped anew since C's fork: its
					 * anonymous memory is in an anon_vma C was never linked to */
	uint8_t *mut_home, *mut_alt_addr;
	long long d0;			/* VmPTE(C) - VmPTE(P) after C's first complete sync */
	bool have_d0;
	bool have_pre;			/* pre[] was taken before this sync */
	uint64_t gen;			/* C's generation */
	struct st_rng rng;
	char buf[262144];
	char buf2[262144];
};

static struct pstate *ps;

static void hash_all(uint64_t *out)
{
	hash_regions(R, 0x1f, out, ps->pmh);
}
static volatile int p_usr1;

static void p_usr1_handler(int sig)
{
	(void)sig;
	p_usr1++;
}

/*
 * The covered mappings as the module defines them, from /proc/PID/maps: private and
 * writable, not the stack (nor [vvar]/[vdso]/[vsyscall]); one "start-end perms offset
 * inode" line each.
 */
static int covered_maps(pid_t pid, char *out, size_t len)
{
	char path[64], *line, *nl;
	size_t used = 0;

	snprintf(path, sizeof(path), pid ? "/proc/%d/maps" : "/proc/self/maps", pid);
	if (st_read_file(path, ps->buf2, sizeof(ps->buf2)) <= 0)
		return -1;
	out[0] = '\0';
	for (line = ps->buf2; line && *line; line = nl ? nl + 1 : NULL) {
		char range[64], perms[8], off[32], dev_[16];
		unsigned long ino = 0;
		int n;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		n = sscanf(line, "%63s %7s %31s %15s %lu", range, perms, off, dev_, &ino);
		if (n < 5 || perms[1] != 'w' || perms[3] != 'p' || strstr(line, "[stack]") ||
		    strstr(line, "[v"))
			continue;
		used += snprintf(out + used, len - used, "%s %s %s %lu\n", range, perms, off, ino);
		if (used >= len)
			return -1;
	}
	return 0;
}

/* Does every covered mapping of P have the same twin in C? And is P's set what it was? */
static bool layout_ok(bool ranges, uint32_t regmask)
{
	static char now[16384], cm[16384];
	char *line, *nl;

	if (covered_maps(0, now, sizeof(now)) || covered_maps(ps->c, cm, sizeof(cm)))
		return false;
	if (ps->mut_fresh && (!ranges || (regmask & (1U << R_MUT))))
		return false;
	if (!ranges)
		return !strcmp(now, ps->maps_at_fork) && !strcmp(now, cm);
	/* RANGES: each covered mapping of P that a range touches needs its twin in C. */
	for (line = now; line && *line; line = nl ? nl + 1 : NULL) {
		unsigned long s, e;
		int i;
		bool touched = false;

		nl = strchr(line, '\n');
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		for (i = 0; i < NR_REG; i++) {
			uintptr_t a = (uintptr_t)R[i].addr, b = a + R[i].pages * ST_PAGE;

			if ((regmask & (1U << i)) && a < e && s < b)
				touched = true;
		}
		if (touched) {
			char one[256];

			snprintf(one, sizeof(one), "%.*s\n", nl ? (int)(nl - line) : (int)strlen(line),
				 line);
			if (!strstr(cm, one))
				return false;
		}
	}
	return true;
}

static int rf_wait_parked(void)
{
	uint64_t t0 = st_now_ns();

	for (;;) {
		struct cowlab_refork r = { .pid = ps->c, .flags = COWLAB_RF_STOPWORD };

		ctl->stop = 7;
		r.stop_addr = (uintptr_t)&ctl->stop;
		r.stop_val = 6;		/* already "flipped": returns before any work */
		if (ioctl(dev, COWLAB_IOC_REFORK, &r) == 0)
			return 0;
		if (errno != EBUSY)
			return -errno;
		if (st_now_ns() - t0 > 30000000000ULL)
			return -ETIMEDOUT;
		usleep(100);
	}
}

static void reap_c(void)
{
	int st;

	if (ps->c <= 0)
		return;
	kill(ps->c, SIGKILL);
	while (waitpid(ps->c, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
		st_fail(SH, "C died of signal %d", WTERMSIG(st));
	else if (WIFEXITED(st) && WEXITSTATUS(st))
		st_fail(SH, "C exited with status %d (c_err %d)", WEXITSTATUS(st), ctl->c_err);
	ps->c = 0;
	ctl->c_pid = 0;
}

static int spawn_c(void)
{
	pid_t pid;

	reap_c();
	if (covered_maps(0, ps->maps_at_fork, sizeof(ps->maps_at_fork)))
		return -1;
	ctl->verify_gen = ctl->go2 = ctl->ack1 = ctl->ack2 = ctl->ack_pm = ctl->go_hash = 0;
	ctl->c_err = 0;
	memcpy(ctl->cro, ctl->ro, sizeof(ctl->cro));
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		c_main();
	ps->c = pid;
	ctl->c_pid = pid;
	ps->gen = 0;
	ps->have_d0 = false;
	ps->mut_fresh = false;
	SH->stats[ST_RESPAWNS]++;
	return 0;
}

static void reap_grandchildren(void)
{
	int i;

	for (i = 0; i < ps->ng; i++) {
		kill(ps->g[i], SIGKILL);
		waitpid(ps->g[i], NULL, 0);
	}
	ps->ng = 0;
}

/* Which pages a sync covers: those of the regions in mask, but not read-only ones. */
static bool page_in(uint32_t mask, unsigned int pg)
{
	int i;

	if (ctl->ro[pg])
		return false;	/* not covered (a read-only mapping): C's own business */
	for (i = 0; i < NR_REG; i++)
		if (pg >= R[i].first && pg < R[i].first + R[i].pages)
			return mask & (1U << i);
	return false;
}

/* A page of the regions in mask, covered or not (RANGES must not name read-only pages). */
static bool page_in_regions(uint32_t mask, unsigned int pg)
{
	int i;

	for (i = 0; i < NR_REG; i++)
		if (pg >= R[i].first && pg < R[i].first + R[i].pages)
			return mask & (1U << i);
	return false;
}

static bool pm_same(uint64_t a, uint64_t b)
{
	uint64_t m = ST_PM_PRESENT | ST_PM_SWAP | ((1ULL << 55) - 1);

	return (a & m) == (b & m);
}

static bool p_wait(volatile uint64_t *word, int opi, const char *what)
{
	uint64_t t0 = st_now_ns();

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != ps->gen) {
		if (st_now_ns() - t0 > 60000000000ULL || waitpid(ps->c, NULL, WNOHANG) == ps->c) {
			st_fail(SH, "op %d: C did not %s for generation %llu", opi, what,
				(unsigned long long)ps->gen);
			return false;
		}
		usleep(20);
	}
	return true;
}

/* P is never changed by a sync, complete or not: pre (before the call) against post. */
static void p_unchanged(int opi)
{
	unsigned int i, bad = 0, n = total_pages();

	if (!ps->have_pre)
		return;
	for (i = 0; i < n; i++)
		bad += !ps->vol[i] && ps->pre[i] != ps->post[i];
	if (bad)
		st_fail(SH, "op %d: the sync changed %u of P's pages", opi, bad);
}

/*
 * A lazily freed page P mapped when the sync was called and reclaim has discarded since: by
 * the time P has read its memory, P maps nothing there or another page (the zero page its
 * read faulted in). Reclaim can run at any of P's returns to user (memory.high), so between
 * any two of the oracle's reads: judge it by the last one.
 */
static bool p_lost_after_call(unsigned int i)
{
	return ps->vol[i] && (ps->pm0[i] & ST_PM_PRESENT) &&
	       (!(ps->pm3[i] & ST_PM_PRESENT) || ST_PM_PFN(ps->pm3[i]) != ST_PM_PFN(ps->pm0[i]));
}

/* After a complete sync of the pages in mask: the whole oracle. */
static void verify(uint32_t mask, int opi)
{
	long long psm1[NR_REG][4], psm2[NR_REG][4];
	unsigned int n = total_pages(), i, bad = 0, pmbad = 0, empty_granules = 0, lost;
	uint64_t ev0, ev1, zh = st_zero_hash();
	long long pvmpte;
	char first[1024] = "";
	int k;

	/* Nothing may touch P's memory from here to the end of C's round but P's post writes. */
	for (k = 0; k < NR_REG; k++)
		st_pagemap(0, (uintptr_t)R[k].addr, R[k].pages, ps->pm1 + R[k].first);
	read_smaps(0, R, ps->buf, sizeof(ps->buf), psm1);
	ev0 = st_vm_events();
	ctl->nposted = 0;
	ctl->verify_mask = mask;
	__atomic_store_n(&ctl->verify_gen, ps->gen, __ATOMIC_RELEASE);
	if (!p_wait(&ctl->ack_pm, opi, "read its pagemap"))
		return;
	ev1 = st_vm_events();
	for (k = 0; k < NR_REG; k++)
		st_pagemap(0, (uintptr_t)R[k].addr, R[k].pages, ps->pm2 + R[k].first);
	read_smaps(0, R, ps->buf, sizeof(ps->buf), psm2);
	/* Now the memory of both: P's (the sync did not change it), then C's. */
	hash_all(ps->post);
	for (k = 0; k < NR_REG; k++)
		st_pagemap(0, (uintptr_t)R[k].addr, R[k].pages, ps->pm3 + R[k].first);
	p_unchanged(opi);
	__atomic_store_n(&ctl->go_hash, ps->gen, __ATOMIC_RELEASE);
	if (!p_wait(&ctl->ack1, opi, "read its memory"))
		return;
	if (ctl->c_err)
		st_fail(SH, "op %d: C reported error %d", opi, ctl->c_err);

	/* contents */
	for (i = 0; i < n; i++) {
		if (!page_in(mask, i))
			continue;
		SH->stats[ST_PAGES]++;
		if (ctl->chash[i] == ps->post[i] || (ps->vol[i] && ctl->chash[i] == zh))
			continue;
		/*
		 * MADV_FREE of a page C shares marks it lazily freed although C's entry may be
		 * dirty: reclaim then discards P's mapping and keeps C's (try_to_unmap_one()),
		 * as after a real fork. P reads zeros, C what P held before (seen on 6.1 under
		 * memory.high: seed 0x257426bcfafd). Only when P still mapped it as the sync
		 * began: an entry P had lost before, the sync must have removed from C.
		 */
		if (p_lost_after_call(i) && ps->post[i] == zh &&
		    (!ps->have_pre || ctl->chash[i] == ps->pre[i])) {
			SH->stats[ST_LAZY_LOST]++;
			continue;
		}
		if (!bad++) {
			unsigned int r = 0;

			while (r + 1 < NR_REG && i >= R[r + 1].first)
				r++;
			snprintf(first, sizeof(first), "page %u = %s+%u at %p, pagemap P %016llx C %016llx%s%s",
				 i, reg_def[r].name, i - R[r].first, page_addr(r, i - R[r].first),
				 (unsigned long long)ps->pm1[i], (unsigned long long)ctl->cpm[i],
				 ctl->chash[i] == zh ? ", C reads zeros" : "", ps->vol[i] ? ", volatile" : "");
		}
	}
	if (bad)
		st_fail(SH, "op %d: after a complete sync (gen %llu) C's contents differ from P's on %u "
			"pages (first: %s)", opi, (unsigned long long)ps->gen, bad, first);

	/* pagemap: judged only when nothing moved pages meanwhile */
	if (ev0 == ev1) {
		for (i = 0; i < n; i++) {
			uint64_t p = ps->pm1[i], c = ctl->cpm[i];
			bool ok;

			if (!page_in(mask, i) || !pm_same(p, ps->pm2[i]) || ps->vol[i])
				continue;
			SH->stats[ST_PM_JUDGED]++;
			if (p & ST_PM_SWAP)
				SH->stats[ST_SWAP_SEEN]++;
			if (p & ST_PM_PRESENT)
				ok = (c & ST_PM_PRESENT) && ST_PM_PFN(c) == ST_PM_PFN(p) &&
				     !(c & ST_PM_EXCL) && !(p & ST_PM_EXCL);
			else if (p & ST_PM_SWAP)
				ok = (c & ST_PM_SWAP) && ST_PM_PFN(c) == ST_PM_PFN(p);
			else
				ok = !(c & (ST_PM_PRESENT | ST_PM_SWAP));
			if (!ok && pmbad++ < 6) {
				size_t l = pmbad == 1 ? 0 : strlen(first);
				unsigned int r = 0;

				while (r + 1 < NR_REG && i >= R[r + 1].first)
					r++;
				snprintf(first + l, sizeof(first) - l, "%s%s+%u: P %016llx C %016llx",
					 l ? ", " : "", reg_def[r].name, i - R[r].first,
					 (unsigned long long)p, (unsigned long long)c);
			}
		}
		if (pmbad) {
			static char pm_maps[16384], cm_maps[16384];

			st_fail(SH, "op %d: pagemap after a complete sync: %u pages not shared as fork "
				"leaves them (%s)", opi, pmbad, first);
			char path[64];

			st_read_file("/proc/self/maps", pm_maps, sizeof(pm_maps));
			snprintf(path, sizeof(path), "/proc/%d/maps", ps->c);
			st_read_file(path, cm_maps, sizeof(cm_maps));
			printf("# P's maps:\n%s# C's maps:\n%s", pm_maps, cm_maps);
		}
		/* smaps, region by region */
		for (k = 0; k < NR_REG; k++) {
			/* the first mapping of the region only: skip it when it is not covered */
			if (!(mask & (1U << k)) || ctl->ro[R[k].first] ||
			    memcmp(psm1[k], psm2[k], sizeof(psm1[k])))
				continue;
			if (psm1[k][2] > 0)
				SH->stats[ST_HUGE_SEEN]++;
			/* C keeps the lazily freed pages reclaim took from P after the call (above) */
			lost = 0;
			for (i = R[k].first; i < R[k].first + R[k].pages; i++)
				lost += p_lost_after_call(i) && (ctl->cpm[i] & ST_PM_PRESENT);
			/* some of them may have gone after P's smaps were read: at most lost */
			if (lost && ctl->csm[k][0] - psm1[k][0] == ctl->csm[k][1] - psm1[k][1] &&
			    ctl->csm[k][0] - psm1[k][0] >= 0 &&
			    ctl->csm[k][0] - psm1[k][0] <= 4LL * lost &&
			    psm1[k][2] == ctl->csm[k][2] && psm1[k][3] == ctl->csm[k][3])
				continue;
			if (memcmp(psm1[k], ctl->csm[k], sizeof(psm1[k])))
				st_fail(SH, "op %d: smaps of region %s: P Rss %lld Anon %lld AnonHuge %lld "
					"Swap %lld, C %lld %lld %lld %lld kB", opi, reg_def[k].name,
					psm1[k][0], psm1[k][1], psm1[k][2], psm1[k][3], ctl->csm[k][0],
					ctl->csm[k][1], ctl->csm[k][2], ctl->csm[k][3]);
		}
	} else {
		SH->stats[ST_PM_SKIPPED]++;
	}

	/* VmPTE: C never holds more page tables than P plus its own and empty ones */
	if (st_read_file("/proc/self/status", ps->buf, sizeof(ps->buf)) > 0 && mask == 0x1f) {
		pvmpte = st_kv(ps->buf, "VmPTE");
		for (k = 0; k < NR_REG; k++) {
			uintptr_t a;

			for (a = (uintptr_t)R[k].addr & ~(ST_PMD - 1);
			     a < (uintptr_t)R[k].addr + R[k].pages * ST_PAGE; a += ST_PMD) {
				bool any = false;

				for (i = 0; i < 512 && !any; i++) {
					uintptr_t pa = a + i * ST_PAGE;
					unsigned int idx;

					if (pa < (uintptr_t)R[k].addr ||
					    pa >= (uintptr_t)R[k].addr + R[k].pages * ST_PAGE)
						continue;
					idx = R[k].first + (pa - (uintptr_t)R[k].addr) / ST_PAGE;
					any = ps->pm1[idx] & (ST_PM_PRESENT | ST_PM_SWAP);
				}
				empty_granules += !any;
			}
		}
		if (!ps->have_d0) {
			ps->d0 = ctl->c_vmpte - pvmpte;
			ps->have_d0 = true;
		} else if (ctl->c_vmpte - pvmpte > ps->d0 + 8 + 4LL * empty_granules) {
			st_fail(SH, "op %d: VmPTE: C %lld kB, P %lld kB: C holds more page tables than "
				"P's, its own (%lld kB at its first sync) and %u empty ones", opi,
				ctl->c_vmpte, pvmpte, ps->d0, empty_granules);
		}
	}

	/* Later writes stay private: P writes a few pages; C must not see them. */
	for (i = 0; i < 8; i++) {
		unsigned int reg = st_below(&ps->rng, NR_REG), pg = st_below(&ps->rng, R[reg].pages);
		unsigned int idx = R[reg].first + pg;

		if (!page_in(mask, idx) || ctl->ro[idx])
			continue;
		write_pages(reg, pg, 1, st_rnd(&ps->rng) | 1);
		ps->vol[idx] = 0;
		ctl->posted[ctl->nposted++] = idx;
	}
	__atomic_store_n(&ctl->go2, ps->gen, __ATOMIC_RELEASE);
	{
		uint64_t t0 = st_now_ns();

		while (__atomic_load_n(&ctl->ack2, __ATOMIC_ACQUIRE) != ps->gen) {
			if (st_now_ns() - t0 > 60000000000ULL || waitpid(ps->c, NULL, WNOHANG) == ps->c) {
				st_fail(SH, "op %d: C did not finish its round", opi);
				return;
			}
			usleep(20);
		}
	}
	if (ctl->c_post_bad)
		st_fail(SH, "op %d: %u pages P wrote after the sync changed in C too", opi,
			ctl->c_post_bad);
	/* ... and C's writes (its queued operations just ran) did not reach P. */
	hash_all(ps->now);
	for (i = 0, bad = 0; i < n; i++) {
		bool posted = false;
		unsigned int j;

		for (j = 0; j < ctl->nposted; j++)
			posted |= ctl->posted[j] == i;
		if (!posted && !ps->vol[i] && ps->now[i] != ps->post[i])
			bad++;
	}
	if (bad)
		st_fail(SH, "op %d: %u of P's pages changed while C ran its operations", opi, bad);
	SH->stats[ST_VERIFIED]++;
}

static void f_command(uint32_t what, uint32_t delay_us, uint32_t stopval)
{
	ctl->f_what = what;
	ctl->f_delay_us = delay_us;
	ctl->f_stopval = stopval;
	ctl->f_halt = 0;
	__atomic_add_fetch(&ctl->f_seq, 1, __ATOMIC_RELEASE);
}

static void f_finish(void)
{
	uint64_t t0 = st_now_ns();

	ctl->f_halt = 1;
	while (ctl->f_done != ctl->f_seq && st_now_ns() - t0 < 30000000000ULL)
		usleep(20);
}

static const uint64_t budgets[4][2] = {
	{ 0, 0 }, { 1, 1 }, { 1000, 100000 }, { 100000, 10000000 },
};

/* One REFORK call as the op says; verify when it completes. Returns -1 if the episode ends. */
static int do_sync(const struct st_op *o, int opi, bool unbounded)
{
	static struct cowlab_range rg[NR_REG];
	struct cowlab_refork r = {};
	uint32_t f = unbounded ? 0 : o->a[4], mask = 0x1f, what = 0;
	bool expect_ok, expect_einval = false;
	int ret, err, k, nr = 0;
	uint64_t b0, b1;

	if (ps->c <= 0 && spawn_c())
		return -1;
	ret = rf_wait_parked();
	if (ret == -ESRCH || ret == -ESTALE) {
		/* C is gone (killed) or the layout changed: fork a fresh C, as a user would. */
		if (ret == -ESTALE) {
			SH->stats[ST_ESTALE]++;
			if (layout_ok(false, 0x1f))
				st_fail(SH, "op %d: ESTALE while waiting for C although the layout is "
					"unchanged", opi);
		}
		if (spawn_c() || (ret = rf_wait_parked()))
			goto unexpected;
	} else if (ret) {
		st_fail(SH, "op %d: waiting for C to park: %s", opi, strerror(-ret));
		return -1;
	}
	if (f & SY_RANGES) {
		mask = f & SY_REGIONS;
		for (k = 0; k < NR_REG; k++) {
			if (!(mask & (1U << k)))
				continue;
			rg[nr].start = (uintptr_t)R[k].addr;
			rg[nr].end = (uintptr_t)R[k].addr + R[k].pages * ST_PAGE;
			nr++;
		}
		r.flags |= COWLAB_RF_RANGES;
		r.nr_ranges = nr;
		r.ranges = (uintptr_t)rg;
	}
	expect_ok = layout_ok(f & SY_RANGES, mask);
	/* RANGES over a page P left read-only: not covered, a bad range (EINVAL). */
	if (f & SY_RANGES) {
		unsigned int i, n = total_pages();

		for (i = 0; i < n; i++)
			if (ctl->ro[i] && page_in_regions(mask, i))
				expect_einval = true;
	}
	r.pid = ps->c;
	/* The oracle of change tracking: after a complete sync, the module's own full compare. */
	r.flags |= COWLAB_RF_VERIFY;
	/* One sync in four re-copies every difference as a run: both paths, mixed. */
	if (((o->a[3] >> 10) & 3) == 0) {
		r.flags |= COWLAB_RF_RUNS_ONLY;
		SH->stats[ST_RUNS_ONLY]++;
	}
	b0 = budgets[unbounded ? 0 : o->a[0]][0];
	b1 = budgets[unbounded ? 0 : o->a[0]][1];
	r.budget_ns = b1 > b0 ? b0 + st_below(&ps->rng, b1 - b0) : b0;
	if (!unbounded && o->a[1]) {
		r.flags |= COWLAB_RF_STOPWORD;
		r.stop_addr = (uintptr_t)&ctl->stop;
		r.stop_val = 5;
		ctl->stop = o->a[1] == 1 ? 4 : 5;	/* 1: flipped before the call */
		if (o->a[1] == 2)
			what |= F_FLIP;
	}
	if (f & SY_SIGNAL)
		what |= F_SIGNAL;
	if (f & SY_KILLC)
		what |= F_KILLC;
	if (f & SY_MIGRATE)
		what |= F_MIGRATE;
	if (f & SY_KILLP) {
		what |= F_KILLP;
		SH->planned_kill = 1;
	}
	/*
	 * Reading all of P before the call swaps in what reclaim swapped out: do it for every
	 * other sync only, so that syncs also meet P's swap entries.
	 */
	ps->have_pre = (o->a[3] >> 9) & 1 || unbounded;
	if (ps->have_pre)
		hash_all(ps->pre);
	for (k = 0; k < NR_REG; k++)
		st_pagemap(0, (uintptr_t)R[k].addr, R[k].pages, ps->pm0 + R[k].first);
	if (what)
		f_command(what, o->a[2], 5);
	ret = ioctl(dev, COWLAB_IOC_REFORK, &r);
	err = errno;
	if (what)
		f_finish();
	SH->stats[ST_SYNCS]++;
	if (!ret && (r.tracking & COWLAB_RF_TRK_INPLACE)) {
		SH->stats[ST_INPLACE]++;
		if (r.flags & COWLAB_RF_RUNS_ONLY)
			st_fail(SH, "op %d: RUNS_ONLY asked, but entries were re-synced in place", opi);
	}
	if (f & SY_SIGNAL)
		SH->stats[ST_SIGNALS]++;
	if (f & SY_KILLC)
		SH->stats[ST_KILLS]++;
	/* P is never changed by a sync; a complete one is checked after the pagemap is read. */
	if (ret || r.status != COWLAB_RF_COMPLETE || (f & SY_KILLC)) {
		hash_all(ps->post);
		p_unchanged(opi);
	}
	if (expect_einval) {
		if (!ret || err != EINVAL)
			st_fail(SH, "op %d: RANGES over read-only pages: %s, want EINVAL", opi,
				ret ? strerror(err) : "success");
		return 0;
	}
	if (ret) {
		if (err == ESTALE) {
			SH->stats[ST_ESTALE]++;
			if (expect_ok)
				st_fail(SH, "op %d: ESTALE although P's covered layout is unchanged and "
					"every mapping has its twin in C", opi);
			reap_c();
			return 0;
		}
		if ((err == ESRCH || err == EBUSY) && (f & SY_KILLC)) {
			reap_c();
			return 0;
		}
		ret = -err;
		goto unexpected;
	}
	if (!expect_ok)
		st_fail(SH, "op %d: the sync succeeded although the layout changed (status %u)", opi,
			r.status);
	if (r.status == COWLAB_RF_PARTIAL) {
		SH->stats[ST_PARTIAL]++;
		if (unbounded)
			st_fail(SH, "op %d: an unbounded sync without stop conditions was partial "
				"(stop %u)", opi, r.stop_reason);
		return 0;
	}
	if (r.status != COWLAB_RF_COMPLETE || r.generation != ps->gen + 1) {
		st_fail(SH, "op %d: status %u, generation %llu after %llu", opi, r.status,
			(unsigned long long)r.generation, (unsigned long long)ps->gen);
		return 0;
	}
	SH->stats[ST_COMPLETE]++;
	if (r.tracking & COWLAB_RF_TRK_INCREMENTAL)
		SH->stats[ST_INCREMENTAL]++;
	if (!(r.tracking & COWLAB_RF_TRK_VERIFIED))
		st_fail(SH, "op %d: VERIFY asked, but the full comparison did not run (tracking 0x%x)",
			opi, r.tracking);
	else if (r.verify_diffs)
		st_fail(SH, "op %d: change tracking missed %u entries (found by the full comparison "
			"after an incremental sync)", opi, r.verify_diffs);
	ps->gen = r.generation;
	if (f & SY_KILLC) {
		/* F killed C during the sync: it cannot verify; reap it, the next sync forks anew. */
		reap_c();
		return 0;
	}
	verify(mask, opi);
	return 0;
unexpected:
	st_fail(SH, "op %d: REFORK (flags 0x%x, budget %llu ns, %u ranges): %s", opi, r.flags,
		(unsigned long long)r.budget_ns, r.nr_ranges, strerror(-ret));
	return -1;
}

static void p_fork_other(unsigned int reg, unsigned int pg, unsigned int n, uint64_t val)
{
	pid_t g;

	if (ps->ng == 8)
		reap_grandchildren();
	g = fork();
	if (g == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		write_pages(reg, pg, n, val);
		if (val & 1)
			_exit(0);
		pause();
		_exit(0);
	}
	if (g > 0)
		ps->g[ps->ng++] = g;
}

static void p_remap(unsigned int how)
{
	struct region *m = &R[R_MUT];
	size_t len = (size_t)m->pages * ST_PAGE;
	uint8_t *to = ps->mut_alt ? ps->mut_home : ps->mut_alt_addr;
	void *x;

	switch (how) {
	case 0:	/* move */
		x = mremap(m->addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (x != MAP_FAILED) {
			m->addr = x;
			ps->mut_alt = !ps->mut_alt;
		}
		break;
	case 1:	/* unmap and map fresh (zeros) at the same place */
		munmap(m->addr, len);
		x = mmap(m->addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0);
		memset(ctl->ro + m->first, 0, m->pages);
		memset(ps->vol + m->first, 0, m->pages);
		if (x != MAP_FAILED) {
			write_pages(R_MUT, 0, 1, 1);	/* an anon_vma before C's next fork */
			ps->mut_fresh = true;
		}
		break;
	default:	/* shrink by a page and grow back in place (one mapping only) */
		if (memchr(ctl->ro + m->first, 1, m->pages))
			break;	/* split by mprotect: mremap could shrink it but not grow it back */
		if (mremap(m->addr, len, len - ST_PAGE, 0) != MAP_FAILED &&
		    mremap(m->addr, len - ST_PAGE, len, 0) == MAP_FAILED)
			st_fail(SH, "mremap could not grow %s back: %s", reg_def[R_MUT].name,
				strerror(errno));
		break;
	}
}

static int p_op(const struct st_op *o, int opi)
{
	unsigned int reg = o->a[0] < NR_REG ? o->a[0] : 0;
	unsigned int pg = o->a[1] % R[reg].pages, n = o->a[2], i;
	uint64_t val = ((uint64_t)o->a[3] << 32) | o->a[3] | 1;
	unsigned int idx = R[reg].first + pg;

	switch (o->kind) {
	case OP_PW:
		write_pages(reg, pg, n, val);
		for (i = 0; i < n && pg + i < R[reg].pages; i++)
			if (!ctl->ro[idx + i])
				ps->vol[idx + i] = 0;
		break;
	case OP_PWH:
		pg = huge_start(reg, pg);
		write_pages(reg, pg, 512, val);
		for (i = 0; i < 512 && pg + i < R[reg].pages; i++)
			if (!ctl->ro[R[reg].first + pg + i])
				ps->vol[R[reg].first + pg + i] = 0;
		break;
	case OP_PRD: read_pages(reg, pg, n); break;
	case OP_PDN: advise(reg, pg, n, MADV_DONTNEED); break;
	case OP_PFREE:
		advise(reg, pg, n, MADV_FREE);
		for (i = 0; i < n && pg + i < R[reg].pages; i++)
			ps->vol[idx + i] = 1;
		break;
	case OP_POUT: advise(reg, pg, n, MADV_PAGEOUT); break;
	case OP_PPROT:
		if (pg + n > R[reg].pages)
			n = R[reg].pages - pg;
		mprotect(page_addr(reg, pg), (size_t)n * ST_PAGE, PROT_READ);
		mprotect(page_addr(reg, pg), (size_t)n * ST_PAGE, PROT_READ | PROT_WRITE);
		/* writable again, also where a pprotl left them read-only (seed 0x551c35088ed1) */
		memset(ctl->ro + idx, 0, n);
		break;
	case OP_PPROTL:
		if (o->a[3] & 1) {
			mprotect(R[reg].addr, (size_t)R[reg].pages * ST_PAGE, PROT_READ | PROT_WRITE);
			memset(ctl->ro + R[reg].first, 0, R[reg].pages);
		} else {
			if (pg + n > R[reg].pages)
				n = R[reg].pages - pg;
			mprotect(page_addr(reg, pg), (size_t)n * ST_PAGE, PROT_READ);
			memset(ctl->ro + idx, 1, n);
		}
		break;
	case OP_PTHP:
		madvise(R[reg].addr, (size_t)R[reg].pages * ST_PAGE,
			(o->a[3] & 1) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		break;
	case OP_PCOLL: advise(reg, huge_start(reg, pg), 512, MADV_COLLAPSE); break;
	case OP_PMIG: migrate(0, reg, pg, n, o->a[3] & 1); break;
	case OP_PFORK: p_fork_other(reg, pg, n, val); break;
	case OP_PREMAP: p_remap(o->a[1] % 3); break;
	case OP_PCOMPACT: st_write_file("/proc/sys/vm/compact_memory", "1"); break;
	case OP_PUFFD: uffd_fill_in(R, reg, pg, n, val, (uint8_t *)ps->buf, ps->vol); break;
	case OP_CW: case OP_CWH: case OP_CDN: case OP_COUT: case OP_CCOLL: case OP_CMIG:
	case OP_CRD: case OP_CUFFD:
		if (ctl->ncops < 512) {
			struct cop *c = &ctl->cops[ctl->ncops++];

			c->kind = o->kind;
			c->reg = reg;
			c->pg = pg;
			c->n = n;
			c->val = val;
			SH->stats[ST_COPS]++;
		}
		break;
	case OP_SYNC: return do_sync(o, opi, false);
	case OP_FULL: return do_sync(o, opi, true);
	case OP_CSIG:
		/*
		 * C leaves RF_WAIT for the handler and enters it again (the call restarts): wait
		 * until the handler ran, so that the next sync's wait for C to park sees that,
		 * and not C still parked with the signal pending (the sync then met C outside
		 * RF_WAIT, EBUSY as documented: seed 0x32b3477d9bee on 6.1, a csig right before
		 * a sync).
		 */
		if (ps->c > 0) {
			uint32_t s0 = __atomic_load_n(&ctl->c_sigs, __ATOMIC_ACQUIRE);
			uint64_t t0 = st_now_ns();

			kill(ps->c, SIGUSR1);
			while (__atomic_load_n(&ctl->c_sigs, __ATOMIC_ACQUIRE) == s0 &&
			       st_now_ns() - t0 < 5000000000ULL)
				usleep(50);
		}
		break;
	case OP_RESPAWN: return spawn_c();
	}
	return 0;
}

static void op_log(const struct st_op *o, int i)
{
	char b[128];
	int l;

	if (!st_verbose())
		return;
	l = snprintf(b, sizeof(b), "# op %d: %s %u %u %u %u 0x%x\n", i, op_names[o->kind], o->a[0],
		     o->a[1], o->a[2], o->a[3], o->a[4]);
	if (write(1, b, l) < 0)
		return;
}

static int setup_regions(void)
{
	size_t span = 0;
	uint8_t *base, *a;
	int i, fd;

	for (i = 0; i < NR_REG; i++)
		span += ((size_t)reg_def[i].pages * ST_PAGE + 2 * ST_PMD) & ~(ST_PMD - 1);
	span += 4 * ST_PMD;	/* R_MUT's alternate home */
	base = mmap(NULL, span + ST_PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	munmap(base, span + ST_PMD);
	a = (uint8_t *)(((uintptr_t)base + ST_PMD - 1) & ~(ST_PMD - 1));
	fd = open(FILE_PATH, O_RDWR);
	if (fd < 0)
		return -1;
	for (i = 0; i < NR_REG; i++) {
		size_t len = (size_t)reg_def[i].pages * ST_PAGE;
		uint8_t *at = a + reg_def[i].offset * ST_PAGE, *m;

		if (i == R_FILE)
			m = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
		else
			m = mmap(at, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (m != at)
			return -1;
		if (reg_def[i].advice)
			madvise(m, len, reg_def[i].advice);
		R[i].addr = m;
		R[i].pages = reg_def[i].pages;
		R[i].first = i ? R[i - 1].first + R[i - 1].pages : 0;
		a += (len + reg_def[i].offset * ST_PAGE + 2 * ST_PMD) & ~(ST_PMD - 1);
	}
	ps->mut_home = R[R_MUT].addr;
	ps->mut_alt_addr = a + ST_PMD;
	close(fd);
	/* Every region gets an anon_vma (and some contents) before C's first fork. */
	for (i = 0; i < NR_REG; i++) {
		unsigned int p;

		for (p = 0; p < R[i].pages; p += (i == R_FILE ? 7 : 1))
			write_pages(i, p, 1, 0x5151000000000000ULL | (i << 24) | p);
	}
	return 0;
}

static int episode(uint64_t seed, const struct st_op *ops, int n, struct st_shared *sh)
{
	int i, ret = 0;

	SH = sh;
	dev = open(COWLAB_DEVICE, O_RDWR);
	if (dev < 0) {
		st_skip(sh, "no %s (%s)", COWLAB_DEVICE, strerror(errno));
		return 0;
	}
	{
		struct cowlab_version v = {};

		if (ioctl(dev, COWLAB_IOC_VERSION, &v) || !(v.features & COWLAB_FEAT_REFORK)) {
			st_skip(sh, "the module offers no refork here");
			return 0;
		}
	}
	if (access("/sys/fs/cgroup/cowlab-stress/cgroup.procs", W_OK) == 0 && (seed % 3) == 0)
		st_write_file("/sys/fs/cgroup/cowlab-stress/cgroup.procs", "0");
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ps = mmap(NULL, sizeof(*ps), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED || ps == MAP_FAILED) {
		st_fail(sh, "mmap of the control areas failed");
		return 1;
	}
	R = ctl->reg;
	st_rng_seed(&ps->rng, seed ^ 0xabcdef);
	ctl->p_pid = getpid();
	signal(SIGUSR1, p_usr1_handler);
	if (setup_regions()) {
		st_fail(sh, "setting up the regions failed: %s", strerror(errno));
		return 1;
	}
	ps->f = fork();
	if (ps->f == 0)
		f_main();
	if (spawn_c()) {
		st_fail(sh, "fork of C failed");
		return 1;
	}
	SH->stats[ST_RESPAWNS] = 0;
	for (i = 0; i < n && !sh->msg[0]; i++) {
		sh->executed = i + 1;
		op_log(&ops[i], i);
		if (p_op(&ops[i], i) < 0) {
			ret = 1;
			break;
		}
	}
	if (!sh->msg[0] && !ret) {
		/* The end: every region writable again, then one complete sync, verified. */
		struct st_op fin = { .kind = OP_FULL };
		int k;

		for (k = 0; k < NR_REG; k++)
			mprotect(R[k].addr, (size_t)R[k].pages * ST_PAGE, PROT_READ | PROT_WRITE);
		memset(ctl->ro, 0, sizeof(ctl->ro));
		sh->executed = n;
		for (k = 0; k < 3 && !sh->msg[0]; k++) {
			uint64_t done = SH->stats[ST_COMPLETE];

			if (do_sync(&fin, n, true) || SH->stats[ST_COMPLETE] > done)
				break;
		}
	}
	ctl->f_halt = 1;
	kill(ps->f, SIGKILL);
	waitpid(ps->f, NULL, 0);
	reap_c();
	reap_grandchildren();
	return sh->msg[0] ? 1 : ret;
}

static void setup(void)
{
	static char page[ST_PAGE];
	int fd, i;

	/* Debian's default is THP always; khugepaged made eager so that it collapses during syncs. */
	st_write_file("/sys/kernel/mm/transparent_hugepage/enabled", "always");
	st_write_file("/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs", "100");
	st_write_file("/sys/kernel/mm/transparent_hugepage/khugepaged/alloc_sleep_millisecs", "100");
	st_write_file("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_to_scan", "8192");
	if (access("/sys/devices/system/node/node1", F_OK) == 0)
		nodes = 2;
	fd = open(FILE_PATH, O_RDWR | O_CREAT | O_TRUNC, 0600);
	for (i = 0; fd >= 0 && i < (int)reg_def[R_FILE].pages; i++) {
		memset(page, 'a' + i % 26, sizeof(page));
		((uint32_t *)page)[0] = i;
		if (write(fd, page, sizeof(page)) != sizeof(page))
			break;
	}
	if (fd >= 0)
		close(fd);
	/* A memory cgroup for one episode in three (reclaim to swap under pressure). */
	{
		char buf[4096];
		bool swap;

		st_read_file("/proc/swaps", buf, sizeof(buf));
		swap = strchr(buf, '\n') && strchr(buf, '\n')[1];
		if (swap) {
			st_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
			mkdir("/sys/fs/cgroup/cowlab-stress", 0755);
			/*
			 * Under P's working set: reclaim to swap during the episode. memory.high,
			 * not memory.max: reclaim and throttling without the OOM killer (seen on
			 * the debug kernel: a shmem swap-in charge over memory.max killed P).
			 */
			st_write_file(getenv("COWLAB_STRESS_MEMCG_MAX") ?
				      "/sys/fs/cgroup/cowlab-stress/memory.max" :
				      "/sys/fs/cgroup/cowlab-stress/memory.high", "16M");
		}
		printf("# setup: %d NUMA node(s), swap %s, memory cgroup %s\n", nodes,
		       swap ? "on" : "off (PAGEOUT keeps anon pages)",
		       access("/sys/fs/cgroup/cowlab-stress/memory.high", F_OK) ? "none" :
		       "memory.high 16M for one episode in three");
	}
}

int main(int argc, char **argv)
{
	static const struct st_program prog = {
		.name = "refork",
		.kind_names = op_names,
		.nr_kinds = NR_OPS,
		.stat_names = stat_names,
		.generate = gen_ops,
		.episode = episode,
		.setup = setup,
	};

	return st_main(&prog, argc, argv);
}
