// SPDX-License-Identifier: GPL-2.0
/*
 * cl_quiesce: let the kernel finish what the last test program left behind, so that
 * the kernel log can be judged and counters read.
 *
 * A kernel message can come after the program that caused it: an mm is freed (and
 * check_mm() prints "BUG: Bad rss-counter" or "non-zero pgtables_bytes") when its last
 * lazy-TLB user switches away, RCU callbacks free objects later, and the module's own
 * garbage collection runs as a delayed work. So:
 *   1. run briefly on every online CPU (each CPU switches away from any lazy mm);
 *   2. membarrier(MEMBARRIER_CMD_GLOBAL): a synchronize_rcu() in the kernel;
 *   3. sleep WAIT ms (delayed works: cow-ahead's GC runs within a second);
 *   4. steps 1-2 again (what step 3 freed may have deferred work of its own);
 *   5. fold the per-CPU vmstat counters (/proc/sys/vm/stat_refresh) so /proc/meminfo is exact.
 *
 * usage: cl_quiesce [WAIT_MS]   (default 1500)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static void every_cpu(void)
{
	cpu_set_t all, one;
	int cpu, i;

	if (sched_getaffinity(0, sizeof(all), &all))
		CPU_ZERO(&all);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		for (i = 0; i < 3; i++) {
			sched_yield();
			usleep(1000);
		}
	}
	sched_setaffinity(0, sizeof(all), &all);
	/* A synchronize_rcu() in the kernel (-EINVAL on nohz_full: then only the sleep helps). */
	syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
}

int main(int argc, char **argv)
{
	long wait_ms = argc > 1 ? strtol(argv[1], NULL, 10) : 1500;
	int fd;

	every_cpu();
	if (wait_ms > 0)
		usleep(wait_ms * 1000);
	every_cpu();
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		/* Writing folds every CPU's counters; it fails with EINVAL if one went negative. */
		if (write(fd, "1\n", 2) < 0 && errno != EINVAL)
			perror("cl_quiesce: stat_refresh");
		close(fd);
	}
	return 0;
}
