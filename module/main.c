// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab: /dev/cowlab and ioctl dispatch.
 *
 * The device is world-accessible: every command that targets a process checks
 * that the caller could ptrace it (cowlab_get_target()).
 */
#define pr_fmt(fmt) "cowlab: " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "cowlab.h"

static long ioctl_version(void __user *arg)
{
	struct cowlab_version v;

	memset(&v, 0, sizeof(v));
	v.abi_version = COWLAB_ABI_VERSION;
	if (cowlab_cowahead_ready())
		v.features |= COWLAB_FEAT_COWAHEAD;
	if (cowlab_refork_ready())
		v.features |= COWLAB_FEAT_REFORK;
	strscpy(v.module_version, COWLAB_MODULE_VERSION, sizeof(v.module_version));
	strscpy(v.kernel_release, utsname()->release, sizeof(v.kernel_release));
	if (copy_to_user(arg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long cowlab_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (_IOC_TYPE(cmd) != COWLAB_IOC_MAGIC)
		return -ENOTTY;

	/* A known command number with another size or direction is a wrong struct: EINVAL. */
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(COWLAB_IOC_VERSION):
		if (cmd != COWLAB_IOC_VERSION)
			return -EINVAL;
		return ioctl_version(uarg);
	case _IOC_NR(COWLAB_IOC_CA_SET):
	case _IOC_NR(COWLAB_IOC_CA_GET):
	case _IOC_NR(COWLAB_IOC_CA_STATS):
		return cowlab_cowahead_ioctl(cmd, uarg);
	case _IOC_NR(COWLAB_IOC_REFORK):
	case _IOC_NR(COWLAB_IOC_RF_WAIT):
		return cowlab_refork_ioctl(cmd, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations cowlab_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= cowlab_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice cowlab_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "cowlab",
	.fops	= &cowlab_fops,
	.mode	= 0666,
};

static int __init cowlab_init(void)
{
	int ret;

	ret = cowlab_ksyms_init();
	if (ret)
		return ret;
	ret = cowlab_cowahead_init();
	if (ret)
		return ret;
	cowlab_refork_init();
	ret = misc_register(&cowlab_dev);
	if (ret) {
		cowlab_refork_exit();
		cowlab_cowahead_exit();
		return ret;
	}
	pr_info("loaded, ABI %d, version %s\n", COWLAB_ABI_VERSION, COWLAB_MODULE_VERSION);
	return 0;
}

static void __exit cowlab_exit(void)
{
	misc_deregister(&cowlab_dev);
	cowlab_refork_exit();
	cowlab_cowahead_exit();
	pr_info("unloaded\n");
}

module_init(cowlab_init);
module_exit(cowlab_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("cowlab developers");
MODULE_DESCRIPTION("fork/COW experiments on stock kernels: cow-ahead and refork");
MODULE_VERSION(COWLAB_MODULE_VERSION);
