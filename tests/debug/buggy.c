// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab_buggy: a deliberately broken module, built only for the debug-kernel
 * lane's self-test (tests/debug/lane-selftest) and never part of cowlab.ko.
 * It proves that the lane catches the classes of bug it exists for:
 *   mode=sleep  takes a mutex (may sleep) while holding a spinlock:
 *               DEBUG_ATOMIC_SLEEP / lockdep must report it;
 *   mode=leak   loses BUGGY_NLEAK kmalloc'ed objects and a page reference:
 *               kmemleak must report them after a scan. One lost object is
 *               not enough: kmemleak (rightly) keeps an object alive while a
 *               stale copy of its address survives on some stack or in a
 *               register (insmod's freed stack is cached, not wiped), which
 *               made a single-object self-test miss the leak 1 run in 4.
 *               Only the last of BUGGY_NLEAK pointers can be left behind by
 *               the loop below, so the others are unreferenced for certain;
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

#define BUGGY_NLEAK	16

static DEFINE_SPINLOCK(buggy_lock);
static DEFINE_MUTEX(buggy_mutex);

/*
 * Each object gets fixed contents so that its kmemleak checksum is stable from one scan to
 * the next (an object whose contents changed is not reported in that scan).
 */
static noinline void buggy_leak(void)
{
	struct page *page = alloc_page(GFP_KERNEL);
	int i;

	for (i = 0; i < BUGGY_NLEAK; i++) {
		void *p = kmalloc(3000, GFP_KERNEL);

		if (p)
			memset(p, 0x5a, 3000);
		/* BUG: the only pointer is dropped */
	}
	if (page)
		get_page(page);		/* BUG: a reference nobody drops */
	pr_info("cowlab_buggy: leaked %d objects and a page reference\n", BUGGY_NLEAK);
}

static int __init buggy_init(void)
{
	if (!strcmp(mode, "sleep")) {
		spin_lock(&buggy_lock);
		mutex_lock(&buggy_mutex);	/* BUG: may sleep under a spinlock */
		mutex_unlock(&buggy_mutex);
		spin_unlock(&buggy_lock);
	} else if (!strcmp(mode, "leak")) {
		buggy_leak();
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
