// SPDX-License-Identifier: GPL-2.0
/* The stress programs' judge and helpers: see stresslib.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stresslib.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void st_rng_seed(struct st_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t st_rnd(struct st_rng *r)	/* xoshiro256** */
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t st_below(struct st_rng *r, uint64_t n)
{
	return n ? st_rnd(r) % n : 0;
}

uint64_t st_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + t.tv_nsec;
}

uint64_t st_page_hash(const void *page)
{
	const uint64_t *w = page;
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < ST_PAGE / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ULL + (h >> 29);
	return h;
}

uint64_t st_zero_hash(void)
{
	static uint64_t zero[ST_PAGE / 8];

	return st_page_hash(zero);
}

static void vappend(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t used = strnlen(buf, len);

	if (used + 2 >= len)
		return;
	if (used)
		buf[used++] = ';', buf[used++] = ' ';
	vsnprintf(buf + used, len - used, fmt, ap);
}

void st_fail(struct st_shared *sh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
}

void st_skip(struct st_shared *sh, const char *fmt, ...)
{
	va_list ap;

	sh->skipped = 1;
	va_start(ap, fmt);
	vappend(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
}

ssize_t st_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while (got + 1 < (ssize_t)len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

long long st_kv(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return strtoll(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

int st_pagemap(pid_t pid, uintptr_t addr, size_t n, uint64_t *out)
{
	char path[64];
	size_t done = 0;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while (done < n) {
		ssize_t r = pread(fd, out + done, (n - done) * 8, (off_t)((addr / ST_PAGE + done) * 8));

		if (r <= 0) {
			close(fd);
			return r < 0 ? -errno : -EIO;
		}
		done += r / 8;
	}
	close(fd);
	return 0;
}

uint64_t st_vm_events(void)
{
	static const char *const keys[] = {
		/* what moves a page to another PFN (splits and COW do not) */
		"pgmigrate_success", "thp_migration_success", "thp_collapse_alloc",
		"numa_pages_migrated", "compact_isolated", "pswpin", "ksm_swpin_copy", NULL
	};
	static char buf[16384];
	uint64_t sum = 0;
	int i;

	if (st_read_file("/proc/vmstat", buf, sizeof(buf)) < 0)
		return 0;
	for (i = 0; keys[i]; i++) {
		const char *p = strstr(buf, keys[i]);

		if (p && p[strlen(keys[i])] == ' ')
			sum += strtoull(p + strlen(keys[i]) + 1, NULL, 10);
	}
	return sum;
}

void st_quiesce(int wait_ms)
{
	char arg[16];
	pid_t pid;

	snprintf(arg, sizeof(arg), "%d", wait_ms);
	pid = fork();
	if (pid == 0) {
		execlp("cl_quiesce", "cl_quiesce", arg, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

int st_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* ---- the kernel log ------------------------------------------------------------------------ */

static const char *const splats[] = {
	"WARNING:", "BUG:", "Oops", "Kernel panic", "general protection fault", "KASAN", "UBSAN",
	"possible circular locking", "possible recursive locking", "inconsistent lock state",
	"sleeping function called from invalid context", "unreferenced object 0x",
	"suspected memory leak", "page_table_check", "Call Trace", "Bad rss-counter", "Bad page",
	"non-zero pgtables_bytes",
	/* the module's VERIFY oracle: an incremental sync skipped an entry that differed */
	"refork VERIFY: tracking missed", NULL
};

static int kmsg_fd = -1;

static void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* Messages since the last call into buf (text only); returns true if one is a splat. */
static bool kmsg_read(char *buf, size_t len, char *first, size_t flen)
{
	char rec[8192];
	size_t used = 0;
	bool bad = false;
	ssize_t n;

	buf[0] = first[0] = '\0';
	if (kmsg_fd < 0)
		return false;
	for (;;) {
		char *text;
		int i;

		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		text = strchr(rec, ';');
		text = text ? text + 1 : rec;
		for (i = 0; splats[i]; i++) {
			if (strstr(text, splats[i])) {
				if (!bad)
					snprintf(first, flen, "%.*s", (int)strcspn(text, "\n"), text);
				bad = true;
			}
		}
		if (used + strlen(text) + 1 < len) {
			memcpy(buf + used, text, strlen(text));
			used += strlen(text);
			buf[used] = '\0';
		}
	}
	return bad;
}

/* ---- the judge ------------------------------------------------------------------------------ */

struct mem_state {
	long long pagetables, anon;
};

static struct mem_state mem_now(void)
{
	static char buf[8192];
	struct mem_state m = { -1, -1 };

	/* Fold every CPU's vmstat deltas first (cl_quiesce's own exit left some). */
	st_write_file("/proc/sys/vm/stat_refresh", "1");
	if (st_read_file("/proc/meminfo", buf, sizeof(buf)) > 0) {
		m.pagetables = st_kv(buf, "PageTables");
		m.anon = st_kv(buf, "AnonPages");
	}
	/*
	 * What the processes still alive map does not count (the judge's own memory moves with
	 * its forks): what is left is what no process accounts for, and that must not grow.
	 */
	{
		DIR *d = opendir("/proc");
		struct dirent *e;

		pid_t self = getpid();

		while (d && (e = readdir(d))) {
			char path[300];

			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
			if (st_read_file(path, buf, sizeof(buf)) <= 0 || st_kv(buf, "VmPTE") < 0)
				continue;
			m.pagetables -= st_kv(buf, "VmPTE");	/* pgtables_bytes: exact */
			/*
			 * RssAnon lags: 6.1 caches up to 63 counter events per task, 6.2+ reads a
			 * per-CPU counter approximately. Idle processes lag by the same amount at
			 * both measurements; the judge is not idle, so its own anonymous memory is
			 * counted exactly, by the page-table walk of smaps_rollup.
			 */
			if (atoi(e->d_name) == self &&
			    st_read_file("/proc/self/smaps_rollup", buf, sizeof(buf)) > 0 &&
			    st_kv(buf, "Anonymous") >= 0)
				m.anon -= st_kv(buf, "Anonymous");
			else
				m.anon -= st_kv(buf, "RssAnon");
		}
		if (d)
			closedir(d);
	}
	return m;
}

/*
 * After every process of an episode has exited: PageTables and AnonPages back where they
 * started. Freed page tables go through RCU and vmstat counters are per CPU, so quiesce
 * and look again, a few times, before calling it a leak.
 */
/*
 * From 6.17 the kernel's own PTE tables (vmalloc, module and stack mappings) are counted in
 * NR_PAGETABLE too, and they come and go with kernel activity: /proc/meminfo PageTables no
 * longer isolates user page tables there. User page tables are then judged by the kernel's
 * own per-mm count, which check_mm() reports at every mm's teardown ("BUG: non-zero
 * pgtables_bytes", judged in the kernel log) and by VmPTE.
 */
static bool meminfo_pt_is_user_only(void)
{
	static int v = -1;
	struct utsname u;
	int maj = 0, min = 0;

	if (v < 0) {
		v = 1;
		if (!uname(&u) && sscanf(u.release, "%d.%d", &maj, &min) == 2 &&
		    (maj > 6 || (maj == 6 && min >= 17)))
			v = 0;
	}
	return v;
}

static bool mem_back(const struct mem_state *base, struct mem_state *now)
{
	int i;

	for (i = 0; i < 6; i++) {
		*now = mem_now();
		if ((now->pagetables <= base->pagetables || !meminfo_pt_is_user_only()) &&
		    now->anon <= base->anon)
			return true;
		st_quiesce(i < 2 ? 200 : 1000);
	}
	return false;
}

/*
 * The judge's own memory must not grow between two measurements of AnonPages: touch its
 * buffers and a deep stack once, before the first one.
 */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile char deep[256 * 1024];
	size_t i;

	for (i = 0; i < sizeof(deep); i += ST_PAGE)
		deep[i] = 1;
}

static void prefault_judge(void);
static char kmsg_log[65536];
static struct st_op cand[ST_MAX_OPS], all_ops[ST_MAX_OPS];

struct run_result {
	int failed;		/* 0 pass, 1 fail */
	int executed;
	bool skipped;
	char why[ST_MSG + 512];
	uint64_t stats[64];
};

static struct st_shared *jsh;
static struct mem_state baseline;
static bool opt_verbose;

static void prefault_judge(void)
{
	static struct run_result dummy;
	char first[512];

	memset(kmsg_log, 0, sizeof(kmsg_log));
	memset(cand, 0, sizeof(cand));
	memset(all_ops, 0, sizeof(all_ops));
	memset(&dummy, 0, sizeof(dummy));
	touch_stack();
	kmsg_read(kmsg_log, sizeof(kmsg_log), first, sizeof(first));
	mem_now();
	st_vm_events();
	printf("# judge ready\n");
	fflush(stdout);
}

/* Run one episode on ops[0..n) and judge it. */
static void run_once(const struct st_program *prog, uint64_t seed, const struct st_op *ops, int n,
		     struct run_result *res)
{
	char *log = kmsg_log;
	char first[512];
	struct mem_state now;
	int status = 0;
	pid_t pid, w;

	memset(res, 0, sizeof(*res));
	memset(jsh, 0, sizeof(*jsh));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(res->why, sizeof(res->why), "fork: %s", strerror(errno));
		res->failed = 1;
		return;
	}
	if (pid == 0) {
		int rc;

		setpgid(0, 0);
		if (!prog)	/* the warm-up: the judge's own path once, before the baseline */
			_exit(0);
		rc = prog->episode(seed, ops, n, jsh);
		fflush(stdout);
		_exit(rc ? 1 : 0);
	}
	/* Reap the episode and everything it left behind (we are a child subreaper). */
	while ((w = waitpid(-1, &status, 0)) != -1 || errno == EINTR) {
		if (w == pid)
			break;
	}
	kill(-pid, SIGKILL);
	while (waitpid(-1, NULL, 0) != -1 || errno == EINTR)
		;
	res->executed = jsh->executed;
	memcpy(res->stats, jsh->stats, sizeof(res->stats));
	if (jsh->skipped) {
		res->skipped = true;
		snprintf(res->why, sizeof(res->why), "%s", jsh->msg);
		return;
	}
	if (WIFSIGNALED(status) && !(WTERMSIG(status) == SIGKILL && jsh->planned_kill)) {
		res->failed = 1;
		snprintf(res->why, sizeof(res->why), "the episode died of signal %d%s%s",
			 WTERMSIG(status), jsh->msg[0] ? ": " : "", jsh->msg);
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		res->failed = 1;
		snprintf(res->why, sizeof(res->why), "%s", jsh->msg[0] ? jsh->msg : "exit status 1");
	} else if (jsh->msg[0]) {
		res->failed = 1;
		snprintf(res->why, sizeof(res->why), "%s", jsh->msg);
	}
	st_quiesce(1500);
	if (!mem_back(&baseline, &now) && !res->failed) {
		res->failed = 1;
		snprintf(res->why, sizeof(res->why),
			 "after every process exited: PageTables %lld kB (start %lld), AnonPages %lld kB "
			 "(start %lld), less what live processes map", now.pagetables, baseline.pagetables, now.anon, baseline.anon);
	}
	/* What the last episode may have let slip is not this one's: a new baseline. */
	baseline = mem_now();
	if (kmsg_read(log, sizeof(kmsg_log), first, sizeof(first))) {
		size_t l = strlen(res->why);

		snprintf(res->why + l, sizeof(res->why) - l, "%skernel log: %s", l ? "; " : "", first);
		res->failed = 1;
		printf("# kernel log after seed 0x%llx:\n", (unsigned long long)seed);
		{
			char *line = log, *nl;
			int k = 0;

			while (line && *line && k++ < 60) {
				nl = strchr(line, '\n');
				printf("#   %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
				line = nl ? nl + 1 : NULL;
			}
		}
	}
}

static void format_op(const struct st_program *prog, const struct st_op *op, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u:%u:%u:%u:%u",
		 op->kind < prog->nr_kinds ? prog->kind_names[op->kind] : "?", op->a[0], op->a[1],
		 op->a[2], op->a[3], op->a[4]);
}

static int parse_ops(const struct st_program *prog, const char *spec, struct st_op *ops)
{
	char name[32];
	int n = 0;

	while (spec && *spec && n < ST_MAX_OPS) {
		struct st_op *op = &ops[n];
		unsigned int k;

		memset(op, 0, sizeof(*op));
		if (sscanf(spec, "%31[^:]:%u:%u:%u:%u:%u", name, &op->a[0], &op->a[1], &op->a[2],
			   &op->a[3], &op->a[4]) != 6)
			return -1;
		for (k = 0; k < prog->nr_kinds; k++)
			if (!strcmp(name, prog->kind_names[k]))
				break;
		if (k == prog->nr_kinds)
			return -1;
		op->kind = k;
		n++;
		spec = strchr(spec, ',');
		if (spec)
			spec++;
	}
	return n;
}

static void print_ops(const struct st_program *prog, const char *label, const struct st_op *ops,
		      int n)
{
	char b[96];
	int i;

	printf("# %s (%d operations):\n#   ", label, n);
	for (i = 0; i < n; i++) {
		format_op(prog, &ops[i], b, sizeof(b));
		printf("%s%s", b, i + 1 < n ? "," : "\n");
		if (i % 6 == 5 && i + 1 < n)
			printf("\n#   ");
	}
	if (!n)
		printf("\n");
}

/*
 * Delta debugging (Zeller's ddmin, simplified): remove chunks of the operation list while
 * the episode still fails; each candidate is tried twice (timing makes some failures
 * intermittent). Bounded by time.
 */
/*
 * The kind of a failure, so that shrinking keeps the same bug: the first message without
 * its "op N: " prefix, its numbers and its details in parentheses.
 */
static void failure_kind(const char *why, char *out, size_t len)
{
	size_t o = 0;
	int depth = 0;

	if (!strncmp(why, "op ", 3) && strchr(why, ':'))
		why = strchr(why, ':') + 2;
	for (; *why && *why != ';' && o + 1 < len && o < 48; why++) {
		if (*why == '(')
			depth++;
		else if (*why == ')')
			depth--;
		else if (!depth && !(*why >= '0' && *why <= '9'))
			out[o++] = *why;
	}
	out[o] = '\0';
	/* a kernel splat anywhere is its own kind */
	if (strstr(why, "kernel log: ") && !strstr(out, "kernel log"))
		snprintf(out, len, "%.40s", strstr(why, "kernel log: "));
}

static int shrink(const struct st_program *prog, uint64_t seed, struct st_op *ops, int n,
		  double seconds, const char *why)
{
	char kind[64], k2[64];
	uint64_t t0 = st_now_ns();
	struct run_result r;
	int chunk = n / 2, runs = 0;

	failure_kind(why, kind, sizeof(kind));
	printf("# shrinking, keeping the failure \"%s\"\n", kind);

	while (chunk >= 1 && (st_now_ns() - t0) / 1e9 < seconds) {
		bool removed = false;
		int start;

		for (start = 0; start < n && (st_now_ns() - t0) / 1e9 < seconds; start += chunk) {
			int m = 0, i, try;

			for (i = 0; i < n; i++)
				if (i < start || i >= start + chunk)
					cand[m++] = ops[i];
			if (!m)
				continue;
			for (try = 0; try < 2; try++) {
				run_once(prog, seed, cand, m, &r);
				runs++;
				if (r.failed) {
					failure_kind(r.why, k2, sizeof(k2));
					if (!strcmp(k2, kind))
						break;
					r.failed = 0;	/* another failure: not this one */
				}
			}
			if (r.failed) {
				/* Only what ran matters: cut the tail too. */
				int keep = r.executed > 0 && r.executed < m ? r.executed : m;

				memcpy(ops, cand, keep * sizeof(*ops));
				n = keep;
				removed = true;
				start -= chunk;
				if (start < -chunk)
					start = -chunk;
				printf("# shrinking: %d operations still fail (%d runs)\n", n, runs);
				fflush(stdout);
			}
		}
		if (!removed)
			chunk /= 2;
		if (chunk > n / 2)
			chunk = n / 2;
	}
	return n;
}

static const char *bin(const struct st_program *prog)
{
	static char b[64];

	if (prog->binary)
		return prog->binary;
	snprintf(b, sizeof(b), "stress_%s", prog->name);
	return b;
}

static void usage(const struct st_program *prog, FILE *f)
{
	fprintf(f,
		"usage: %s [options]\n"
		"Seeded, randomized stress of the module's %s with an oracle that does not trust it.\n\n"
		"  -s, --seed S          run seed S (hex or decimal; repeatable)\n"
		"  -f, --fresh N         also run N fresh random seeds (printed, so they can be re-run)\n"
		"  -n, --ops N           operations per episode (default 160)\n"
		"  -d, --duration SECS   keep running fresh seeds until SECS have passed\n"
		"  -r, --replay OPS      run exactly this operation list (as printed on a failure)\n"
		"      --shrink SECS     on a failure, shorten the sequence for up to SECS (default 120,\n"
		"                        0 = do not)\n"
		"  -v, --verbose         print every operation as it runs\n"
		"  -h, --help            this text\n\n"
		"Output is TAP: one test per seed. Exit status 0 when every seed passed.\n",
		bin(prog), prog->name);
}

int st_main(const struct st_program *prog, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' }, { "fresh", required_argument, NULL, 'f' },
		{ "ops", required_argument, NULL, 'n' }, { "duration", required_argument, NULL, 'd' },
		{ "replay", required_argument, NULL, 'r' }, { "shrink", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' }, {}
	};
	struct st_op *ops = all_ops;
	uint64_t seeds[256], total[64] = {};
	int nseeds = 0, fresh = 0, nops = 160, c, i, failed = 0, planned, passed = 0;
	double duration = 0, shrink_s = 120;
	const char *replay = NULL;
	uint64_t t0 = st_now_ns(), rs;
	struct st_rng seedgen;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "s:f:n:d:r:vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (nseeds < 256)
				seeds[nseeds++] = strtoull(optarg, NULL, 0);
			break;
		case 'f': fresh = atoi(optarg); break;
		case 'n': nops = atoi(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'r': replay = optarg; break;
		case 'S': shrink_s = atof(optarg); break;
		case 'v': opt_verbose = true; break;
		case 'h': usage(prog, stdout); return 0;
		default: usage(prog, stderr); return 2;
		}
	}
	if (nops < 1 || nops > ST_MAX_OPS || fresh < 0 || fresh > 256 - nseeds) {
		fprintf(stderr, "%s: --ops takes 1..%d, --fresh 0..%d\n", bin(prog), ST_MAX_OPS,
			256 - nseeds);
		return 2;
	}
	if (!nseeds && !fresh && !duration && !replay)
		fresh = 1;
	rs = st_now_ns() ^ ((uint64_t)getpid() << 32);
	st_rng_seed(&seedgen, rs);
	for (i = 0; i < fresh; i++)
		seeds[nseeds++] = st_rnd(&seedgen) & 0xffffffffffffULL;

	jsh = mmap(NULL, sizeof(*jsh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (jsh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (prog->setup)
		prog->setup();
	kmsg_open();
	st_quiesce(500);
	{
		char log[4096], first[256];

		kmsg_read(log, sizeof(log), first, sizeof(first));	/* the past is not ours */
	}
	prefault_judge();
	{
		struct run_result warm;

		baseline = mem_now();
		run_once(NULL, 0, NULL, 0, &warm);	/* the judge's first fork and quiesce */
	}
	st_quiesce(200);
	baseline = mem_now();
	printf("TAP version 13\n");
	if (!meminfo_pt_is_user_only())
		printf("# %s: this kernel counts its own page tables in PageTables (6.17+): user page "
		       "tables are judged by check_mm's per-mm count in the kernel log\n", bin(prog));
	printf("# %s: PageTables %lld kB, AnonPages %lld kB at the start\n", bin(prog),
	       baseline.pagetables, baseline.anon);

	if (replay) {
		struct run_result r;
		int n = parse_ops(prog, replay, ops);

		if (n <= 0) {
			fprintf(stderr, "%s: cannot parse --replay\n", bin(prog));
			return 2;
		}
		printf("1..1\n");
		run_once(prog, nseeds ? seeds[0] : 1, ops, n, &r);
		printf("%sok 1 %s replay of %d operations%s%s\n", r.failed ? "not " : "", prog->name, n,
		       r.failed ? ": " : "", r.failed ? r.why : "");
		return r.failed;
	}

	planned = duration ? -1 : nseeds;
	if (planned > 0)
		printf("1..%d\n", planned);
	for (i = 0;; i++) {
		struct run_result r;
		uint64_t seed;
		double el = (st_now_ns() - t0) / 1e9;
		int k;

		if (i < nseeds)
			seed = seeds[i];
		else if (duration && el < duration)
			seed = st_rnd(&seedgen) & 0xffffffffffffULL;
		else
			break;
		prog->generate(seed, ops, nops);
		if (opt_verbose)
			printf("# [%.0f s] seed 0x%llx\n", el, (unsigned long long)seed);
		run_once(prog, seed, ops, nops, &r);
		for (k = 0; k < 64; k++)
			total[k] += r.stats[k];
		if (r.skipped) {
			printf("ok %d # SKIP %s seed 0x%llx: %s\n", i + 1, prog->name,
			       (unsigned long long)seed, r.why);
			continue;
		}
		if (!r.failed) {
			passed++;
			printf("ok %d %s seed 0x%llx: %d operations", i + 1, prog->name,
			       (unsigned long long)seed, r.executed);
			for (k = 0; prog->stat_names[k] && k < 6; k++)
				printf(", %llu %s", (unsigned long long)r.stats[k], prog->stat_names[k]);
			printf(" [%.0f s]\n", (st_now_ns() - t0) / 1e9);
			continue;
		}
		failed++;
		printf("not ok %d %s seed 0x%llx: %s\n", i + 1, prog->name, (unsigned long long)seed,
		       r.why);
		printf("# reproduce: %s --seed 0x%llx --ops %d\n", bin(prog),
		       (unsigned long long)seed, nops);
		print_ops(prog, "operations run until the failure", ops,
			  r.executed > 0 && r.executed < nops ? r.executed : nops);
		if (shrink_s > 0) {
			int m = shrink(prog, seed, ops, r.executed > 0 && r.executed < nops ? r.executed :
				       nops, shrink_s, r.why);

			print_ops(prog, "a shortened sequence that still fails", ops, m);
			printf("# replay it: %s --seed 0x%llx --replay '", bin(prog),
			       (unsigned long long)seed);
			for (k = 0; k < m; k++) {
				char b[96];

				format_op(prog, &ops[k], b, sizeof(b));
				printf("%s%s", b, k + 1 < m ? "," : "");
			}
			printf("'\n");
		}
	}
	if (planned < 0)
		printf("1..%d\n", i);
	printf("# %s: %d seeds in %.0f s, %d passed, %d failed; totals:", bin(prog), i,
	       (st_now_ns() - t0) / 1e9, passed, failed);
	for (c = 0; prog->stat_names[c]; c++)
		printf(" %s %llu%s", prog->stat_names[c], (unsigned long long)total[c],
		       prog->stat_names[c + 1] ? "," : "\n");
	return failed ? 1 : 0;
}

bool st_verbose(void)
{
	return opt_verbose;
}
