// SPDX-License-Identifier: GPL-2.0
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

static const char *prog = "cowlab";

void cl_set_prog(const char *p)
{
	const char *slash = strrchr(p, '/');

	prog = slash ? slash + 1 : p;
}

void cl_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cl_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ULL << 10; break;
	case 'm': case 'M': mul = 1ULL << 20; break;
	case 'g': case 'G': mul = 1ULL << 30; break;
	case 't': case 'T': mul = 1ULL << 40; break;
	}
	if (mul > 1 && *++end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end)
		return -1;
	if (v * (double)mul > (double)UINT64_MAX / 2)
		return -1;
	*out = (uint64_t)(v * (double)mul);
	return 0;
}

int cl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cl_parse_choices(char *list, const char *const *names, int n, int *out, int max,
		     const char *what)
{
	char *tok, *save;
	int k = 0, i;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n && strcmp(tok, names[i]); i++)
			;
		if (i == n || k == max) {
			cl_err("bad %s '%s'", what, tok);
			return -1;
		}
		out[k++] = i;
	}
	return k;
}

uint64_t cl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * In an instruction-counted guest (COWLAB_CLOCK=icount, one vCPU): the measuring process runs
 * SCHED_FIFO with SCHED_RESET_ON_FORK, so a child it forks is a normal task that cannot preempt
 * it. Otherwise a child that _exit()s at once may run, and tear its mm down, inside the
 * parent's fork() interval in some repetitions and not in others (seen: a 16 MiB fork without
 * THP measured 856 or 1984 us in one boot). Children run when the parent waits. The guest's
 * /init lifts RT throttling in such a guest (its 50 ms pauses would be counted as time).
 * Returns 1 when applied, 0 when not asked for, -1 when it failed (said on stderr).
 */
int cl_timing_sched(void)
{
	struct sched_param sp = { .sched_priority = 1 };
	const char *c = getenv("COWLAB_CLOCK");

	if (!c || strcmp(c, "icount"))
		return 0;
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp)) {
		cl_err("SCHED_FIFO for the icount clock: %s", strerror(errno));
		return -1;
	}
	return 1;
}

/* Busy until CLOCK_MONOTONIC_COARSE (updated by the tick) changes; at most 50 ms. */
static void spin_to_tick(void)
{
	struct timespec c0, c, t0, t;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &c0) || clock_gettime(CLOCK_MONOTONIC, &t0))
		return;
	do {
		if (clock_gettime(CLOCK_MONOTONIC_COARSE, &c) || clock_gettime(CLOCK_MONOTONIC, &t))
			return;
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > 50000000L)
			return;	/* no tick (a tickless CPU): start anyway */
	} while (c.tv_sec == c0.tv_sec && c.tv_nsec == c0.tv_nsec);
}

/*
 * In an instruction-counted guest: sleep COWLAB_SETTLE_MS (0-999, default 5 ms) before a timed
 * interval, so that it starts from an idle guest. The work a previous repetition left behind
 * (RCU callbacks freeing an exited child's task and anon_vmas, a vfree, a kworker's work)
 * then runs in that sleep, not inside some intervals and not others, which moved the minimum
 * of a small fork by up to 2.5% between two boots.
 * Then it spins until the next timer tick (CLOCK_MONOTONIC_COARSE moves only there), so that
 * the interval starts right after one: an interval shorter than a tick period (4 ms at HZ=250)
 * never contains one. Without that, where the ticks fell depended on the boot (the guest's I/O
 * completes at host-dependent instructions): on 7.3 three of seven 16 MiB THP forks (172 us)
 * of one boot took 10 us more, none of another's, and their median moved by 2%.
 * With -icount sleep=off an idle guest's clock jumps to its next timer: the sleep costs the
 * host almost nothing; the spin, under a tick period of guest instructions. Anywhere else, and
 * with COWLAB_SETTLE_MS=0, it does nothing.
 */
void cl_settle(void)
{
	static long ms = -1;
	struct timespec ts;

	if (ms < 0) {
		const char *c = getenv("COWLAB_CLOCK"), *e = getenv("COWLAB_SETTLE_MS");

		ms = 0;
		if (c && !strcmp(c, "icount"))
			ms = e ? atol(e) : 5;
		if (ms < 0 || ms > 999)
			ms = 0;
	}
	if (!ms)
		return;
	ts.tv_sec = 0;
	ts.tv_nsec = ms * 1000000L;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	spin_to_tick();
}

/*
 * The injected slowdown of a timing lane's self-test: with COWLAB_INJECT_PCT=P in the
 * environment, an interval a workload measures from @t0 is stretched by P% of what it
 * took, busy (instructions, so an icount clock sees it as it sees any other work).
 */
void cl_inject(uint64_t t0)
{
	static double pct = -1;
	uint64_t t1, end;

	if (pct < 0) {
		const char *e = getenv("COWLAB_INJECT_PCT");

		pct = e ? atof(e) : 0;
		if (pct < 0 || pct > 1000)
			pct = 0;
	}
	if (!pct)
		return;
	t1 = cl_now_ns();
	end = t1 + (uint64_t)((double)(t1 - t0) * pct / 100.0);
	while (cl_now_ns() < end)
		;
}

int cl_reexec_no_aslr(char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (personality(0xffffffff) & ADDR_NO_RANDOMIZE)
		return 0;
	if (personality(ADDR_NO_RANDOMIZE) == -1)
		return -1;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	execv(self, argv);
	return -1;
}

const char *cl_repo_root(void)
{
	static char root[PATH_MAX];
	char *p;
	ssize_t n;
	int i;

	if (root[0])
		return root;
	n = readlink("/proc/self/exe", root, sizeof(root) - 1);
	if (n <= 0)
		return strcpy(root, ".");
	root[n] = '\0';
	for (i = 0; i < 3; i++) {	/* strip /bin/cowlab and build/ */
		p = strrchr(root, '/');
		if (!p)
			return strcpy(root, ".");
		*p = '\0';
	}
	return root;
}

const char *cl_checkout(void)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/vm/run", cl_repo_root());
	return access(path, X_OK) ? NULL : cl_repo_root();
}
