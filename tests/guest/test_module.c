// SPDX-License-Identifier: GPL-2.0
/*
 * Module basics on the running kernel: /dev/cowlab, the VERSION ioctl, bad
 * ioctl numbers and sizes rejected with the exact errno, unload refused while
 * in use and clean when idle, reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "tap.h"

#define KO_PATH "/lib/modules/cowlab.ko"

static int ioctl_errno(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? errno : 0;
}

static int delete_module(void)
{
	return syscall(SYS_delete_module, "cowlab", O_NONBLOCK) ? errno : 0;
}

static int load_module(void)
{
	int fd = open(KO_PATH, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? errno : 0;
	close(fd);
	return ret;
}

int main(void)
{
	struct cowlab_version v;
	struct cowlab_cowahead_policy pol = {};
	struct utsname u;
	char buf[256] = {};
	int fd, e;

	tap_plan(14);
	uname(&u);
	fd = open(COWLAB_DEVICE, O_RDWR);
	if (!tap_ok(fd >= 0, "open %s (%s)", COWLAB_DEVICE, fd < 0 ? strerror(errno) : "ok"))
		return tap_finish();

	memset(&v, 0xff, sizeof(v));
	e = ioctl_errno(fd, COWLAB_IOC_VERSION, &v);
	tap_ok(e == 0 && v.abi_version == COWLAB_ABI_VERSION,
	       "VERSION: abi %u (want %d), errno %d", v.abi_version, COWLAB_ABI_VERSION, e);
	tap_ok(e == 0 && !strcmp(v.kernel_release, u.release) && v.module_version[0] &&
	       memchr(v.module_version, 0, sizeof(v.module_version)),
	       "VERSION: kernel '%s', module '%.31s'", v.kernel_release, v.module_version);
	tap_ok(e == 0 && (v.features & COWLAB_FEAT_COWAHEAD) && v.reserved == 0,
	       "VERSION: features 0x%llx include cowahead", (unsigned long long)v.features);

	e = ioctl_errno(fd, _IOR('x', 0x00, struct cowlab_version), &v);
	tap_ok(e == ENOTTY, "foreign ioctl magic -> ENOTTY (got %s)", strerror(e));
	e = ioctl_errno(fd, _IOR(COWLAB_IOC_MAGIC, 0x7f, struct cowlab_version), &v);
	tap_ok(e == ENOTTY, "unknown command number -> ENOTTY (got %s)", strerror(e));
	e = ioctl_errno(fd, _IOR(COWLAB_IOC_MAGIC, 0x00, __u64), buf);
	tap_ok(e == EINVAL, "VERSION with a wrong struct size -> EINVAL (got %s)", strerror(e));
	e = ioctl_errno(fd, _IOW(COWLAB_IOC_MAGIC, 0x10, struct cowlab_version), buf);
	tap_ok(e == EINVAL, "CA_SET with a wrong struct size -> EINVAL (got %s)", strerror(e));
	e = ioctl_errno(fd, COWLAB_IOC_VERSION, NULL);
	tap_ok(e == EFAULT, "VERSION to a NULL pointer -> EFAULT (got %s)", strerror(e));
	e = ioctl_errno(fd, COWLAB_IOC_CA_GET, (void *)1);
	tap_ok(e == EFAULT, "CA_GET from a bad pointer -> EFAULT (got %s)", strerror(e));

	/* Unload is refused while the device is open, clean when idle. */
	e = delete_module();
	tap_ok(e == EWOULDBLOCK, "unload while /dev/cowlab is open -> EWOULDBLOCK (got %s)",
	       strerror(e));
	close(fd);
	e = delete_module();
	tap_ok(e == 0 && access(COWLAB_DEVICE, F_OK) != 0, "unload when idle (got %s)",
	       strerror(e));
	e = load_module();
	tap_ok(e == 0, "reload %s (got %s)", KO_PATH, strerror(e));
	fd = open(COWLAB_DEVICE, O_RDWR);
	e = fd < 0 ? errno : ioctl_errno(fd, COWLAB_IOC_CA_GET, &pol);
	tap_ok(fd >= 0 && e == ENOENT, "after reload: no policy for this process -> ENOENT (got %s)",
	       strerror(e));
	if (fd >= 0)
		close(fd);
	return tap_finish();
}
