// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab: cow-ahead. When a process with a policy takes a COW write fault,
 * break COW on the next N pages of the same VMA in one batch.
 *
 * How, on a stock kernel:
 *  - a probe on the x86 tracepoint exceptions:page_fault_user sees every user
 *    fault before it is handled; for a write to a present page (a COW
 *    candidate) in a process with a policy it decides the window (adaptive
 *    state under the policy's spinlock) and, only when it is not zero, queues
 *    a task_work: a random writer under an adaptive policy pays no more than a
 *    hash lookup per fault;
 *  - the task_work runs in process context when the faulting task returns to
 *    user space, i.e. after the kernel handled the fault. It takes mmap_lock
 *    (for write, and the VMA's lock, when another task shares the mm, so that
 *    no other thread's MADV_DONTNEED or MADV_FREE can zap a page between the
 *    check and the fault) and looks at the next pages of the VMA. A page is a
 *    candidate when it is present, PTE-mapped, anonymous, write-protected and
 *    shared (not PageAnonExclusive, not lazily freed, mapped more than once);
 *    the candidate's folio is locked (trylock) and the PTE checked again: with
 *    the folio locked neither reclaim nor migration nor KSM can unmap it. Then
 *    handle_mm_fault(FAULT_FLAG_WRITE), as fixup_user_fault() would but
 *    without looking the VMA up again per page: the kernel's own write-fault
 *    path, with its own page-table locking, mmu notifiers, page reuse and
 *    accounting. No page is populated that was not present, nothing is
 *    written, an exclusive page is not dirtied. A PMD-mapped THP is left to
 *    the writer's own fault (which splits it): one more fault per 2 MiB.
 *  - sched_process_fork and sched_process_exec probes give children forked
 *    later the parent's policy and carry it across exec (COWLAB_CA_KEEP_EXEC).
 *
 * Policies are keyed by mm (mmgrab()ed so the key cannot be reused); a
 * policy whose mm has no users left is collected by a delayed work.
 * Each queued task_work holds a module reference, so the module cannot be
 * unloaded with work pending; the exit path then waits (RCU Tasks) for the
 * last worker to have left the module text after its module_put().
 */
#define pr_fmt(fmt) "cowlab: " fmt

#include <linux/binfmts.h>
#include <linux/hashtable.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pkeys.h>
#include <linux/module.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>
#include <linux/userfaultfd_k.h>
#include <linux/version.h>
#include <linux/workqueue.h>
#include <asm/mmu_context.h>
#include <asm/trap_pf.h>

#include "compat.h"
#include "cowlab.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* X86_PF_SHSTK (6.6+); a shadow-stack fault is never a COW candidate. */
#define COWLAB_PF_SHSTK		BIT(6)
#define CA_PF_WANT		(X86_PF_WRITE | X86_PF_PROT | X86_PF_USER)
#define CA_PF_NOT		(X86_PF_RSVD | X86_PF_INSTR | X86_PF_PK | COWLAB_PF_SHSTK)
#define CA_ADAPTIVE_START	2	/* first adaptive window, pages */
#define CA_VMA_SKIP		(VM_SHARED | VM_MAYSHARE | VM_IO | VM_PFNMAP | \
				 VM_MIXEDMAP | VM_HUGETLB | VM_LOCKED | VM_MERGEABLE)

struct ca_counters {
	atomic64_t wp_faults;
	atomic64_t batches;
	atomic64_t pages_broken;
	atomic64_t pages_skipped;
	atomic64_t grows;
	atomic64_t shrinks;
	atomic64_t errors;
};

struct ca_policy {
	struct hlist_node node;		/* ca_table, RCU */
	struct list_head grave;		/* ca_graveyard, under ca_table_lock */
	struct mm_struct *mm;		/* key; mmgrab()ed */
	pid_t owner;			/* tgid of the process it belongs to */
	u64 owner_start;		/* its group leader's start_time: tgid reuse guard */
	u32 flags;
	u32 window;
	unsigned long start, end;	/* COWLAB_CA_RANGE */
	bool dead;
	u8 orphan_scans;		/* GC scans that found its mm without users */

	spinlock_t lock;		/* adaptive state */
	u32 cur_window;
	unsigned long next_expected;	/* page index of the sequential next fault */

	struct ca_counters c;
};

struct ca_work {
	struct callback_head cb;
	unsigned long addr;	/* the faulting address */
	unsigned long limit;	/* COWLAB_CA_RANGE end, or ULONG_MAX */
	u32 window;		/* pages to break after the faulting one */
};

static DEFINE_HASHTABLE(ca_table, 8);
static DEFINE_SPINLOCK(ca_table_lock);
static LIST_HEAD(ca_graveyard);
static atomic_t ca_nr = ATOMIC_INIT(0);
static struct ca_counters ca_global;
static struct kmem_cache *ca_work_cache;
static struct tracepoint *tp_fault, *tp_fork, *tp_exec;
static bool ca_ready;

static void ca_gc(struct work_struct *work);
static DECLARE_DELAYED_WORK(ca_gc_work, ca_gc);

bool cowlab_cowahead_ready(void)
{
	return ca_ready;
}

static void ca_count(struct ca_policy *p, size_t off, u64 n)
{
	if (!n)
		return;
	atomic64_add(n, (atomic64_t *)((char *)&ca_global + off));
	if (p)
		atomic64_add(n, (atomic64_t *)((char *)&p->c + off));
}

#define CA_COUNT(p, field, n) ca_count(p, offsetof(struct ca_counters, field), n)

/* Under rcu_read_lock() or ca_table_lock. */
static struct ca_policy *ca_find(struct mm_struct *mm)
{
	struct ca_policy *p;

	hash_for_each_possible_rcu(ca_table, p, node, (unsigned long)mm,
				   lockdep_is_held(&ca_table_lock))
		if (p->mm == mm && !READ_ONCE(p->dead))
			return p;
	return NULL;
}

static void ca_insert_locked(struct ca_policy *p)
{
	lockdep_assert_held(&ca_table_lock);
	hash_add_rcu(ca_table, &p->node, (unsigned long)p->mm);
	atomic_inc(&ca_nr);
}

/* Unhash now; mmdrop() and kfree() after a grace period, from ca_gc(). */
static void ca_bury_locked(struct ca_policy *p)
{
	lockdep_assert_held(&ca_table_lock);
	hash_del_rcu(&p->node);
	WRITE_ONCE(p->dead, true);
	atomic_dec(&ca_nr);
	list_add(&p->grave, &ca_graveyard);
}

static void ca_copy_counters(struct ca_policy *to, struct ca_policy *from)
{
	atomic64_set(&to->c.wp_faults, atomic64_read(&from->c.wp_faults));
	atomic64_set(&to->c.batches, atomic64_read(&from->c.batches));
	atomic64_set(&to->c.pages_broken, atomic64_read(&from->c.pages_broken));
	atomic64_set(&to->c.pages_skipped, atomic64_read(&from->c.pages_skipped));
	atomic64_set(&to->c.grows, atomic64_read(&from->c.grows));
	atomic64_set(&to->c.shrinks, atomic64_read(&from->c.shrinks));
	atomic64_set(&to->c.errors, atomic64_read(&from->c.errors));
}

/* A new policy for @mm owned by @task, configured like @tmpl. */
static struct ca_policy *ca_alloc(struct mm_struct *mm, struct task_struct *task,
				  const struct ca_policy *tmpl, gfp_t gfp)
{
	struct ca_policy *p = kzalloc(sizeof(*p), gfp);

	if (!p)
		return NULL;
	spin_lock_init(&p->lock);
	mmgrab(mm);
	p->mm = mm;
	p->owner = task->tgid;
	rcu_read_lock();	/* group_leader changes under de_thread() */
	p->owner_start = READ_ONCE(task->group_leader)->start_time;
	rcu_read_unlock();
	p->flags = tmpl->flags;
	p->window = tmpl->window;
	p->start = tmpl->start;
	p->end = tmpl->end;
	p->cur_window = (p->flags & COWLAB_CA_ADAPTIVE) ? 0 : p->window;
	return p;
}

static void ca_gc(struct work_struct *work)
{
	struct ca_policy *p, *tmp;
	struct hlist_node *n;
	LIST_HEAD(dead);
	bool more;
	int bkt;

	/*
	 * An mm without users is dead, except for a moment during exec: the old
	 * mm loses its last user in exec_mmap(), and sched_process_exec, which
	 * carries a KEEP_EXEC policy to the new mm, fires later. So a policy is
	 * buried at the second scan (a second or more later) that finds its mm
	 * without users.
	 */
	spin_lock(&ca_table_lock);
	hash_for_each_safe(ca_table, bkt, n, p, node) {
		if (atomic_read(&p->mm->mm_users))
			p->orphan_scans = 0;
		else if (++p->orphan_scans >= 2)
			ca_bury_locked(p);
	}
	list_splice_init(&ca_graveyard, &dead);
	more = atomic_read(&ca_nr) > 0;
	spin_unlock(&ca_table_lock);

	if (!list_empty(&dead)) {
		synchronize_rcu();
		list_for_each_entry_safe(p, tmp, &dead, grave) {
			mmdrop(p->mm);
			kfree(p);
		}
	}
	if (more)
		queue_delayed_work(cl_wq, &ca_gc_work, HZ);
}

/* ---- the batch, in process context ------------------------------------ */

/* The checks fixup_user_fault() makes (vma_permits_fault), and ours. */
static bool ca_vma_ok(struct vm_area_struct *vma)
{
	return (vma->vm_flags & VM_WRITE) && !(vma->vm_flags & CA_VMA_SKIP) &&
	       vma->anon_vma && !userfaultfd_wp(vma) &&
	       arch_vma_access_permitted(vma, true, false, false);
}

static bool ca_soft_dirty_tracked(struct vm_area_struct *vma, bool soft_dirty)
{
	/* clear_refs write-protected it to track writes: a write here must be a real one. */
	return IS_ENABLED(CONFIG_MEM_SOFT_DIRTY) && !(vma->vm_flags & VM_SOFTDIRTY) &&
	       !soft_dirty;
}

/*
 * The PTE that maps @addr, read locklessly under mmap_lock (page tables of a
 * VMA with an anon_vma are not freed under it) and RCU (6.5+ frees some PTE
 * tables by RCU). Not present, and a PMD-mapped THP, read as pte 0.
 */
static pte_t ca_read_pte(struct mm_struct *mm, unsigned long addr)
{
	pte_t pte = __pte(0);
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pudp, pud;
	pmd_t pmd;

	pgd = pgd_offset(mm, addr);
	if (pgd_none(READ_ONCE(*pgd)) || pgd_bad(READ_ONCE(*pgd)))
		return pte;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(READ_ONCE(*p4d)) || p4d_bad(READ_ONCE(*p4d)))
		return pte;
	pudp = pud_offset(p4d, addr);
	pud = READ_ONCE(*pudp);
	if (pud_none(pud) || !pud_present(pud) || pud_trans_huge(pud) || pud_bad(pud))
		return pte;

	rcu_read_lock();
	/* x86-64: a PMD is one word; pmdp_get_lockless() does not exist on 6.1. */
	pmd = READ_ONCE(*pmd_offset(pudp, addr));
	if (pmd_present(pmd) && !pmd_trans_huge(pmd) && !pmd_bad(pmd))
		pte = ptep_get(pte_offset_kernel(&pmd, addr));
	rcu_read_unlock();
	return pte;
}

/* A write-protected, present, normal PTE whose write fault would be a COW? */
static bool ca_pte_ok(struct vm_area_struct *vma, pte_t pte)
{
	return pte_present(pte) && !pte_write(pte) && !pte_special(pte) &&
	       !pte_protnone(pte) && !cl_pte_uffd_wp(pte) && pfn_valid(pte_pfn(pte)) &&
	       !ca_soft_dirty_tracked(vma, pte_soft_dirty(pte));
}

/* Anonymous, shared with another mm, not lazily freed: a write would copy it. */
static bool ca_page_shared_anon(struct page *page)
{
	struct folio *folio = page_folio(page);

	if (!folio_test_anon(folio) || folio_test_ksm(folio) || PageAnonExclusive(page) ||
	    !folio_test_swapbacked(folio))
		return false;
	/* A small folio mapped once would be reused, not copied: nothing to break. */
	return folio_test_large(folio) || atomic_read(&folio->_mapcount) > 0;
}

/*
 * If @addr is a COW candidate, its folio, referenced and locked: with the
 * folio locked, reclaim, migration and KSM cannot unmap it, and our mmap_lock
 * excludes zapping, so the fault that follows meets the page we checked.
 */
static struct folio *ca_cow_candidate(struct vm_area_struct *vma, unsigned long addr)
{
	struct page *page;
	struct folio *folio;
	pte_t pte;

	pte = ca_read_pte(vma->vm_mm, addr);
	if (!ca_pte_ok(vma, pte))
		return NULL;
	page = pte_page(pte);
	rcu_read_lock();
	folio = page_folio(page);
	if (!folio_try_get(folio))
		folio = NULL;
	rcu_read_unlock();
	if (!folio)
		return NULL;
	if (!folio_trylock(folio))
		goto put;
	pte = ca_read_pte(vma->vm_mm, addr);
	if (ca_pte_ok(vma, pte) && pte_page(pte) == page && page_folio(page) == folio &&
	    ca_page_shared_anon(page))
		return folio;
	folio_unlock(folio);
put:
	folio_put(folio);
	return NULL;
}

/* The window for a COW fault on page @fpage, updating the adaptive state. */
static u32 ca_window(struct ca_policy *p, unsigned long fpage)
{
	u32 win, grows = 0, shrinks = 0;

	spin_lock(&p->lock);
	if (!(p->flags & COWLAB_CA_ADAPTIVE)) {
		win = p->window;
	} else if (fpage == p->next_expected) {
		win = p->cur_window ? min(p->cur_window * 2, p->window) :
				      min_t(u32, CA_ADAPTIVE_START, p->window);
		grows = win > p->cur_window;
	} else {
		win = 0;
		shrinks = p->cur_window != 0;
	}
	p->cur_window = win;
	p->next_expected = fpage + 1 + win;
	spin_unlock(&p->lock);
	CA_COUNT(p, grows, grows);
	CA_COUNT(p, shrinks, shrinks);
	return win;
}

/*
 * Another task may use @mm (a thread, or a CLONE_VM process): then take
 * mmap_lock for write, and the VMA's own lock where per-VMA locks exist (7.x
 * zaps MADV_DONTNEED ranges under the VMA lock alone).
 */
static void ca_vma_lock(struct vm_area_struct *vma)
{
	cl_vma_start_write(vma);
}

/* Returns the pages made writable. */
static u64 ca_batch(const struct ca_work *w)
{
	struct mm_struct *mm = current->mm;
	u64 broken = 0, skipped = 0, errors = 0;
	struct vm_area_struct *vma;
	unsigned long addr, end;
	struct ca_policy *p;
	struct folio *folio;
	vm_fault_t ret;
	bool excl;

	if (!mm || (current->flags & PF_EXITING))
		return 0;
	excl = atomic_read(&mm->mm_users) > 1;
	if (excl ? mmap_write_lock_killable(mm) : mmap_read_lock_killable(mm))
		return 0;
	vma = find_vma(mm, w->addr);
	if (!vma || vma->vm_start > w->addr || !ca_vma_ok(vma))
		goto unlock;
	if (excl)
		ca_vma_lock(vma);

	addr = (w->addr & PAGE_MASK) + PAGE_SIZE;
	end = min3(vma->vm_end, w->limit, addr + ((unsigned long)w->window << PAGE_SHIFT));
	for (; addr < end; addr += PAGE_SIZE) {
		folio = ca_cow_candidate(vma, addr);
		if (!folio) {
			skipped++;
			continue;
		}
		/*
		 * Without FAULT_FLAG_ALLOW_RETRY it never drops mmap_lock: @vma
		 * stays valid. The anonymous write-fault path only trylocks the
		 * folio (it then copies), so holding its lock here is safe.
		 */
		ret = handle_mm_fault(vma, addr, FAULT_FLAG_WRITE, NULL);
		folio_unlock(folio);
		folio_put(folio);
		if (ret & VM_FAULT_ERROR) {
			errors++;
			break;
		}
		broken++;
		if (fatal_signal_pending(current))
			break;
	}

	rcu_read_lock();
	p = ca_find(mm);
	CA_COUNT(p, batches, 1);
	CA_COUNT(p, pages_broken, broken);
	CA_COUNT(p, pages_skipped, skipped);
	CA_COUNT(p, errors, errors);
	rcu_read_unlock();
unlock:
	if (excl)
		mmap_write_unlock(mm);
	else
		mmap_read_unlock(mm);
	return broken;
}

static void ca_work_fn(struct callback_head *cb)
{
	struct ca_work *w = container_of(cb, struct ca_work, cb);
	u64 t0 = 0, broken;

	if (trace_cowlab_ca_batch_enabled())
		t0 = ktime_get_ns();
	broken = ca_batch(w);
	if (t0)
		trace_cowlab_ca_batch(w->addr, w->window, broken, ktime_get_ns() - t0);
	kmem_cache_free(ca_work_cache, w);
	/*
	 * The last reference may go here, and this function still has to
	 * return through module text: cowlab_cowahead_exit() waits for that.
	 */
	module_put(THIS_MODULE);
}

/* ---- tracepoint probes (atomic context) ------------------------------- */

static void ca_fault_probe(void *data, unsigned long address, struct pt_regs *regs,
			   unsigned long error_code)
{
	struct mm_struct *mm = current->mm;
	unsigned long limit = ULONG_MAX;
	struct ca_policy *p;
	struct ca_work *w;
	u32 win = 0;

	if (!atomic_read(&ca_nr) || !mm)
		return;
	if ((error_code & CA_PF_WANT) != CA_PF_WANT || (error_code & CA_PF_NOT))
		return;

	rcu_read_lock();
	p = ca_find(mm);
	if (p && (!(p->flags & COWLAB_CA_RANGE) || (address >= p->start && address < p->end))) {
		CA_COUNT(p, wp_faults, 1);
		win = ca_window(p, address >> PAGE_SHIFT);
		if (p->flags & COWLAB_CA_RANGE)
			limit = p->end;
	}
	rcu_read_unlock();
	if (!win)
		return;

	w = kmem_cache_alloc(ca_work_cache, GFP_NOWAIT | __GFP_NOWARN);
	if (!w)
		goto err;
	if (!try_module_get(THIS_MODULE)) {
		kmem_cache_free(ca_work_cache, w);
		return;
	}
	init_task_work(&w->cb, ca_work_fn);
	w->addr = address;
	w->limit = limit;
	w->window = win;
	if (task_work_add(current, &w->cb, TWA_RESUME)) {
		kmem_cache_free(ca_work_cache, w);
		module_put(THIS_MODULE);
		goto err;
	}
	return;
err:
	CA_COUNT(NULL, errors, 1);
}

static void ca_fork_probe(void *data, struct task_struct *parent, struct task_struct *child)
{
	struct mm_struct *mm = child->mm;
	struct ca_policy *p, *n = NULL;

	if (!atomic_read(&ca_nr) || !mm || mm == parent->mm)
		return;	/* no policies, kernel thread, or CLONE_VM */

	rcu_read_lock();
	p = ca_find(parent->mm);
	if (p && !(p->flags & COWLAB_CA_NO_INHERIT)) {
		n = ca_alloc(mm, child, p, GFP_NOWAIT | __GFP_NOWARN);
		if (!n)
			CA_COUNT(p, errors, 1);
	}
	rcu_read_unlock();
	if (!n)
		return;
	spin_lock(&ca_table_lock);
	ca_insert_locked(n);
	spin_unlock(&ca_table_lock);
	/* The GC may have stopped when it last saw no policy: this one needs collecting too. */
	queue_delayed_work(cl_wq, &ca_gc_work, HZ);
}

static void ca_exec_probe(void *data, struct task_struct *task, pid_t old_pid,
			  struct linux_binprm *bprm)
{
	struct mm_struct *mm = task->mm;
	u64 start = task->group_leader->start_time;
	struct ca_policy *p, *old = NULL, *n = NULL;
	int bkt;

	if (!atomic_read(&ca_nr) || !mm)
		return;

	spin_lock(&ca_table_lock);
	hash_for_each(ca_table, bkt, p, node) {
		if (p->owner == task->tgid && p->owner_start == start && p->mm != mm) {
			old = p;
			break;
		}
	}
	if (old) {
		/* A policy is not carried into a program that gains privileges (setuid, caps). */
		if ((old->flags & COWLAB_CA_KEEP_EXEC) && !bprm->secureexec) {
			n = ca_alloc(mm, task, old, GFP_NOWAIT | __GFP_NOWARN);
			if (n) {
				ca_copy_counters(n, old);
				ca_insert_locked(n);
			} else {
				CA_COUNT(old, errors, 1);
			}
		}
		ca_bury_locked(old);
	}
	spin_unlock(&ca_table_lock);
	if (old)
		mod_delayed_work(cl_wq, &ca_gc_work, 0);
}

/* ---- ioctls -------------------------------------------------------------- */

static int ca_validate(const struct cowlab_cowahead_policy *pol)
{
	if (pol->flags & ~COWLAB_CA_FLAGS || pol->reserved)
		return -EINVAL;
	if (pol->window > COWLAB_CA_MAX_WINDOW)
		return -EINVAL;
	if (pol->flags & COWLAB_CA_RANGE) {
		if (pol->start >= pol->end || !PAGE_ALIGNED(pol->start) ||
		    !PAGE_ALIGNED(pol->end) || pol->end > TASK_SIZE_MAX)
			return -EINVAL;
	} else if (pol->start || pol->end) {
		return -EINVAL;
	}
	return 0;
}

/* The mm of @pid (0 = caller) if the caller may ptrace it; mmput() it. */
static struct mm_struct *ca_target_mm(pid_t pid, struct task_struct **taskp, int *err)
{
	struct task_struct *task = cowlab_get_target(pid, err);
	struct mm_struct *mm;

	if (!task)
		return NULL;
	mm = cowlab_task_mm(task, err);
	if (!mm) {
		put_task_struct(task);
		return NULL;
	}
	if (taskp)
		*taskp = task;
	else
		put_task_struct(task);
	return mm;
}

static long ca_ioctl_set(void __user *arg)
{
	struct cowlab_cowahead_policy pol;
	struct ca_policy tmpl = {}, *p, *old;
	struct task_struct *task;
	struct mm_struct *mm;
	int err = 0;

	if (copy_from_user(&pol, arg, sizeof(pol)))
		return -EFAULT;
	err = ca_validate(&pol);
	if (err)
		return err;
	mm = ca_target_mm(pol.pid, &task, &err);
	if (!mm)
		return err;

	p = NULL;
	if (pol.window) {
		tmpl.flags = pol.flags;
		tmpl.window = pol.window;
		tmpl.start = pol.start;
		tmpl.end = pol.end;
		p = ca_alloc(mm, task->group_leader, &tmpl, GFP_KERNEL);
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
	}
	spin_lock(&ca_table_lock);
	old = ca_find(mm);
	if (p) {
		if (old)
			ca_copy_counters(p, old);
		ca_insert_locked(p);
	}
	if (old)
		ca_bury_locked(old);
	spin_unlock(&ca_table_lock);
	mod_delayed_work(cl_wq, &ca_gc_work, old ? 0 : HZ);
out:
	put_task_struct(task);
	mmput(mm);
	return err;
}

static long ca_ioctl_get(void __user *arg)
{
	struct cowlab_cowahead_policy pol;
	struct ca_policy *p;
	struct mm_struct *mm;
	int err = 0;

	if (copy_from_user(&pol, arg, sizeof(pol)))
		return -EFAULT;
	mm = ca_target_mm(pol.pid, NULL, &err);
	if (!mm)
		return err;
	rcu_read_lock();
	p = ca_find(mm);
	if (p) {
		pol.flags = p->flags;
		pol.window = p->window;
		pol.reserved = 0;
		pol.start = p->start;
		pol.end = p->end;
	}
	rcu_read_unlock();
	mmput(mm);
	if (!p)
		return -ENOENT;
	return copy_to_user(arg, &pol, sizeof(pol)) ? -EFAULT : 0;
}

static void ca_fill_stats(struct cowlab_cowahead_stats *st, struct ca_counters *c)
{
	st->wp_faults = atomic64_read(&c->wp_faults);
	st->batches = atomic64_read(&c->batches);
	st->pages_broken = atomic64_read(&c->pages_broken);
	st->pages_skipped = atomic64_read(&c->pages_skipped);
	st->grows = atomic64_read(&c->grows);
	st->shrinks = atomic64_read(&c->shrinks);
	st->errors = atomic64_read(&c->errors);
}

static long ca_ioctl_stats(void __user *arg)
{
	struct cowlab_cowahead_stats st;
	struct ca_policy *p;
	struct mm_struct *mm;
	int err = 0;
	pid_t pid;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	pid = st.pid;
	memset(&st, 0, sizeof(st));
	st.pid = pid;
	if (pid == COWLAB_STATS_GLOBAL) {
		ca_fill_stats(&st, &ca_global);
		st.policies = atomic_read(&ca_nr);
	} else {
		mm = ca_target_mm(pid, NULL, &err);
		if (!mm)
			return err;
		rcu_read_lock();
		p = ca_find(mm);
		if (p) {
			ca_fill_stats(&st, &p->c);
			st.cur_window = READ_ONCE(p->cur_window);
		}
		rcu_read_unlock();
		mmput(mm);
		if (!p)
			return -ENOENT;
	}
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

long cowlab_cowahead_ioctl(unsigned int cmd, void __user *arg)
{
	if (cmd != COWLAB_IOC_CA_SET && cmd != COWLAB_IOC_CA_GET && cmd != COWLAB_IOC_CA_STATS)
		return -EINVAL;	/* right number, wrong size or direction */
	if (!ca_ready)
		return -EOPNOTSUPP;
	switch (cmd) {
	case COWLAB_IOC_CA_SET:
		return ca_ioctl_set(arg);
	case COWLAB_IOC_CA_GET:
		return ca_ioctl_get(arg);
	default:
		return ca_ioctl_stats(arg);
	}
}

/* ---- load and unload ---------------------------------------------------- */

static void ca_unregister(void)
{
	if (tp_exec)
		tracepoint_probe_unregister(tp_exec, ca_exec_probe, NULL);
	if (tp_fork)
		tracepoint_probe_unregister(tp_fork, ca_fork_probe, NULL);
	if (tp_fault)
		tracepoint_probe_unregister(tp_fault, ca_fault_probe, NULL);
	tracepoint_synchronize_unregister();
	tp_exec = NULL;
	tp_fork = NULL;
	tp_fault = NULL;
}

int cowlab_cowahead_init(void)
{
	struct tracepoint *fault, *fork, *exec;

	ca_work_cache = KMEM_CACHE(ca_work, 0);
	if (!ca_work_cache)
		return -ENOMEM;

	fault = cowlab_find_tracepoint("page_fault_user");
	fork = cowlab_find_tracepoint("sched_process_fork");
	exec = cowlab_find_tracepoint("sched_process_exec");
	if (!fault || !fork || !exec) {
		pr_warn("cow-ahead disabled: a tracepoint it needs is missing\n");
		return 0;
	}
	if (tracepoint_probe_register(fault, ca_fault_probe, NULL))
		goto fail;
	tp_fault = fault;
	if (tracepoint_probe_register(fork, ca_fork_probe, NULL))
		goto fail;
	tp_fork = fork;
	if (tracepoint_probe_register(exec, ca_exec_probe, NULL))
		goto fail;
	tp_exec = exec;
	ca_ready = true;
	return 0;
fail:
	pr_warn("cow-ahead disabled: tracepoint registration failed\n");
	ca_unregister();
	return 0;
}

void cowlab_cowahead_exit(void)
{
	struct ca_policy *p, *tmp;
	struct hlist_node *n;
	int bkt;

	ca_ready = false;
	ca_unregister();
	cancel_delayed_work_sync(&ca_gc_work);
	/*
	 * No work is pending (each holds a module reference), but the one that
	 * dropped the last may still be returning through ca_work_fn(): wait
	 * until every task has passed a voluntary context switch (preemptible
	 * kernels) or every CPU a quiescent state (the others).
	 */
#ifdef CONFIG_TASKS_RCU
	synchronize_rcu_tasks();
#else
	synchronize_rcu();
#endif

	spin_lock(&ca_table_lock);
	hash_for_each_safe(ca_table, bkt, n, p, node)
		ca_bury_locked(p);
	spin_unlock(&ca_table_lock);
	synchronize_rcu();
	list_for_each_entry_safe(p, tmp, &ca_graveyard, grave) {
		list_del(&p->grave);
		mmdrop(p->mm);
		kfree(p);
	}
	kmem_cache_destroy(ca_work_cache);
}
