// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ioctl: seeded random ioctls on /dev/cowlab. Random command numbers and encoded sizes,
 * random struct contents (flags, reserved fields, pids, windows, budgets, stop words,
 * range arrays), pointers that are valid, NULL, unmapped, read-only, misaligned or in the
 * kernel, targets that are the caller, a parked speculative child, a running child, a
 * zombie, a grandchild, init, or nobody; children parked in RF_WAIT and killed at random,
 * and bursts of concurrent fuzzing processes.
 *
 * The oracle: every call returns 0 or an errno the ABI documents for that command, the
 * kernel log stays clean and PageTables/AnonPages come back (the judge, stresslib.c); the
 * lane then unloads the module, which must succeed.
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
#include <sys/wait.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "stresslib.h"

enum { OP_RAW, OP_VERSION, OP_CASET, OP_CAGET, OP_CASTATS, OP_REFORK, OP_RFWAIT, OP_KILLKID,
       OP_SPAWN, OP_LAYOUT, OP_BURST, NR_OPS };

static const char *const op_names[NR_OPS] = {
	"raw", "version", "caset", "caget", "castats", "refork", "rfwait", "killkid", "spawn",
	"layout", "burst",
};

enum { ST_CALLS, ST_OK, ST_ERRORS, ST_BURSTS, ST_KILLS, NR_STATS };

static const char *const stat_names[NR_STATS + 1] = {
	"calls", "succeeded", "refused", "bursts", "kills", NULL
};

static void gen_ops(uint64_t seed, struct st_op *ops, int n)
{
	struct st_rng r;
	int i, k;

	st_rng_seed(&r, seed);
	for (i = 0; i < n; i++) {
		uint64_t x = st_below(&r, 100);

		ops[i].kind = x < 15 ? OP_RAW : x < 18 ? OP_VERSION : x < 28 ? OP_CASET :
			      x < 33 ? OP_CAGET : x < 38 ? OP_CASTATS : x < 68 ? OP_REFORK :
			      x < 78 ? OP_RFWAIT : x < 83 ? OP_KILLKID : x < 88 ? OP_SPAWN :
			      x < 95 ? OP_LAYOUT : OP_BURST;
		for (k = 0; k < 5; k++)
			ops[i].a[k] = st_rnd(&r);
	}
}

/* ---- targets and pointers ---------------------------------------------------------------- */

#define NKIDS	4

struct fz {
	int dev;
	pid_t kids[NKIDS];	/* speculative children parked in RF_WAIT (or gone) */
	pid_t zombie;		/* exited, not reaped */
	pid_t grandchild;	/* a child of kids[0]'s sibling: not ours */
	uint8_t *buf;		/* a writable page pair, private to each process */
	volatile pid_t *shared;	/* [0]: how the middle child tells us its child's pid */
	struct st_op *last;	/* shared: the operation each burst worker runs now */
	uint8_t *ro;		/* a read-only page */
	uint8_t *gone;		/* PROT_NONE */
	uint8_t *area;		/* an anonymous region to name in ranges */
	size_t area_len;
	struct st_rng rng;
	struct st_shared *sh;
};

static struct fz F;

static uint64_t pick(uint64_t n)
{
	return st_below(&F.rng, n);
}

static void *ptr(uint32_t how, size_t len)
{
	switch (how % 10) {
	case 0: return NULL;
	case 1: return F.gone;
	case 2: return F.ro;
	case 3: return (void *)0xffff888000000000ULL;
	case 4: return F.buf + 1;			/* misaligned */
	case 5: return F.buf + 2 * ST_PAGE - (len > 8 ? len / 2 : 1);	/* runs off the end */
	default: return F.buf;
	}
}

static pid_t target(uint32_t how)
{
	switch (how % 12) {
	case 0: return 0;
	case 1: return getpid();
	case 2: return 1;
	case 3: return -1 - (int)pick(100);
	case 4: return 0x3fffffff;
	case 5: return F.zombie;
	case 6: return F.grandchild;
	case 7: return getppid();
	default: return F.kids[how % NKIDS];
	}
}

static uint64_t addr(uint32_t how)
{
	switch (how % 8) {
	case 0: return 0;
	case 1: return (uintptr_t)F.gone;
	case 2: return (uintptr_t)F.area + pick(F.area_len);			/* unaligned */
	case 3: return 0xffff888000000000ULL;
	case 4: return ~0ULL & ~(ST_PAGE - 1);
	default: return (uintptr_t)F.area + (pick(F.area_len / ST_PAGE) * ST_PAGE);
	}
}

/* ---- the errnos the ABI allows ------------------------------------------------------------ */

static bool allowed(unsigned long cmd, int e)
{
	static const int common[] = { EINVAL, EFAULT, 0 };
	static const int ca[] = { ESRCH, EPERM, ENOENT, ENOMEM, EOPNOTSUPP, 0 };
	static const int rf[] = { ESRCH, ECHILD, EBUSY, ESTALE, EOPNOTSUPP, EINTR, ENOMEM, EPERM, 0 };
	static const int wt[] = { ETIMEDOUT, EINTR, ESRCH, ENOMEM, E2BIG, EOPNOTSUPP, 0 };
	const int *l = NULL;
	int i;

	if (_IOC_TYPE(cmd) != COWLAB_IOC_MAGIC)
		return e == ENOTTY;
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(COWLAB_IOC_VERSION): break;
	case _IOC_NR(COWLAB_IOC_CA_SET): case _IOC_NR(COWLAB_IOC_CA_GET):
	case _IOC_NR(COWLAB_IOC_CA_STATS): l = ca; break;
	case _IOC_NR(COWLAB_IOC_REFORK): l = rf; break;
	case _IOC_NR(COWLAB_IOC_RF_WAIT): l = wt; break;
	default: return e == ENOTTY;
	}
	for (i = 0; common[i]; i++)
		if (e == common[i])
			return true;
	for (i = 0; l && l[i]; i++)
		if (e == l[i])
			return true;
	return false;
}

static void call(unsigned long cmd, void *arg, const char *what)
{
	int r = ioctl(F.dev, cmd, arg), e = r ? errno : 0;

	F.sh->stats[ST_CALLS]++;
	F.sh->stats[e ? ST_ERRORS : ST_OK]++;
	if (r && !allowed(cmd, e))
		st_fail(F.sh, "%s (cmd 0x%lx): errno %d (%s) is not one the ABI documents", what, cmd, e,
			strerror(e));
	else if (!r && _IOC_TYPE(cmd) != COWLAB_IOC_MAGIC)
		st_fail(F.sh, "%s (cmd 0x%lx): a foreign command succeeded", what, cmd);
}

/* ---- children ------------------------------------------------------------------------------ */

static void __attribute__((noreturn)) kid_main(void)
{
	uint64_t gen = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		struct cowlab_rf_wait w = { .generation = gen, .timeout_ns = 200000000 };

		if (ioctl(F.dev, COWLAB_IOC_RF_WAIT, &w) == 0)
			gen = w.generation;
		else if (errno == ESRCH)
			_exit(0);
	}
}

static void spawn(int i)
{
	pid_t p;

	if (F.kids[i] > 0) {
		kill(F.kids[i], SIGKILL);
		waitpid(F.kids[i], NULL, 0);
	}
	p = fork();
	if (p == 0)
		kid_main();
	F.kids[i] = p;
}

/* ---- one operation ------------------------------------------------------------------------- */

static void fill_random(void *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		((uint8_t *)p)[i] = (uint8_t)st_rnd(&F.rng);
}

static void do_refork(const struct st_op *o)
{
	static struct cowlab_range rg[COWLAB_RF_MAX_RANGES + 8];
	struct cowlab_refork r;
	unsigned int i, n;
	void *arg;

	memset(&r, 0, sizeof(r));
	r.pid = target(o->a[0]);
	r.flags = o->a[1] % 4 == 0 ? o->a[1] : o->a[1] & COWLAB_RF_FLAGS;
	r.budget_ns = o->a[2] % 3 == 0 ? 0 : o->a[2] % 3 == 1 ? 1 : pick(2000000);
	if (r.flags & COWLAB_RF_STOPWORD) {
		r.stop_addr = o->a[3] % 3 ? (uintptr_t)F.buf + (o->a[3] % 2 ? 0 : 2) : addr(o->a[3]);
		r.stop_val = o->a[3] % 5 ? *(uint32_t *)F.buf : ~0U;
	} else if (o->a[3] % 9 == 0) {
		r.stop_addr = addr(o->a[3]);
	}
	if (r.flags & COWLAB_RF_RANGES || o->a[4] % 11 == 0) {
		n = o->a[4] % 7 == 0 ? COWLAB_RF_MAX_RANGES + 1 + pick(7) : pick(6);
		for (i = 0; i < n && i < sizeof(rg) / sizeof(rg[0]); i++) {
			rg[i].start = addr(o->a[4] + i);
			rg[i].end = pick(4) ? rg[i].start + ST_PAGE * (1 + pick(600)) : addr(o->a[4] >> 3);
		}
		r.nr_ranges = n;
		r.ranges = o->a[4] % 13 == 0 ? (uintptr_t)F.gone : (uintptr_t)rg;
	}
	if (o->a[0] % 17 == 0)
		r.reserved_in[o->a[0] % 2] = 1;
	arg = o->a[2] % 19 == 0 ? ptr(o->a[2], sizeof(r)) : &r;
	if (arg == F.buf)
		memcpy(F.buf, &r, sizeof(r));
	call(COWLAB_IOC_REFORK, arg, "REFORK");
}

static void do_op(const struct st_op *o)
{
	switch (o->kind) {
	case OP_RAW: {
		/* any number, size and direction; magic ours most of the time */
		unsigned long dir = o->a[0] % 4, size = o->a[1] % 4 == 0 ? o->a[1] % 16384 : o->a[1] % 256;
		unsigned long type = o->a[2] % 5 ? COWLAB_IOC_MAGIC : o->a[2] & 0xff;
		unsigned long cmd = _IOC(dir, type, o->a[3] % 48, size);

		fill_random(F.buf, 2 * ST_PAGE);
		/* RF_WAIT reading the zeros of the read-only page would wait for ever */
		call(cmd, ptr(cmd == COWLAB_IOC_RF_WAIT && o->a[4] % 10 == 2 ? 3 : o->a[4], size),
		     "raw");
		break;
	}
	case OP_VERSION:
		call(COWLAB_IOC_VERSION, ptr(o->a[0], sizeof(struct cowlab_version)), "VERSION");
		break;
	case OP_CASET: {
		struct cowlab_cowahead_policy p = {
			.pid = target(o->a[0]), .flags = o->a[1] % 3 ? o->a[1] & COWLAB_CA_FLAGS : o->a[1],
			.window = o->a[2] % 4 ? o->a[2] % (COWLAB_CA_MAX_WINDOW + 1) : o->a[2],
			.reserved = o->a[3] % 13 == 0,
		};

		if (p.flags & COWLAB_CA_RANGE || o->a[4] % 7 == 0) {
			p.start = addr(o->a[4]);
			p.end = pick(3) ? p.start + ST_PAGE * (1 + pick(100)) : addr(o->a[4] >> 4);
		}
		call(COWLAB_IOC_CA_SET, o->a[3] % 11 == 0 ? ptr(o->a[3], sizeof(p)) : &p, "CA_SET");
		break;
	}
	case OP_CAGET: {
		struct cowlab_cowahead_policy p = { .pid = target(o->a[0]) };

		call(COWLAB_IOC_CA_GET, o->a[1] % 7 == 0 ? ptr(o->a[1], sizeof(p)) : &p, "CA_GET");
		break;
	}
	case OP_CASTATS: {
		struct cowlab_cowahead_stats s = { .pid = o->a[0] % 5 ? target(o->a[0]) :
						   COWLAB_STATS_GLOBAL };

		call(COWLAB_IOC_CA_STATS, o->a[1] % 7 == 0 ? ptr(o->a[1], sizeof(s)) : &s, "CA_STATS");
		break;
	}
	case OP_REFORK:
		do_refork(o);
		break;
	case OP_RFWAIT: {
		/* the caller itself waits: a short timeout, or a kid's fork does it and is killed */
		struct cowlab_rf_wait w = { .generation = o->a[0] % 3 ? 0 : o->a[0],
					   .timeout_ns = 1 + o->a[1] % 3000000,
					   .flags = o->a[2] % 9 == 0, .state = o->a[3] % 11 == 0 };

		void *arg = &w;

		/*
		 * A bad pointer, but never one whose contents mean "wait forever" (timeout 0 and
		 * no sync coming: a correct answer, and a hung fuzzer): the read-only page reads
		 * as zeros, so not that one; the writable buffer is all ones, so that at any
		 * offset its flags are not zero (EINVAL).
		 */
		if (o->a[4] % 9 == 0) {
			arg = ptr(o->a[4] % 10 == 2 ? 3 : o->a[4], sizeof(w));
			memset(F.buf, 0xff, 2 * ST_PAGE);
		}
		call(COWLAB_IOC_RF_WAIT, arg, "RF_WAIT");
		break;
	}
	case OP_KILLKID: {
		int i = o->a[0] % NKIDS;

		if (F.kids[i] > 0) {
			kill(F.kids[i], o->a[1] % 3 ? SIGKILL : SIGSTOP);
			if (o->a[1] % 3) {
				waitpid(F.kids[i], NULL, 0);
				F.kids[i] = 0;
				F.sh->stats[ST_KILLS]++;
			} else {
				kill(F.kids[i], SIGCONT);
			}
		}
		break;
	}
	case OP_SPAWN:
		spawn(o->a[0] % NKIDS);
		break;
	case OP_LAYOUT: {
		/* change the caller's layout under registered children (ESTALE paths) */
		size_t off = pick(F.area_len / ST_PAGE) * ST_PAGE;

		switch (o->a[0] % 4) {
		case 0: mprotect(F.area + off, ST_PAGE, PROT_READ); break;
		case 1: mprotect(F.area, F.area_len, PROT_READ | PROT_WRITE); break;
		case 2: madvise(F.area + off, ST_PAGE * (1 + pick(16)), MADV_DONTNEED); break;
		default:	/* write it (writable again first: case 0 may have left it read-only) */
			mprotect(F.area + off, ST_PAGE, PROT_READ | PROT_WRITE);
			memset(F.area + off, (int)o->a[1], ST_PAGE);
			break;
		}
		break;
	}
	case OP_BURST: {
		/* three processes fuzzing at once, briefly; one is killed in the middle */
		pid_t w[3];
		int i, k;

		for (i = 0; i < 3; i++) {
			w[i] = fork();
			if (w[i] == 0) {
				struct st_op x;

				st_rng_seed(&F.rng, o->a[i] ^ getpid());
				for (k = 0; k < 40; k++) {
					x.kind = st_below(&F.rng, 2) ? OP_REFORK : st_below(&F.rng, OP_KILLKID);
					for (int j = 0; j < 5; j++)
						x.a[j] = st_rnd(&F.rng);
					F.last[i] = x;
					do_op(&x);
				}
				_exit(F.sh->msg[0] ? 1 : 0);
			}
		}
		usleep(pick(20000));
		if (w[o->a[3] % 3] > 0)
			kill(w[o->a[3] % 3], SIGKILL);
		/* A worker that does not finish in 60 s is stuck in the kernel: say where. */
		for (i = 0; i < 3; i++) {
			uint64_t t0 = st_now_ns();

			while (w[i] > 0 && waitpid(w[i], NULL, WNOHANG) == 0) {
				if (st_now_ns() - t0 > 60000000000ULL) {
					struct st_op *l = &F.last[i];

					st_fail(F.sh, "a burst worker is stuck for 60 s in %s %u %u %u %u %u",
						op_names[l->kind], l->a[0], l->a[1], l->a[2], l->a[3],
						l->a[4]);
					kill(w[i], SIGKILL);
					waitpid(w[i], NULL, 0);
					break;
				}
				usleep(1000);
			}
		}
		F.sh->stats[ST_BURSTS]++;
		break;
	}
	}
}

static int episode(uint64_t seed, const struct st_op *ops, int n, struct st_shared *sh)
{
	pid_t mid;
	int i;

	memset(&F, 0, sizeof(F));
	F.sh = sh;
	st_rng_seed(&F.rng, seed);
	F.dev = open(COWLAB_DEVICE, O_RDWR);
	if (F.dev < 0) {
		st_skip(sh, "no %s (%s)", COWLAB_DEVICE, strerror(errno));
		return 0;
	}
	/*
	 * Private: a buffer another process rewrites while RF_WAIT reads it could say "wait
	 * for ever", a right answer and a hung fuzzer.
	 */
	F.buf = mmap(NULL, 3 * ST_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* a guard page: a pointer that "runs off the end" must fault, not reach a neighbour */
	mprotect(F.buf + 2 * ST_PAGE, ST_PAGE, PROT_NONE);
	F.shared = mmap(NULL, ST_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	F.last = (struct st_op *)(F.shared + 16);
	F.ro = mmap(NULL, ST_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* inaccessible, and kept so that no later mapping takes its place */
	F.gone = mmap(NULL, ST_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	F.area_len = 64 * ST_PAGE;
	F.area = mmap(NULL, F.area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(F.area, 1, F.area_len);
	/* a zombie and a grandchild (a child's child: not ours) */
	F.zombie = fork();
	if (F.zombie == 0)
		_exit(0);
	mid = fork();
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0)
			kid_main();
		*F.shared = g;
		pause();
		_exit(0);
	}
	usleep(20000);
	F.grandchild = *F.shared;
	for (i = 0; i < NKIDS; i++)
		spawn(i);
	for (i = 0; i < n && !sh->msg[0]; i++) {
		sh->executed = i + 1;
		if (st_verbose()) {
			char b[160];
			int l = snprintf(b, sizeof(b), "# op %d: %s %u %u %u %u %u\n", i,
					 op_names[ops[i].kind], ops[i].a[0], ops[i].a[1], ops[i].a[2],
					 ops[i].a[3], ops[i].a[4]);

			if (write(1, b, l) < 0)
				break;
		}
		do_op(&ops[i]);
	}
	for (i = 0; i < NKIDS; i++)
		if (F.kids[i] > 0)
			kill(F.kids[i], SIGKILL);
	kill(mid, SIGKILL);
	/* the judge reaps everything; the children are checked by its kernel-log judgement */
	return sh->msg[0] ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct st_program prog = {
		.name = "ioctl",
		.binary = "fuzz_ioctl",
		.kind_names = op_names,
		.nr_kinds = NR_OPS,
		.stat_names = stat_names,
		.generate = gen_ops,
		.episode = episode,
	};

	return st_main(&prog, argc, argv);
}
