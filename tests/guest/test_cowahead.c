// SPDX-License-Identifier: GPL-2.0
/*
 * cow-ahead in the guest: COW semantics checked by memory contents across a
 * scenario matrix, exact fault/batch counts checked against a model of the
 * window algorithm, never-touched and special pages left alone, inheritance
 * and exec, bad input with exact errnos and a silent kernel log.
 *
 * Each scenario: P fills a region, sets a policy, forks C. Side A writes its
 * tag (sequentially, randomly or with a stride); side B then checks it sees
 * only the original contents, and writes its own tag everywhere; A checks it
 * sees only its own writes and the original; B checks its own. A and B are
 * P and C, or C and P ("writer is the child").
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <poll.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "tap.h"

#define PAGE		4096UL
#define NP		1024		/* pages in a scenario region (4 MiB) */
#define HUGE		(2UL << 20)
#define TAG_ORIG	0x11u
#define TAG_A		0xaau
#define TAG_B		0xbbu
#define ARRAY_SIZE_M(a)	(sizeof(a) / sizeof((a)[0]))

enum pattern { SEQ, RANDOM, STRIDE };
enum setup { PLAIN, THP_PMD, THP_PTE, SWAP, MPROTECT, THREADS };

static int dev = -1;
static const char *pattern_name[] = { "sequential", "random", "stride-4" };
static const char *setup_name[] = { "anon", "PMD-mapped THP", "PTE-mapped THP", "swapped out",
				    "mprotect", "2 writer threads" };

/* ---- helpers ------------------------------------------------------------ */

static int set_policy(pid_t pid, uint32_t window, uint32_t flags, void *start, size_t len)
{
	struct cowlab_cowahead_policy p = { .pid = pid, .window = window, .flags = flags };

	if (flags & COWLAB_CA_RANGE) {
		p.start = (uintptr_t)start;
		p.end = (uintptr_t)start + len;
	}
	return ioctl(dev, COWLAB_IOC_CA_SET, &p) ? errno : 0;
}

static int get_stats(pid_t pid, struct cowlab_cowahead_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->pid = pid;
	return ioctl(dev, COWLAB_IOC_CA_STATS, st) ? errno : 0;
}

static uint64_t word(uint32_t tag, size_t i)
{
	return ((uint64_t)tag << 32) | i;
}

/* Write a recognisable page: first, middle and last words. */
static void put(char *r, size_t i, uint32_t tag)
{
	uint64_t *q = (uint64_t *)(r + i * PAGE);

	q[0] = word(tag, i);
	q[PAGE / 16] = ~word(tag, i);
	q[PAGE / 8 - 1] = word(tag, i) ^ 0x5a5a5a5a5a5a5a5aULL;
}

/* Does @page hold page @i of @tag? */
static int is_page(const char *page, size_t i, uint32_t tag)
{
	const uint64_t *q = (const uint64_t *)page;

	return q[0] == word(tag, i) && q[PAGE / 16] == ~word(tag, i) &&
	       q[PAGE / 8 - 1] == (word(tag, i) ^ 0x5a5a5a5a5a5a5a5aULL);
}

static int is(const char *r, size_t i, uint32_t tag)
{
	return is_page(r + i * PAGE, i, tag);
}

static char *region(size_t pages, bool thp)
{
	size_t len = pages * PAGE;
	char *raw = mmap(NULL, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	char *r;

	if (raw == MAP_FAILED)
		return NULL;
	r = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
	if (r > raw)
		munmap(raw, r - raw);
	munmap(r + len, raw + len + HUGE - (r + len));
	madvise(r, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return r;
}

/* The order in which side A writes; returns how many pages it writes. */
static size_t order(enum pattern pat, size_t *idx, unsigned int seed)
{
	size_t i, n = 0;

	if (pat == SEQ) {
		for (i = 0; i < NP; i++)
			idx[n++] = i;
	} else if (pat == STRIDE) {
		for (i = 0; i < NP; i += 4)
			idx[n++] = i;
	} else {	/* a random half, in random order */
		char seen[NP] = {};

		srand(seed);
		while (n < NP / 2) {
			i = (size_t)rand() % NP;
			if (!seen[i]) {
				seen[i] = 1;
				idx[n++] = i;
			}
		}
	}
	return n;
}

/* The module's window algorithm, on the same sequence: exact expected counts. */
struct model { uint64_t faults, batches, broken, skipped, grows, shrinks; };

static void model_run(const size_t *idx, size_t n, uint32_t window, bool adaptive,
		      uint64_t base_page, struct model *m)
{
	char broken[NP] = {};
	uint64_t next = 0;
	uint32_t cur = 0, win;
	size_t k, j;

	memset(m, 0, sizeof(*m));
	for (k = 0; k < n; k++) {
		size_t f = idx[k];
		uint64_t fpage = base_page + f;

		if (broken[f])
			continue;	/* already writable: no fault */
		broken[f] = 1;
		m->faults++;
		if (!adaptive) {
			win = window;
		} else if (fpage == next) {
			win = cur ? (cur * 2 < window ? cur * 2 : window) : (window < 2 ? window : 2);
			m->grows += win > cur;
		} else {
			win = 0;
			m->shrinks += cur != 0;
		}
		cur = win;
		next = fpage + 1 + win;
		m->batches += win > 0;
		for (j = f + 1; j <= f + win && j < NP; j++) {
			if (broken[j]) {
				m->skipped++;
			} else {
				broken[j] = 1;
				m->broken++;
			}
		}
	}
}

static int wait_byte(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

static void send_byte(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(99);
}

struct thr { char *r; const size_t *idx; size_t from, to; };

static void *thr_write(void *arg)
{
	struct thr *t = arg;
	size_t k;

	for (k = t->from; k < t->to; k++)
		put(t->r, t->idx[k], TAG_A);
	return NULL;
}

static void write_a(char *r, const size_t *idx, size_t n, bool threads)
{
	size_t k;

	if (threads) {
		struct thr t1 = { r, idx, 0, n / 2 }, t2 = { r, idx, n / 2, n };
		pthread_t a, b;

		pthread_create(&a, NULL, thr_write, &t1);
		pthread_create(&b, NULL, thr_write, &t2);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		return;
	}
	for (k = 0; k < n; k++)
		put(r, idx[k], TAG_A);
}

/* ---- scenarios ------------------------------------------------------------ */

struct outcome {
	int a_errors, b_errors;			/* pages with the wrong contents */
	struct cowlab_cowahead_stats a_stats;	/* A's counters after its write phase */
	int status;				/* the child's exit status */
};

/* Shared with the child through a MAP_SHARED page: the child's view of the outcome. */
static struct outcome *shared_out;

static int thp_pages(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return (int)(kb / 2048);
}

static int swapped_pages(char *r, size_t pages)
{
	int fd = open("/proc/self/pagemap", O_RDONLY), n = 0;
	uint64_t e;
	size_t i;

	if (fd < 0)
		return -1;
	for (i = 0; i < pages; i++)
		if (pread(fd, &e, 8, ((uintptr_t)r / PAGE + i) * 8) == 8 && (e >> 62 & 1))
			n++;
	close(fd);
	return n;
}

static bool swap_on;

static void side_a(char *r, const size_t *idx, size_t n, enum setup s, int to_b, int from_b,
		   struct outcome *o)
{
	size_t i;

	if (s == MPROTECT) {
		mprotect(r, NP * PAGE, PROT_READ);
		mprotect(r, NP * PAGE, PROT_READ | PROT_WRITE);
	}
	write_a(r, idx, n, s == THREADS);
	get_stats(0, &o->a_stats);
	send_byte(to_b);
	wait_byte(from_b);
	/* A sees its own writes and the original elsewhere, never B's. */
	{
		char mine[NP] = {};

		for (i = 0; i < n; i++)
			mine[idx[i]] = 1;
		for (i = 0; i < NP; i++)
			o->a_errors += !is(r, i, mine[i] ? TAG_A : TAG_ORIG);
	}
}

static void side_b(char *r, int to_a, int from_a, struct outcome *o)
{
	size_t i;

	wait_byte(from_a);
	for (i = 0; i < NP; i++)
		o->b_errors += !is(r, i, TAG_ORIG);	/* none of A's writes */
	for (i = 0; i < NP; i++)
		put(r, i, TAG_B);
	send_byte(to_a);
	for (i = 0; i < NP; i++)
		o->b_errors += !is(r, i, TAG_B);
}

static int run_scenario(enum setup s, enum pattern pat, bool child_writes, uint32_t window,
			uint32_t flags, struct outcome *o, size_t *idx, size_t *n, char **rp)
{
	int ab[2], ba[2], status;
	char *r = region(NP, s == THP_PMD || s == THP_PTE);
	size_t i;
	pid_t c;

	memset(o, 0, sizeof(*o));
	memset(shared_out, 0, sizeof(*shared_out));
	if (!r)
		return -1;
	*rp = r;
	for (i = 0; i < NP; i++)
		put(r, i, TAG_ORIG);
	if (s == THP_PMD || s == THP_PTE) {
		if (thp_pages() == 0)
			return -2;	/* no THP here: SKIP */
		if (s == THP_PTE)	/* split every PMD mapping, keep the pages */
			for (i = 0; i < NP; i += 512) {
				mprotect(r + (i + 1) * PAGE, PAGE, PROT_READ);
				mprotect(r + (i + 1) * PAGE, PAGE, PROT_READ | PROT_WRITE);
			}
	}
	if (s == SWAP) {
		if (!swap_on)
			return -3;
		madvise(r, NP * PAGE, MADV_PAGEOUT);
		if (swapped_pages(r, NP) < NP / 2)
			return -3;
	}
	*n = order(pat, idx, 1234);
	if (set_policy(0, window, flags | COWLAB_CA_RANGE, r, NP * PAGE))
		return -1;
	if (pipe(ab) || pipe(ba))
		return -1;
	c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		if (child_writes)
			side_a(r, idx, *n, s, ab[1], ba[0], shared_out);
		else
			side_b(r, ba[1], ab[0], shared_out);
		_exit(0);
	}
	if (child_writes)
		side_b(r, ba[1], ab[0], o);
	else
		side_a(r, idx, *n, s, ab[1], ba[0], o);
	waitpid(c, &status, 0);
	o->status = status;
	if (child_writes) {
		o->a_errors = shared_out->a_errors;
		o->a_stats = shared_out->a_stats;
	} else {
		o->b_errors = shared_out->b_errors;
	}
	set_policy(0, 0, 0, NULL, 0);
	close(ab[0]); close(ab[1]); close(ba[0]); close(ba[1]);
	return 0;
}

static void scenario(enum setup s, enum pattern pat, bool child_writes, uint32_t window,
		     uint32_t flags)
{
	static size_t idx[NP];
	struct outcome o;
	struct model m;
	size_t n = 0;
	char *r = NULL;
	const char *mode = flags & COWLAB_CA_ADAPTIVE ? "adaptive" : "fixed";
	int ret = run_scenario(s, pat, child_writes, window, flags, &o, idx, &n, &r);
	bool exact = s == PLAIN || s == MPROTECT;

	if (ret == -2 || ret == -3) {
		const char *why = ret == -2 ? "no THP in this guest" : "no swap in this guest";

		tap_skip("%s: %s", setup_name[s], why);
		if (s != SWAP)
			tap_skip("%s: %s", setup_name[s], why);
		if (r)
			munmap(r, NP * PAGE);
		return;
	}
	tap_ok(ret == 0 && o.a_errors == 0 && o.b_errors == 0 && WIFEXITED(o.status) &&
	       WEXITSTATUS(o.status) == 0,
	       "COW semantics: %s, %s writes, writer %s, %s %u: wrong pages A %d B %d",
	       setup_name[s], pattern_name[pat], child_writes ? "child" : "parent", mode, window,
	       o.a_errors, o.b_errors);
	if (exact) {
		model_run(idx, n, window, flags & COWLAB_CA_ADAPTIVE, (uintptr_t)r / PAGE, &m);
		tap_ok(o.a_stats.wp_faults == m.faults && o.a_stats.pages_broken == m.broken &&
		       o.a_stats.batches == m.batches && o.a_stats.grows == m.grows &&
		       o.a_stats.shrinks == m.shrinks && o.a_stats.errors == 0,
		       "counts = model: %s %s %u: faults %llu/%llu broken %llu/%llu batches %llu/%llu "
		       "grows %llu/%llu shrinks %llu/%llu",
		       pattern_name[pat], mode, window,
		       (unsigned long long)o.a_stats.wp_faults, (unsigned long long)m.faults,
		       (unsigned long long)o.a_stats.pages_broken, (unsigned long long)m.broken,
		       (unsigned long long)o.a_stats.batches, (unsigned long long)m.batches,
		       (unsigned long long)o.a_stats.grows, (unsigned long long)m.grows,
		       (unsigned long long)o.a_stats.shrinks, (unsigned long long)m.shrinks);
	} else if (s != SWAP) {
		tap_ok(o.a_stats.pages_broken > 0 && o.a_stats.errors == 0,
		       "cow-ahead acted: %s: %llu faults, %llu pages broken ahead, %llu errors",
		       setup_name[s], (unsigned long long)o.a_stats.wp_faults,
		       (unsigned long long)o.a_stats.pages_broken,
		       (unsigned long long)o.a_stats.errors);
	}
	munmap(r, NP * PAGE);
}

/* Only present, anonymous, write-protected pages are broken: holes stay holes, zero-page too. */
static void test_holes(void)
{
	char *r = region(64, false);
	struct cowlab_cowahead_stats st = {};
	int fd = open("/proc/self/pagemap", O_RDONLY), status, present = 0;
	volatile char sink;
	int go[2];
	char ch = 0;
	size_t i;
	pid_t c;

	for (i = 0; i < 64; i += 2)
		put(r, i, TAG_ORIG);		/* even pages written */
	for (i = 1; i < 16; i += 4)
		sink = r[i * PAGE];		/* some odd pages read: zero page */
	(void)sink;
	set_policy(0, 16, COWLAB_CA_RANGE, r, 64 * PAGE);
	if (pipe(go))
		return;
	c = fork();
	if (c == 0) {	/* keeps the even pages shared (a page mapped once is reused, not broken) */
		close(go[1]);
		if (read(go[0], &ch, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	put(r, 0, TAG_A);			/* one COW fault: window 1..16 */
	get_stats(0, &st);
	close(go[1]);
	waitpid(c, &status, 0);
	for (i = 1; i < 64; i += 2) {
		uint64_t e = 0;

		if (pread(fd, &e, 8, ((uintptr_t)r / PAGE + i) * 8) == 8 && (e >> 63 & 1))
			present++;
	}
	tap_ok(st.wp_faults == 1 && st.pages_broken == 8 && st.pages_skipped == 8,
	       "holes and zero-page left alone: broken %llu (want 8 even pages), skipped %llu (want 8)",
	       (unsigned long long)st.pages_broken, (unsigned long long)st.pages_skipped);
	tap_ok(present == 4, "no page populated: %d odd pages present (want the 4 read ones)", present);
	set_policy(0, 0, 0, NULL, 0);
	close(fd);
	munmap(r, 64 * PAGE);
}

/*
 * Shared mappings are never touched, and soft-dirty write protection is left
 * to soft-dirty: clear_refs (4) write-protects every PTE without COW, so the
 * next write to either region is a write-protect fault the module sees.
 */
static void test_shared_and_softdirty(void)
{
	struct cowlab_cowahead_stats st;
	char *sh = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *r = region(64, false);
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int pm = open("/proc/self/pagemap", O_RDONLY), sd = 0;
	size_t i;

	for (i = 0; i < 64; i++) {
		put(sh, i, TAG_ORIG);
		put(r, i, TAG_ORIG);
	}
	if (fd < 0 || pm < 0) {
		tap_skip("soft-dirty tracking unavailable");
		tap_skip("soft-dirty tracking unavailable");
		goto out;
	}
	set_policy(0, 16, COWLAB_CA_RANGE, sh, 64 * PAGE);
	if (write(fd, "4", 1) != 1) {
		tap_skip("clear_refs failed");
		tap_skip("clear_refs failed");
		goto out;
	}
	put(sh, 0, TAG_A);
	get_stats(0, &st);
	tap_ok(st.wp_faults == 1 && st.batches == 0 && st.pages_broken == 0,
	       "MAP_SHARED region: fault seen (%llu), no batch (%llu), nothing broken (%llu)",
	       (unsigned long long)st.wp_faults, (unsigned long long)st.batches,
	       (unsigned long long)st.pages_broken);

	set_policy(0, 0, 0, NULL, 0);	/* a fresh policy: fresh counters */
	set_policy(0, 16, COWLAB_CA_RANGE, r, 64 * PAGE);
	if (write(fd, "4", 1) != 1)
		sd = -1;
	put(r, 0, TAG_A);
	for (i = 1; i <= 16; i++) {
		uint64_t e = 0;

		if (pread(pm, &e, 8, ((uintptr_t)r / PAGE + i) * 8) == 8 && (e >> 55 & 1))
			sd++;
	}
	get_stats(0, &st);
	tap_ok(sd == 0 && st.wp_faults == 1 && st.pages_broken == 0 && st.pages_skipped == 16,
	       "soft-dirty write protection left alone: %d of 16 next pages marked dirty, "
	       "%llu broken, %llu skipped", sd, (unsigned long long)st.pages_broken,
	       (unsigned long long)st.pages_skipped);
out:
	if (fd >= 0)
		close(fd);
	if (pm >= 0)
		close(pm);
	set_policy(0, 0, 0, NULL, 0);
	munmap(sh, 64 * PAGE);
	munmap(r, 64 * PAGE);
}

/*
 * uffd-wp write protection is userfaultfd's, not COW: a resolver thread lifts
 * it on the faulting page only; the pages after it must keep it.
 */
static int uffd_fd;

static void *uffd_resolver(void *arg)
{
	struct pollfd pfd = { .fd = uffd_fd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 5000) != 1 || read(uffd_fd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return (void *)1;
	{
		struct uffdio_writeprotect wp = {
			.range = { msg.arg.pagefault.address & ~(PAGE - 1), PAGE }, .mode = 0 };

		return (void *)(long)(ioctl(uffd_fd, UFFDIO_WRITEPROTECT, &wp) != 0);
	}
}

static void test_uffd_wp(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct cowlab_cowahead_stats st;
	char *r = region(64, false);
	int pm = open("/proc/self/pagemap", O_RDONLY), still = 0;
	void *tret = (void *)1;
	pthread_t t;
	size_t i;

	for (i = 0; i < 64; i++)
		put(r, i, TAG_ORIG);
	uffd_fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd_fd < 0 || ioctl(uffd_fd, UFFDIO_API, &api) ||
	    !(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		tap_skip("userfaultfd write-protect unavailable");
		goto out;
	}
	{
		struct uffdio_register reg = { .range = { (uintptr_t)r, 64 * PAGE },
					       .mode = UFFDIO_REGISTER_MODE_WP };
		struct uffdio_writeprotect wp = { .range = { (uintptr_t)r, 64 * PAGE },
						  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

		if (ioctl(uffd_fd, UFFDIO_REGISTER, &reg) || ioctl(uffd_fd, UFFDIO_WRITEPROTECT, &wp)) {
			tap_skip("userfaultfd write-protect registration failed: %s", strerror(errno));
			goto out;
		}
	}
	set_policy(0, 16, COWLAB_CA_RANGE, r, 64 * PAGE);
	pthread_create(&t, NULL, uffd_resolver, NULL);
	put(r, 0, TAG_A);		/* blocks until the resolver lifts page 0's protection */
	pthread_join(t, &tret);
	get_stats(0, &st);
	for (i = 1; i <= 16; i++) {
		uint64_t e = 0;

		if (pread(pm, &e, 8, ((uintptr_t)r / PAGE + i) * 8) == 8 && (e >> 57 & 1))
			still++;
	}
	tap_ok(tret == NULL && st.wp_faults == 1 && st.pages_broken == 0 && st.batches == 0 &&
	       still == 16 && is(r, 0, TAG_A) && is(r, 1, TAG_ORIG),
	       "uffd-wp left alone: %d of the next 16 pages still uffd-wp, %llu broken, %llu batches",
	       still, (unsigned long long)st.pages_broken, (unsigned long long)st.batches);
out:
	set_policy(0, 0, 0, NULL, 0);
	if (uffd_fd >= 0)
		close(uffd_fd);
	close(pm);
	munmap(r, 64 * PAGE);
}

/* The child forks again: the grandchild inherits the policy; three private views. */
static void test_grandchild(void)
{
	char *r = region(256, false);
	int status = -1;
	size_t i;
	pid_t c;

	for (i = 0; i < 256; i++)
		put(r, i, TAG_ORIG);
	set_policy(0, 16, COWLAB_CA_RANGE, r, 256 * PAGE);
	c = fork();
	if (c == 0) {
		struct cowlab_cowahead_stats st;
		int gs, bad = 0;
		pid_t g = fork();

		if (g == 0) {
			for (i = 0; i < 256; i++)
				put(r, i, TAG_A);
			get_stats(0, &st);
			for (i = 0; i < 256; i++)
				bad += !is(r, i, TAG_A);
			_exit(bad ? 1 : st.pages_broken == 0 ? 2 : 0);
		}
		waitpid(g, &gs, 0);
		for (i = 0; i < 256; i++)
			bad += !is(r, i, TAG_ORIG);
		for (i = 0; i < 256; i++)
			put(r, i, TAG_B);
		for (i = 0; i < 256; i++)
			bad += !is(r, i, TAG_B);
		_exit(!WIFEXITED(gs) ? 10 : WEXITSTATUS(gs) ? 10 + WEXITSTATUS(gs) : bad ? 3 : 0);
	}
	waitpid(c, &status, 0);
	for (i = 0; i < 256; i++)
		if (!is(r, i, TAG_ORIG))
			status = 100;
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "child forks again: grandchild inherits and breaks ahead; all three views private (status %d)",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	set_policy(0, 0, 0, NULL, 0);
	munmap(r, 256 * PAGE);
}

/* A read-only pin taken by vmsplice in the child survives the parent's cow-ahead writes. */
static void test_vmsplice(void)
{
	char *r = region(64, false);
	int p[2], status = -1, bad = 0;
	size_t i;
	pid_t c;

	for (i = 0; i < 64; i++)
		put(r, i, TAG_ORIG);
	set_policy(0, 32, COWLAB_CA_RANGE, r, 64 * PAGE);
	if (pipe(p) || fcntl(p[0], F_SETPIPE_SZ, 64 * PAGE) < 0) {
		tap_skip("pipe for vmsplice");
		return;
	}
	c = fork();
	if (c == 0) {
		struct iovec iov = { r, 16 * PAGE };
		char buf[PAGE];

		if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)(16 * PAGE))
			_exit(2);
		munmap(r, 64 * PAGE);	/* the pipe now holds the only child reference */
		kill(getpid(), SIGSTOP);	/* parent writes meanwhile */
		for (i = 0; i < 16; i++) {
			if (read(p[0], buf, PAGE) != PAGE)
				_exit(3);
			bad += !is_page(buf, i, TAG_ORIG);
		}
		_exit(bad ? 1 : 0);
	}
	waitpid(c, &status, WUNTRACED);
	for (i = 0; i < 64; i++)
		put(r, i, TAG_A);
	kill(c, SIGCONT);
	waitpid(c, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "vmsplice read-only pin in the child sees the original after parent writes (status %d)",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	set_policy(0, 0, 0, NULL, 0);
	close(p[0]);
	close(p[1]);
	munmap(r, 64 * PAGE);
}

/* Inheritance by fork, NO_INHERIT, and exec with and without KEEP_EXEC. */
static int child_window(uint32_t flags, bool do_exec, const char *self)
{
	int status;
	pid_t c;

	set_policy(0, 24, flags, NULL, 0);
	c = fork();
	if (c == 0) {
		struct cowlab_cowahead_policy p = { .pid = 0 };

		if (do_exec) {
			execl(self, self, "--print-window", (char *)NULL);
			_exit(250);
		}
		if (ioctl(dev, COWLAB_IOC_CA_GET, &p))
			_exit(errno == ENOENT ? 0 : 251);
		_exit(p.window);
	}
	waitpid(c, &status, 0);
	set_policy(0, 0, 0, NULL, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_inherit_exec(const char *self)
{
	int w;

	w = child_window(0, false, self);
	tap_ok(w == 24, "forked child inherits the policy (window %d, want 24)", w);
	w = child_window(COWLAB_CA_NO_INHERIT, false, self);
	tap_ok(w == 0, "NO_INHERIT: forked child has no policy (window %d)", w);
	w = child_window(COWLAB_CA_KEEP_EXEC, true, self);
	tap_ok(w == 24, "KEEP_EXEC: policy survives exec (window %d, want 24)", w);
	w = child_window(0, true, self);
	tap_ok(w == 0, "without KEEP_EXEC: exec drops the policy (window %d)", w);
}

/* ---- bad input ------------------------------------------------------------- */

static int klog_len(void)
{
	static char buf[1 << 20];

	return klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf));
}

static void test_bad_input(void)
{
	struct cowlab_cowahead_policy p;
	struct cowlab_cowahead_stats st;
	int before = klog_len(), e, status;
	char ok_page[PAGE] __attribute__((aligned(4096)));
	pid_t z;

#define TRY(desc, want, ...) do { \
		memset(&p, 0, sizeof(p)); \
		__VA_ARGS__; \
		e = ioctl(dev, COWLAB_IOC_CA_SET, &p) ? errno : 0; \
		tap_ok(e == (want), "bad input: %s -> %s (got %s)", desc, strerror(want), strerror(e)); \
	} while (0)

	(void)ok_page;
	TRY("unknown flag", EINVAL, p.window = 4, p.flags = 1u << 30);
	TRY("window 513", EINVAL, p.window = COWLAB_CA_MAX_WINDOW + 1);
	TRY("window 0xffffffff", EINVAL, p.window = 0xffffffffu);
	TRY("reserved field set", EINVAL, p.window = 4, p.reserved = 1);
	TRY("range not page-aligned", EINVAL, p.window = 4, p.flags = COWLAB_CA_RANGE,
	    p.start = 0x10001000, p.end = 0x10002001);
	TRY("range start >= end", EINVAL, p.window = 4, p.flags = COWLAB_CA_RANGE,
	    p.start = 0x20000000, p.end = 0x10000000);
	TRY("range beyond user space", EINVAL, p.window = 4, p.flags = COWLAB_CA_RANGE,
	    p.start = 0x1000, p.end = 0xffff800000000000ULL);
	TRY("start/end without RANGE", EINVAL, p.window = 4, p.start = 0x1000, p.end = 0x2000);
	TRY("negative pid", EINVAL, p.window = 4, p.pid = -5);
	TRY("pid that does not exist", ESRCH, p.window = 4, p.pid = 0x3ffffff0);
	z = fork();
	if (z == 0)
		_exit(0);
	usleep(100000);		/* a zombie: exited, not reaped */
	TRY("exited (zombie) pid", ESRCH, p.window = 4, p.pid = z);
	waitpid(z, &status, 0);

	memset(&st, 0, sizeof(st));
	e = get_stats(0, &st);
	tap_ok(e == ENOENT, "stats of a process without a policy -> ENOENT (got %s)", strerror(e));
	memset(&st, 0, sizeof(st));
	st.pid = -7;
	e = ioctl(dev, COWLAB_IOC_CA_STATS, &st) ? errno : 0;
	tap_ok(e == EINVAL, "stats of pid -7 -> EINVAL (got %s)", strerror(e));

	/* Another user's process: an unprivileged caller may not target init. */
	z = fork();
	if (z == 0) {
		struct cowlab_cowahead_policy q = { .pid = 1, .window = 4 };
		int r1, r2;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(9);
		r1 = ioctl(dev, COWLAB_IOC_CA_SET, &q) ? errno : 0;
		q.pid = 0;
		r2 = ioctl(dev, COWLAB_IOC_CA_SET, &q) ? errno : 0;
		_exit(r1 == EPERM && r2 == 0 ? 0 : r1 == EPERM ? 2 : 1);
	}
	waitpid(z, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "unprivileged caller: init -> EPERM, itself -> allowed (status %d)",
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	tap_ok(klog_len() == before, "bad input left nothing in the kernel log (%d -> %d bytes)",
	       before, klog_len());
#undef TRY
}

/* ---- stress ------------------------------------------------------------------ */

/* A victim that faults, munmaps, mremaps, forks, execs and exits in a loop. */
static void victim(unsigned int seed)
{
	size_t len = 64 * PAGE;
	char *r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int round;

	srand(seed);
	for (round = 0; round < 40; round++) {
		size_t i;
		pid_t c;
		int st;

		for (i = 0; i < len / PAGE; i++)
			r[i * PAGE] = (char)round;
		c = fork();
		if (c == 0) {
			for (i = 0; i < len / PAGE; i += 1 + rand() % 3)
				r[i * PAGE]++;
			if (rand() % 4 == 0)
				execl("/bin/true", "true", (char *)NULL);
			_exit(0);
		}
		switch (rand() % 3) {
		case 0: {
			char *n = mremap(r, len, len * 2, MREMAP_MAYMOVE);

			if (n != MAP_FAILED) {
				r = n;
				len *= 2;
			}
			break;
		}
		case 1:
			if (len > 16 * PAGE) {
				munmap(r + len / 2, len / 2);
				len /= 2;
			}
			break;
		default:
			madvise(r, len, MADV_DONTNEED);
		}
		waitpid(c, &st, 0);
		if (rand() % 10 == 0)
			_exit(0);
	}
	_exit(0);
}

static void test_stress(void)
{
	struct cowlab_cowahead_stats g = {};
	pid_t v[6] = {};
	int bad = 0, loops = 0, i, st, waited;
	uint64_t deadline = 0;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = ts.tv_sec + 8;
	while (1) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec >= deadline)
			break;
		for (i = 0; i < 6; i++) {
			if (v[i] && waitpid(v[i], &st, WNOHANG) == v[i])
				v[i] = 0;
			if (!v[i]) {
				v[i] = fork();
				if (v[i] == 0)
					victim(loops * 7 + i);
			}
		}
		for (i = 0; i < 6; i++) {
			struct cowlab_cowahead_policy p = { .pid = v[i], .window = 1 + rand() % 64,
							    .flags = rand() % 2 ? COWLAB_CA_ADAPTIVE : 0 };
			int e = ioctl(dev, COWLAB_IOC_CA_SET, &p) ? errno : 0;

			if (e && e != ESRCH)
				bad++;
			if (rand() % 3 == 0) {
				p.window = 0;
				e = ioctl(dev, COWLAB_IOC_CA_SET, &p) ? errno : 0;
				if (e && e != ESRCH)
					bad++;
			}
		}
		loops++;
	}
	for (i = 0; i < 6; i++)
		if (v[i]) {
			kill(v[i], SIGKILL);
			waitpid(v[i], &st, 0);
		}
	/* Every victim and its children are gone: policies must be collected (GC runs each second). */
	for (waited = 0; waited < 50; waited++) {
		while (waitpid(-1, &st, WNOHANG) > 0)
			;
		g.pid = COWLAB_STATS_GLOBAL;
		if (ioctl(dev, COWLAB_IOC_CA_STATS, &g) == 0 && g.policies == 0)
			break;
		usleep(100000);
	}
	tap_ok(bad == 0, "stress: %d rounds of set/clear against processes that fault, munmap, "
	       "mremap, fork, exec and exit: %d unexpected errors", loops, bad);
	tap_ok(g.policies == 0, "stress: no policy leaked after all exited (%llu left after %d ms)",
	       (unsigned long long)g.policies, waited * 100);
}

static void enable_swap(void)
{
	/* zram swap in the guest; failure only makes the swap scenarios SKIP. */
	if (access("/sys/block/zram0", F_OK) != 0)
		if (system("guest-modprobe zram >/dev/null 2>&1") != 0)
			return;
	swap_on = system("grep -q zram0 /proc/swaps || { echo 512M > /sys/block/zram0/disksize && "
			 "mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; } 2>/dev/null") == 0;
}

int main(int argc, char **argv)
{
	static const struct { enum setup s; enum pattern p; bool child; uint32_t w, f; } m[] = {
		{ PLAIN, SEQ, false, 16, 0 },
		{ PLAIN, SEQ, true, 16, 0 },
		{ PLAIN, SEQ, false, 64, COWLAB_CA_ADAPTIVE },
		{ PLAIN, RANDOM, false, 64, COWLAB_CA_ADAPTIVE },
		{ PLAIN, RANDOM, true, 16, 0 },
		{ PLAIN, STRIDE, false, 16, 0 },
		{ PLAIN, STRIDE, true, 64, COWLAB_CA_ADAPTIVE },
		{ MPROTECT, SEQ, false, 16, 0 },
		{ THP_PMD, SEQ, false, 16, 0 },
		{ THP_PMD, SEQ, true, 64, COWLAB_CA_ADAPTIVE },
		{ THP_PTE, SEQ, false, 16, 0 },
		{ THP_PTE, RANDOM, true, 16, 0 },
		{ SWAP, SEQ, false, 16, 0 },
		{ SWAP, RANDOM, true, 64, COWLAB_CA_ADAPTIVE },
		{ THREADS, SEQ, false, 16, 0 },
	};
	size_t i;
	int planned = 0;

	if (argc == 2 && !strcmp(argv[1], "--print-window")) {
		struct cowlab_cowahead_policy p = { .pid = 0 };
		int fd = open(COWLAB_DEVICE, O_RDWR);

		if (fd < 0 || ioctl(fd, COWLAB_IOC_CA_GET, &p))
			return 0;
		return (int)p.window;
	}
	for (i = 0; i < ARRAY_SIZE_M(m); i++)
		planned += 2 - (m[i].s == SWAP);
	/* scenarios, holes 2, shared+softdirty 2, uffd-wp, grandchild, vmsplice, inherit 4, bad 15,
	 * stress 2
	 */
	tap_plan(planned + 2 + 2 + 1 + 1 + 1 + 4 + 15 + 2);

	dev = open(COWLAB_DEVICE, O_RDWR);
	shared_out = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (dev < 0 || shared_out == MAP_FAILED) {
		tap_diag("cannot open %s: %s", COWLAB_DEVICE, strerror(errno));
		return tap_finish();
	}
	enable_swap();
	tap_diag("swap %s", swap_on ? "on (zram)" : "off");
	for (i = 0; i < ARRAY_SIZE_M(m); i++)
		scenario(m[i].s, m[i].p, m[i].child, m[i].w, m[i].f);
	test_holes();
	test_shared_and_softdirty();
	test_uffd_wp();
	test_grandchild();
	test_vmsplice();
	test_inherit_exec("/proc/self/exe");
	test_bad_input();
	test_stress();
	return tap_finish();
}
