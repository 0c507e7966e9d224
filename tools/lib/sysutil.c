// SPDX-License-Identifier: GPL-2.0
/* System set-up shared by the swapping workloads: see sysutil.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysutil.h"
#include "util.h"

static char cg[256];

int cl_write_file(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int err;

	if (!f)
		return -errno;
	err = fputs(val, f) < 0 ? -errno : 0;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

int cl_read_file(const char *path, char *buf, int len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	fclose(f);
	return 0;
}

long cl_vmstat(const char *key)
{
	char name[64];
	long v, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %ld", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

long cl_swap_total_kb(void)
{
	char line[256];
	long kb = 0, v;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SwapTotal: %ld kB", &v) == 1)
			kb = v;
	if (f)
		fclose(f);
	return kb;
}

static void leave_cgroup(void)
{
	char pid[32];

	if (!cg[0])
		return;
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	cl_write_file("/sys/fs/cgroup/cgroup.procs", pid);
	rmdir(cg);
}

int cl_memcg_join(const char *name, uint64_t limit)
{
	char path[320], buf[64];

	if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK)) {
		cl_err("needs root and cgroup v2 at /sys/fs/cgroup");
		return -1;
	}
	cl_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/cowlab-%s-%d", name, (int)getpid());
	if (mkdir(cg, 0755) && errno != EEXIST) {
		cl_err("mkdir %s: %s", cg, strerror(errno));
		cg[0] = 0;
		return -1;
	}
	atexit(leave_cgroup);
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)limit);
	if (cl_write_file(path, buf)) {
		cl_err("%s: %s (is the memory controller enabled?)", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (cl_write_file(path, buf)) {
		cl_err("cannot join %s: %s", cg, strerror(errno));
		return -1;
	}
	return 0;
}

int cl_setup_zram(const char *size)
{
	if (access("/sys/block/zram0", F_OK) &&
	    system("guest-modprobe zram 2>/dev/null || modprobe zram 2>/dev/null"))
		return -1;
	if (system("grep -q '^/dev/zram0 ' /proc/swaps") == 0)
		return 0;
	if (cl_write_file("/sys/block/zram0/disksize", size))
		return -1;
	return system("mkswap /dev/zram0 >/dev/null && swapon /dev/zram0") ? -1 : 0;
}

long cl_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

#define PM_PRESENT	(1ULL << 63)
#define PM_EXCLUSIVE	(1ULL << 56)
#define PM_BATCH	512	/* entries per read: one PTE table */

int cl_pt_regions(pid_t pid, uintptr_t lo, uintptr_t hi, long *present, long *exclusive)
{
	char path[64], line[512], perms[8];
	unsigned long long start, end, last = ~0ULL, last_x = ~0ULL;
	static uint64_t e[PM_BATCH];
	int fd, err = 0;
	FILE *maps;

	*present = *exclusive = 0;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	maps = fopen(path, "r");
	if (!maps)
		return -errno;
	snprintf(path + strlen(path) - 4, 8, "pagemap");
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		err = -errno;
		fclose(maps);
		return err;
	}
	while (!err && fgets(line, sizeof(line), maps)) {
		unsigned long long a;

		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) != 3 ||
		    perms[1] != 'w' || perms[3] != 'p')
			continue;
		if (lo != hi) {
			start = start < lo ? lo : start;
			end = end > hi ? hi : end;
		}
		for (a = start; a < end; ) {
			size_t n = (end - a) / 4096, i;
			ssize_t got;

			n = n > PM_BATCH ? PM_BATCH : n;
			/* one read never crosses a 2 MiB region */
			if (n > ((a | 0x1fffffULL) + 1 - a) / 4096)
				n = ((a | 0x1fffffULL) + 1 - a) / 4096;
			got = pread(fd, e, n * 8, (off_t)(a / 4096 * 8));
			if (got < 0) {
				err = -errno;
				break;
			}
			for (i = 0; i < (size_t)got / 8; i++) {
				unsigned long long r = (a >> 21);

				if (!(e[i] & PM_PRESENT))
					continue;
				if (r != last) {
					(*present)++;
					last = r;
				}
				if ((e[i] & PM_EXCLUSIVE) && r != last_x) {
					(*exclusive)++;
					last_x = r;
				}
			}
			if ((size_t)got < n * 8)
				break;
			a += n * 4096;
		}
	}
	close(fd);
	fclose(maps);
	return err;
}
