// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab_buggy: a deliberately broken module, built only for the debug-kernel
 * lane's self-test (tests/debug/lane-selftest) and never part of cowlab.ko.
 * It proves that the lane catches the classes of bug it exists for:
 *   mode=sleep  takes a mutex (may sleep) while holding a spinlock:
 *               DEBUG_ATOMIC_SLEEP / lockdep must report it;
 *   mode=leak   loses a kmalloc'ed object and a page reference:
 *               kmemleak must report the object after a scan;
 *   mode=none   loads and unloads cleanly (the control).
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static char *mode = "none";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "none, sleep or leak");

static DEFINE_SPINLOCK(buggy_lock);
static DEFINE_MUTEX(buggy_mutex);
static void *lost;

static int __init buggy_init(void)
{
	if (!strcmp(mode, "sleep")) {
		spin_lock(&buggy_lock);
		mutex_lock(&buggy_mutex);	/* BUG: may sleep under a spinlock */
		mutex_unlock(&buggy_mutex);
		spin_unlock(&buggy_lock);
	} else if (!strcmp(mode, "leak")) {
		struct page *page = alloc_page(GFP_KERNEL);

		lost = kmalloc(4096, GFP_KERNEL);
		if (page)
			get_page(page);		/* BUG: a reference nobody drops */
		pr_info("cowlab_buggy: leaking %p and a page reference\n", lost);
		lost = NULL;			/* BUG: the only pointer is gone */
	} else if (strcmp(mode, "none")) {
		return -EINVAL;
	}
	return 0;
}

static void __exit buggy_exit(void)
{
}

module_init(buggy_init);
module_exit(buggy_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("cowlab debug-lane self-test: deliberately buggy, never for real use");
