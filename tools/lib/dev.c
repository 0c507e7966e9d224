// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dev.h"
#include "util.h"

int cl_dev_open(bool quiet)
{
	struct cowlab_version v;
	int fd = open(COWLAB_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		if (quiet)
			return -1;
		if (errno == ENOENT)
			cl_err("%s does not exist: the cowlab module is not loaded "
			       "(insmod build/k/<kernel>/cowlab.ko, or run inside `cowlab vm`)",
			       COWLAB_DEVICE);
		else
			cl_err("cannot open %s: %s", COWLAB_DEVICE, strerror(errno));
		return -1;
	}
	if (cl_dev_version(fd, &v) == 0 && v.abi_version != COWLAB_ABI_VERSION) {
		if (!quiet)
			cl_err("module ABI %u, this tool speaks ABI %u: rebuild one of them",
			       v.abi_version, COWLAB_ABI_VERSION);
		close(fd);
		return -1;
	}
	return fd;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int cl_dev_version(int fd, struct cowlab_version *v)
{
	return xioctl(fd, COWLAB_IOC_VERSION, v);
}

int cl_ca_set(int fd, const struct cowlab_cowahead_policy *p)
{
	return xioctl(fd, COWLAB_IOC_CA_SET, (void *)p);
}

int cl_ca_get(int fd, struct cowlab_cowahead_policy *p)
{
	return xioctl(fd, COWLAB_IOC_CA_GET, p);
}

int cl_ca_stats(int fd, struct cowlab_cowahead_stats *st)
{
	return xioctl(fd, COWLAB_IOC_CA_STATS, st);
}

void cl_ca_describe(const struct cowlab_cowahead_policy *p, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s %u pages",
			 p->flags & COWLAB_CA_ADAPTIVE ? "adaptive up to" : "fixed", p->window);

	if (p->flags & COWLAB_CA_KEEP_EXEC)
		n += snprintf(buf + n, len - n, ", keep-exec");
	if (p->flags & COWLAB_CA_NO_INHERIT)
		n += snprintf(buf + n, len - n, ", no-inherit");
	if (p->flags & COWLAB_CA_RANGE)
		snprintf(buf + n, len - n, ", range 0x%llx-0x%llx",
			 (unsigned long long)p->start, (unsigned long long)p->end);
}
