// SPDX-License-Identifier: GPL-2.0
/*
 * forkcow: a process whose forks and COW faults are known exactly, for the
 * BPF tests. In order:
 *   1. map PAGES anonymous pages and write each (so fork copies their PTEs);
 *   2. fork(2) FORKS times (the raw syscall: glibc's fork() would use clone),
 *      each child exits when the parent has read its clock; the parent times
 *      each call with the monotonic clock around the syscall;
 *      (-F: as SCHED_FIFO with reset-on-fork, so that no child can preempt the
 *      parent between the syscall and its clock read);
 *   3. vfork VFORKS times;
 *   4. if PAGES and not -n: fork one child that waits on a pipe, write one byte to every
 *      page (PAGES COW faults that copy, the child still maps them), release it;
 *   5. if SWAP_MIB: write that much memory, then read it back twice.
 * The fork timings go to FILE as JSON: {"fork_ns":[...],"median_fork_ns":N,
 * "median_fork_ns_clock_gettime":N}. fork_ns is the TSC read right around the
 * syscall instruction, with no memory access between: clock_gettime() around
 * fork() also times the parent's first COW fault on its stack after the fork.
 * The program re-executes itself once without address-space randomisation.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The TSC, read with no memory access (a call would write the stack: a COW fault). */
static inline __attribute__((always_inline)) uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* fork(2) straight through the syscall instruction */
static inline __attribute__((always_inline)) long raw_fork(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_fork) : "rcx", "r11", "memory");
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, long n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* vfork in a function of its own: the child borrows this frame, not main's */
static __attribute__((noinline)) void do_vforks(long n)
{
	int status;
	pid_t pid;
	volatile long i;

	for (i = 0; i < n; i++) {
		pid = vfork();
		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			die("vfork");
	}
}

int main(int argc, char **argv)
{
	long forks = 0, pages = 0, swap_mib = 0, psz = sysconf(_SC_PAGESIZE), i, vforks = 0;
	const char *out = NULL;
	volatile char *mem = NULL;
	uint64_t *ns, *cns, c0, k0;
	int opt, status, go[2], no_cow = 0, fifo = 0;
	pid_t pid;

	while ((opt = getopt(argc, argv, "k:v:m:s:o:nFh")) != -1) {
		switch (opt) {
		case 'k': forks = atol(optarg); break;
		case 'v': vforks = atol(optarg); break;
		case 'm': pages = atol(optarg); break;
		case 's': swap_mib = atol(optarg); break;
		case 'o': out = optarg; break;
		case 'n': no_cow = 1; break;
		case 'F': fifo = 1; break;
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"usage: forkcow [-k FORKS [-F]] [-v VFORKS] [-m PAGES [-n]] [-s SWAP_MIB] [-o FILE]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (forks < 0 || vforks < 0 || pages < 0 || swap_mib < 0)
		return 2;
	/* no address randomisation: runs differing only in sizes fault alike */
	if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE) &&
	    personality(ADDR_NO_RANDOMIZE) != -1) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = 0;	/* by its own name: the comm stays "forkcow" */
			execv(self, argv);
		}
	}
	if (pages) {
		mem = mmap(NULL, pages * psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			die("mmap");
		madvise((void *)mem, pages * psz, MADV_NOHUGEPAGE);
		for (i = 0; i < pages; i++)
			mem[i * psz] = 1;
	}
	/*
	 * Each child waits for a byte before it exits: with one CPU, a child
	 * that ran and exited at once would sit inside the parent's measured
	 * interval (the parent is preempted on its way back to user space).
	 */
	ns = calloc(forks + 1, sizeof(*ns));
	cns = calloc(forks + 1, sizeof(*cns));
	if (pipe(go))
		die("pipe");
	if (fifo) {
		/* children come back SCHED_OTHER: none can preempt the parent's return */
		struct sched_param sp = { .sched_priority = 1 };

		if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
			perror("forkcow: SCHED_FIFO (timings may include a child's first run)");
	}
	c0 = now_ns();
	k0 = tsc();
	for (i = 0; i < forks; i++) {
		uint64_t t0, t1, w0 = now_ns();
		char c = 0;

		t0 = tsc();
		pid = raw_fork();
		t1 = tsc();
		if (pid == 0)
			_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
		cns[i] = now_ns() - w0;
		ns[i] = t1 - t0;
		if (pid < 0 || write(go[1], &c, 1) != 1 || waitpid(pid, &status, 0) != pid)
			die("fork");
	}
	if (fifo) {
		struct sched_param sp = { .sched_priority = 0 };

		sched_setscheduler(0, SCHED_OTHER, &sp);
	}
	/* TSC ticks to ns, calibrated against CLOCK_MONOTONIC over the loop */
	if (forks) {
		double per_ns = (double)(tsc() - k0) / (double)(now_ns() - c0);

		for (i = 0; i < forks; i++)
			ns[i] = (uint64_t)(ns[i] / per_ns);
	}
	close(go[0]);
	close(go[1]);
	do_vforks(vforks);
	if (pages && !no_cow) {
		char c = 0;

		if (pipe(go))
			die("pipe");
		pid = syscall(SYS_fork);
		if (pid == 0) {
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			_exit(0);
		}
		if (pid < 0)
			die("fork");
		for (i = 0; i < pages; i++)
			mem[i * psz] = 2;
		if (write(go[1], &c, 1) != 1 || waitpid(pid, &status, 0) != pid)
			die("release");
	}
	if (swap_mib) {
		size_t len = (size_t)swap_mib << 20;
		volatile char *s = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned long sum = 0;
		int pass;

		if (s == MAP_FAILED)
			die("mmap");
		for (i = 0; i < (long)len; i += psz)
			s[i] = (char)(i / psz);
		for (pass = 0; pass < 2; pass++)
			for (i = 0; i < (long)len; i += psz)
				sum += s[i];
		printf("forkcow: swap pass sum %lu\n", sum);
	}
	if (out) {
		FILE *f = fopen(out, "w");

		if (!f)
			die(out);
		fprintf(f, "{\"fork_ns\":[");
		for (i = 0; i < forks; i++)
			fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)ns[i]);
		fprintf(f, "],\"median_fork_ns\":%llu,\"median_fork_ns_clock_gettime\":%llu}\n",
			(unsigned long long)median(ns, forks), (unsigned long long)median(cns, forks));
		fclose(f);
	}
	return 0;
}
