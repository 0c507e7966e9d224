// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab: refork, the incremental and preemptible re-synchronisation of a
 * speculative child C with its parent P (Fraser & Chang, USENIX ATC 2003),
 * on stock kernels.
 *
 * How a sync works (rf_sync()):
 *   - P holds mmap_write_lock on its mm and then, nested, on C's, like
 *     dup_mmap(); on 6.4+ every covered VMA of both is also write-locked
 *     (vma_start_write) so that per-VMA-lock page faults are excluded too.
 *   - Each covered VMA of P must have its twin in C: same bounds, file, offset
 *     and protection, and C linked into P's anon_vma (else rmap would miss C's
 *     mappings). The layout of covered mappings must also be what C saw when it
 *     registered. Otherwise ESTALE: the caller forks again.
 *   - For each page-table range (<= 2 MiB), the entries of P and C are compared
 *     without locks: the decision is only a hint (a race with reclaim or
 *     migration changes both or leads to a harmless re-copy). Two entries are
 *     "the same" when both are none, both map the same page read-only, or both
 *     hold the same swap entry; a PMD-mapped huge page is compared as a unit.
 *   - Each run of differing entries is zapped in C (the kernel's zap, which
 *     flushes C's TLB) and copied from P by the kernel's own copy_page_range()
 *     on copies of the two VMAs narrowed to the run: the same code fork() runs,
 *     so P's writable pages are write-protected and shared, pinned pages are
 *     copied, swap entries duplicated, THPs shared, counters kept right.
 *   - P's TLB is flushed before the locks are dropped (dup_mmap does the same).
 *   - After every range: cond_resched(), then the stop conditions (budget,
 *     pending signal, stop word through a pinned page). A stopped sync keeps
 *     its cursor; the next call starts there and goes round to it, so ranges
 *     already in sync cost only the comparison.
 *
 * Lifetime: C registers itself with its first RF_WAIT (struct rf_child, found
 * by task). A sync holds child->lock for its whole length; C takes the same
 * lock to leave RF_WAIT, so C never runs while its memory is being rewritten.
 * Entries of exited tasks are collected on the next lookup and at unload.
 */
#define pr_fmt(fmt) "cowlab: " fmt

#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/kprobes.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mmu_notifier.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/static_call.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
/*
 * struct mmu_gather, for the table free below. x86's asm/tlb.h has an inline tlb_flush()
 * that calls flush_tlb_mm_range(), whose declaration asm/tlbflush.h hides from modules;
 * declare it so the header compiles. Nothing here calls it by name: an unused static
 * inline is not emitted, and the module reaches the function only through its static call.
 */
void flush_tlb_mm_range(struct mm_struct *mm, unsigned long start, unsigned long end,
			unsigned int stride_shift, bool freed_tables);
#include <asm/tlb.h>

#include "compat.h"
#include "cowlab.h"
#include "trace.h"

DEFINE_STATIC_CALL_NULL(cowlab_copy_page_range, copy_page_range);
/*
 * x86's flush_tlb_mm_range() (flush_tlb_mm() is a macro around it) is neither
 * exported nor declared for modules (asm/tlbflush.h hides it under !MODULE):
 * this function type gives the static call its signature.
 */
typedef void cowlab_flush_tlb_mm_range_t(struct mm_struct *mm, unsigned long start,
					 unsigned long end, unsigned int stride_shift,
					 bool freed_tables);
DEFINE_STATIC_CALL_NULL(cowlab_flush_tlb_mm_range, cowlab_flush_tlb_mm_range_t);
/*
 * Freeing one of C's PTE tables the way munmap does (mm/memory.c free_pgd_range() through an
 * mmu_gather: pmd cleared, nr_ptes and the memcg/NR_PAGETABLE accounting dropped, the TLB
 * and paging-structure caches flushed, the page freed after an RCU grace period for
 * lockless walkers). None of the three is exported.
 */
DEFINE_STATIC_CALL_NULL(cowlab_tlb_gather_mmu, tlb_gather_mmu);
DEFINE_STATIC_CALL_NULL(cowlab_tlb_finish_mmu, tlb_finish_mmu);
DEFINE_STATIC_CALL_NULL(cowlab_free_pgd_range, free_pgd_range);
/*
 * In-place re-sync (rf_inplace()): the rmap removal zap uses, vm_normal_page() and the
 * mmu-notifier range calls, none exported. Missing, the in-place path is off and every
 * difference is a run.
 */
DEFINE_STATIC_CALL_NULL(cowlab_remove_rmap, cl_remove_rmap_t);
DEFINE_STATIC_CALL_NULL(cowlab_vm_normal_page, vm_normal_page);
#ifdef CONFIG_MMU_NOTIFIER
DEFINE_STATIC_CALL_NULL(cowlab_mn_start, cl_mn_start_t);
DEFINE_STATIC_CALL_NULL(cowlab_mn_end, cl_mn_end_t);
#endif
static bool rf_inplace_ready;

/*
 * Never covered. A user shadow stack (x86 CET, 6.6+) is a private anonymous
 * writable VMA like any other, but it must stay C's own, like the stack: C's
 * SSP points into it, and P's return addresses there would trap C's first ret.
 */
#define RF_VMA_SKIP	(VM_SHARED | VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB | \
			 VM_DONTCOPY | VM_WIPEONFORK | VM_GROWSDOWN | VM_GROWSUP | \
			 VM_UFFD_MISSING | VM_UFFD_WP | RF_VM_UFFD_MINOR | RF_VM_SHADOW_STACK)
#ifdef VM_SHADOW_STACK
#define RF_VM_SHADOW_STACK VM_SHADOW_STACK
#else
#define RF_VM_SHADOW_STACK 0
#endif
#if defined(CONFIG_X86_USER_SHADOW_STACK) && !defined(VM_SHADOW_STACK)
#error "user shadow stacks without VM_SHADOW_STACK: refork would cover them"
#endif
#ifdef VM_UFFD_MINOR
#define RF_VM_UFFD_MINOR VM_UFFD_MINOR
#else
#define RF_VM_UFFD_MINOR 0
#endif
/* Flags a twin must share (fork clears VM_LOCKED and the uffd flags in C). */
#define RF_VMA_SAME	(VM_READ | VM_WRITE | VM_EXEC | VM_SHARED | VM_MAYWRITE | VM_MAYSHARE)

#define RF_MAX_LAYOUT	65536

struct rf_span {
	unsigned long start, end;
};

struct rf_child {
	struct list_head node;
	struct kref ref;
	struct task_struct *task;	/* C, referenced */
	struct mm_struct *mm;		/* C's mm at registration, mmgrab'ed */
	pid_t parent_tgid;		/* P */
	struct mutex lock;		/* held by a sync; C takes it to leave RF_WAIT */
	wait_queue_head_t wq;
	u64 gen;			/* complete syncs */
	bool parked;			/* C is inside RF_WAIT */
	bool broken;			/* a sync failed half-way: C is incomplete */
	unsigned long cursor;		/* where a partial sync stopped, 0 = start */
	unsigned int nr_layout;
	struct rf_span *layout;		/* C's covered mappings at registration */
	struct rf_track *track;		/* what changed since the last sync, or NULL */
};

/* ---- change tracking ----------------------------------------------------------
 *
 * A sync compares only the chunks (COWLAB_RF_CHUNK_SIZE, 64 KiB: 16 entries of a
 * page table) of the covered mappings that may have changed since the last one.
 * (2 MiB chunks made a sync at 1% of pages changed compare every entry: random
 * changes touch every PMD; a 64 KiB chunk costs a bit per 16 pages.) What marks a
 * chunk: an mmu-notifier invalidation of P's or C's mm over it (zap, COW break,
 * swap-out, migration, THP split and collapse, mprotect, NUMA hinting, KSM, a fork
 * of P), at its start and again at its end (a sync can run between the two), any
 * page fault in it (handle_mm_fault, by a kprobe registered while some child is
 * tracked: faults into empty entries and write-fault reuse change entries without
 * an invalidation), and userfaultfd's fills (rf_uffd_pre). The sync's own zap and
 * copy of the run it re-copies (P's task, inside that run's range) are not marked:
 * the run is in sync when it is done. A sync clears a
 * chunk's mark before comparing it, so a change during the comparison marks it
 * again; a sync that stops inside a chunk marks it again. Soft-dirty bits are
 * left to their owner. Without a kprobe, or when a notifier cannot be
 * registered, the child is not tracked and every sync compares everything.
 */
struct rf_track {
	struct list_head node;		/* rf_tracks, RCU */
	struct mmu_notifier pmn, cmn;	/* on P's mm and on C's */
	struct mm_struct *pmm, *cmm;	/* mmgrab'ed */
	bool p_reg, c_reg;
	struct task_struct *syncer;	/* P's task while it syncs */
	unsigned long run_lo, run_hi;	/* the run it re-copies now (0, 0: none) */
	unsigned int nr;
	const struct rf_span *span;	/* the child's layout: sorted, disjoint */
	unsigned int hint;		/* rf_span_find()'s last answer (racy: checked) */
	unsigned long *first;		/* span i's first chunk bit */
	unsigned long nbits;
	unsigned long *dirty;
	unsigned long *pdirty;		/* a bit per page (chunk b's: RF_CHUNK_PAGES * b on) */
};

static LIST_HEAD(rf_tracks);
static DEFINE_SPINLOCK(rf_tracks_lock);
static atomic_t rf_nr_tracks = ATOMIC_INIT(0);
static DEFINE_MUTEX(rf_probe_lock);

#define RF_CHUNK_SHIFT	16
#define RF_CHUNK_MASK	(~((1UL << RF_CHUNK_SHIFT) - 1))
static_assert((1UL << RF_CHUNK_SHIFT) == COWLAB_RF_CHUNK_SIZE);
static_assert(RF_CHUNK_SHIFT >= PAGE_SHIFT && RF_CHUNK_SHIFT <= PMD_SHIFT);

static unsigned long rf_span_chunks(const struct rf_span *sp)
{
	return (ALIGN(sp->end, 1UL << RF_CHUNK_SHIFT) - (sp->start & RF_CHUNK_MASK)) >>
	       RF_CHUNK_SHIFT;
}

/*
 * Page marks. A marked chunk says which of its pages may have changed: each mark sets the
 * bits of its pages as well, before the chunk's, and a sync that clears a chunk's mark
 * then takes (clears) its pages' bits and compares only those entries (at 0.1% changed at
 * random, one of the chunk's 16). Bits set and never taken (a chunk compared whole by a
 * run, or only partly inside a step) cost a comparison later, never a miss. A child whose
 * covered spans would need more than RF_PDIRTY_MAX page bits (64 GiB covered: 2 MiB of
 * them) has none, and its marked chunks are compared whole.
 */
#define RF_CHUNK_PAGES	(1UL << (RF_CHUNK_SHIFT - PAGE_SHIFT))
#define RF_PDIRTY_MAX	(16UL << 20)

/* The page bit of @addr in span @i. */
static unsigned long rf_track_pbit(const struct rf_track *t, unsigned int i, unsigned long addr)
{
	return t->first[i] * RF_CHUNK_PAGES +
	       ((addr - (t->span[i].start & RF_CHUNK_MASK)) >> PAGE_SHIFT);
}

/* The mask of bits [s, n) inside word @w of a bitmap. */
static unsigned long rf_word_mask(unsigned long w, unsigned long s, unsigned long n)
{
	unsigned long m = ~0UL;

	if (w == BIT_WORD(s))
		m &= BITMAP_FIRST_WORD_MASK(s);
	if (w == BIT_WORD(n - 1))
		m &= BITMAP_LAST_WORD_MASK(n);
	return m;
}

/* Set bits [s, n) of @map, a word at a time (atomic: a sync takes them meanwhile). */
static void rf_bits_set(unsigned long *map, unsigned long s, unsigned long n)
{
	unsigned long w;

	for (w = BIT_WORD(s); w <= BIT_WORD(n - 1); w++) {
		unsigned long m = rf_word_mask(w, s, n);

		if (m & ~READ_ONCE(map[w]))
			set_mask_bits(&map[w], 0UL, m);
	}
}

/*
 * The first span that ends after @addr. A sync's steps ask for one span many times in a
 * row (three to four times a step), so the last answer is tried first.
 */
static unsigned int rf_span_find(struct rf_track *t, unsigned long addr)
{
	unsigned int lo = 0, hi = t->nr, h = READ_ONCE(t->hint);

	if (h < hi && t->span[h].end > addr && (!h || t->span[h - 1].end <= addr))
		return h;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (t->span[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo != h)
		WRITE_ONCE(t->hint, lo);
	return lo;
}

static void rf_track_mark(struct rf_track *t, unsigned long start, unsigned long end)
{
	unsigned int i;

	for (i = rf_span_find(t, start); i < t->nr && t->span[i].start < end; i++) {
		unsigned long base = t->span[i].start & RF_CHUNK_MASK;
		unsigned long s = max(start, t->span[i].start), e = min(end, t->span[i].end);
		unsigned long b;

		if (t->pdirty) {
			rf_bits_set(t->pdirty, rf_track_pbit(t, i, s), rf_track_pbit(t, i, e - 1) + 1);
			smp_mb__before_atomic();	/* the pages' bits before the chunks' */
		}
		/* atomic: a sync clears bits meanwhile (test_and_clear_bit) */
		for (b = (s - base) >> RF_CHUNK_SHIFT; b <= (e - 1 - base) >> RF_CHUNK_SHIFT; b++)
			set_bit(t->first[i] + b, t->dirty);
	}
}

/*
 * The first address at or after @a, below @end, that a sync must look at: inside a marked
 * chunk, or outside every span (not tracked: always compared). @end if there is none.
 */
static unsigned long rf_track_next(struct rf_track *t, unsigned long a, unsigned long end)
{
	unsigned int i = rf_span_find(t, a);

	while (a < end) {
		unsigned long base, b, last, nb;

		if (i == t->nr || t->span[i].start > a)
			return a;
		base = t->span[i].start & RF_CHUNK_MASK;
		b = t->first[i] + ((a - base) >> RF_CHUNK_SHIFT);
		last = t->first[i] + rf_span_chunks(&t->span[i]);
		nb = find_next_bit(t->dirty, last, b);
		if (nb < last)
			return min(max(a, base + ((nb - t->first[i]) << RF_CHUNK_SHIFT)), end);
		a = t->span[i++].end;
	}
	return end;
}

/* The chunk bit of @addr, and the chunk's part inside its span; -1 outside every span. */
static long rf_track_bit(struct rf_track *t, unsigned long addr, unsigned long *cs,
			 unsigned long *ce)
{
	unsigned int i = rf_span_find(t, addr);
	unsigned long base, b;

	if (i == t->nr || t->span[i].start > addr)
		return -1;
	base = t->span[i].start & RF_CHUNK_MASK;
	b = (addr - base) >> RF_CHUNK_SHIFT;
	*cs = max(base + (b << RF_CHUNK_SHIFT), t->span[i].start);
	*ce = min(base + ((b + 1) << RF_CHUNK_SHIFT), t->span[i].end);
	return t->first[i] + b;
}

/* The page marks a step took: entry k of the range at @start is bit @off + k of @map. */
struct rf_pmask {
	unsigned long start, off;
	unsigned long map[BITS_TO_LONGS(PTRS_PER_PTE) + 1];
};

/*
 * Take the page marks of [a, e) (at most a PMD's): cleared, and kept in @pm; false when
 * there are none (or [a, e) is not inside one span). The caller cleared the chunks' marks
 * first: a mark meanwhile sets its pages' bits before its chunk's, so its pages are taken
 * here or its chunk stays marked, with them, for the next sync.
 */
static bool rf_track_take(struct rf_track *t, unsigned long a, unsigned long e,
			  struct rf_pmask *pm)
{
	unsigned int i = rf_span_find(t, a);
	unsigned long s, n, w, k;

	if (!t->pdirty || i == t->nr || t->span[i].start > a || e > t->span[i].end ||
	    e - a > PMD_SIZE)
		return false;
	s = rf_track_pbit(t, i, a);
	n = s + ((e - a) >> PAGE_SHIFT);
	pm->start = a;
	pm->off = s % BITS_PER_LONG;
	for (w = BIT_WORD(s), k = 0; w <= BIT_WORD(n - 1); w++, k++) {
		unsigned long m = rf_word_mask(w, s, n);

		pm->map[k] = READ_ONCE(t->pdirty[w]) & m ? set_mask_bits(&t->pdirty[w], m, 0UL) & m
							  : 0;
	}
	return true;
}

#ifdef CONFIG_MMU_NOTIFIER
/*
 * Only the sync's own zap and copy of the run it re-copies are not marked: P's task may
 * change other entries while it syncs (direct reclaim in an allocation: seen once on the
 * debug kernel, an entry missed when every event of P's task was ignored).
 */
static void rf_track_event(struct rf_track *t, const struct mmu_notifier_range *r)
{
	if (READ_ONCE(t->syncer) == current && r->start >= READ_ONCE(t->run_lo) &&
	    r->end <= READ_ONCE(t->run_hi))
		return;
	rf_track_mark(t, r->start, r->end);
}

static int rf_mn_start_p(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	rf_track_event(container_of(mn, struct rf_track, pmn), r);
	return 0;
}

static void rf_mn_end_p(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	rf_track_event(container_of(mn, struct rf_track, pmn), r);
}

static int rf_mn_start_c(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	rf_track_event(container_of(mn, struct rf_track, cmn), r);
	return 0;
}

static void rf_mn_end_c(struct mmu_notifier *mn, const struct mmu_notifier_range *r)
{
	rf_track_event(container_of(mn, struct rf_track, cmn), r);
}

static const struct mmu_notifier_ops rf_mn_p_ops = {
	.invalidate_range_start = rf_mn_start_p,
	.invalidate_range_end = rf_mn_end_p,
};

static const struct mmu_notifier_ops rf_mn_c_ops = {
	.invalidate_range_start = rf_mn_start_c,
	.invalidate_range_end = rf_mn_end_c,
};
#endif

static pmd_t *rf_pmdp(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	if (pgd_none(READ_ONCE(*pgd)) || pgd_bad(READ_ONCE(*pgd)))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(READ_ONCE(*p4d)) || p4d_bad(READ_ONCE(*p4d)))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(READ_ONCE(*pud)) || !pud_present(READ_ONCE(*pud)) ||
	    pud_trans_huge(READ_ONCE(*pud)) || pud_bad(READ_ONCE(*pud)))
		return NULL;
	return pmd_offset(pud, addr);
}

/* A PMD that points to a PTE table (none counts: read as empty entries). */
static __always_inline bool rf_pmd_table(pmd_t pmd)
{
	return pmd_none(pmd) || (pmd_present(pmd) && !pmd_trans_huge(pmd) && !cl_pmd_devmap(pmd) &&
				 !pmd_bad(pmd));
}

/*
 * What one fault at @addr may change: only its own entry when that is present (a COW
 * break, a write-protect or NUMA-hinting fault, a huge PMD's fault: a PMD is one step of
 * a sync whichever of its chunks is marked). An empty entry may be filled together with
 * its neighbours, up to the whole page table inside the VMA: a read fault in a file
 * mapping maps a fault-around window (fault_around_bytes, up to 2 MiB, and from the
 * VMA's start when that is not aligned) and, on 6.18+, a large folio whole; an anonymous
 * fault may allocate an mTHP, mapped writable (its other pages then change without a
 * fault). A swapped-out entry may be swapped in with a large folio found in the swap
 * cache, whose entries are the neighbours holding the next and previous slots: those.
 * (7.3 with only the faulting chunk marked: 336 entries missed after a read fault in a
 * private file mapping, found by the stress lane's VERIFY.)
 * The walk is lockless: the caller holds the VMA's lock or mmap_lock, which keeps the
 * upper tables; a PTE table freed meanwhile is freed after an RCU grace period, and a
 * kprobe handler runs with preemption off.
 */
static void rf_fault_span(struct vm_area_struct *vma, unsigned long addr, unsigned long *s,
			  unsigned long *e)
{
	pmd_t *pmdp = rf_pmdp(vma->vm_mm, addr);
	pmd_t pmd = pmdp ? READ_ONCE(*pmdp) : __pmd(0);
	unsigned long lo = max(addr & PMD_MASK, vma->vm_start);
	unsigned long hi = min((addr & PMD_MASK) + PMD_SIZE, vma->vm_end);
	unsigned long slot, v;
	pte_t *ptep, pte;
	long i;

	addr &= PAGE_MASK;
	*s = addr;
	*e = addr + PAGE_SIZE;
	if (!pmd_none(pmd) && !rf_pmd_table(pmd) && pmd_present(pmd))
		return;		/* a huge PMD */
	if (pmd_none(pmd) || !rf_pmd_table(pmd)) {
		*s = lo;
		*e = hi;
		return;
	}
	ptep = pte_offset_kernel(&pmd, addr);
	pte = ptep_get_lockless(ptep);
	if (pte_present(pte)) {
		/*
		 * A fault on a present entry of a small folio in an anonymous VMA changes that
		 * entry only (a COW break or reuse, an access bit). The rest mark the PMD's
		 * part: a NUMA hinting fault on a large folio restores its neighbours too
		 * (6.10+), and the entry may be zapped while the fault runs, by another user
		 * of the mm or, in a file mapping, by a hole punch, and then filled with its
		 * neighbours (fault-around, an mTHP).
		 */
		unsigned long pfn = pte_pfn(pte);

		if (!vma_is_anonymous(vma) || pte_protnone(pte) ||
		    atomic_read(&vma->vm_mm->mm_users) > 1 || !pfn_valid(pfn) ||
		    PageCompound(pfn_to_page(pfn))) {
			*s = lo;
			*e = hi;
		}
		return;
	}
	if (!cl_pte_swap_slot(pte, &slot)) {
		*s = lo;	/* empty, or a migration or other non-swap entry */
		*e = hi;
		return;
	}
	for (i = 1; i <= (long)((addr - lo) >> PAGE_SHIFT); i++)
		if (!cl_pte_swap_slot(ptep_get_lockless(ptep - i), &v) || v != slot - i)
			break;
	*s = addr - (i - 1) * PAGE_SIZE;
	for (i = 1; i < (long)((hi - addr) >> PAGE_SHIFT); i++)
		if (!cl_pte_swap_slot(ptep_get_lockless(ptep + i), &v) || v != slot + i)
			break;
	*e = addr + i * PAGE_SIZE;
}

/* handle_mm_fault(vma, address, flags, regs): mark what the fault may change in a tracked mm. */
static int rf_fault_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct vm_area_struct *vma = (void *)regs_get_kernel_argument(regs, 0);
	unsigned long addr = regs_get_kernel_argument(regs, 1);
	unsigned long s = 0, e = 0;
	struct rf_track *t;
	struct mm_struct *mm;

	if (!atomic_read(&rf_nr_tracks) || !vma)
		return 0;
	mm = READ_ONCE(vma->vm_mm);
	rcu_read_lock();
	list_for_each_entry_rcu(t, &rf_tracks, node) {
		if (t->pmm != mm && t->cmm != mm)
			continue;
		if (!e)
			rf_fault_span(vma, addr, &s, &e);
		rf_track_mark(t, s, e);
	}
	rcu_read_unlock();
	return 0;
}

#ifdef CONFIG_USERFAULTFD
/*
 * userfaultfd fills entries with no fault of the mm's and no invalidation (UFFDIO_COPY,
 * ZEROPAGE, POISON, CONTINUE; MOVE's destination: mm/userfaultfd.c, "No need to
 * invalidate"). The range is registered with userfaultfd throughout, so not covered: a sync
 * meanwhile fails (ESTALE, or EINVAL for its ranges) and clears no mark. Marking it once,
 * before, is therefore enough: on 6.1 each fill (its mm, start and length), on 6.12 and
 * 7.3 the registration and the unregistration (the VMA's uffd flags change in
 * vma_modify_flags_uffd(): its VMA, start and end), which also covers MOVE.
 */
static int rf_uffd_pre(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned long s, e;
	struct rf_track *t;
	struct mm_struct *mm;

	if (!atomic_read(&rf_nr_tracks))
		return 0;
	mm = cl_uffd_range(kp->symbol_name, regs, &s, &e);
	if (!mm || e <= s)
		return 0;
	rcu_read_lock();
	list_for_each_entry_rcu(t, &rf_tracks, node)
		if (t->pmm == mm || t->cmm == mm)
			rf_track_mark(t, s, e);
	rcu_read_unlock();
	return 0;
}

static const char *const rf_uffd_names[] = { CL_UFFD_PROBES };
static struct kprobe rf_uffd_kp[ARRAY_SIZE(rf_uffd_names)];
#endif

static struct kprobe rf_fault_kp = {
	.symbol_name = "handle_mm_fault",
	.pre_handler = rf_fault_pre,
};

/*
 * The probes are registered when the first child is tracked and stay until unload: their
 * handlers return at once while no child is tracked. (Registering and unregistering them
 * with every child, the struct cleared in between, was followed on 6.12 by a call through
 * a NULL pointer from do_user_addr_fault: under QEMU TCG a stale int3 of ftrace's patching
 * of handle_mm_fault's call site, taken by kprobe_int3_handler for this ftrace-based probe,
 * docs/testing.md. Once is enough, and simpler.) If one cannot be registered, none is and
 * no child is tracked (every sync compares everything), for good.
 */
static bool rf_probe_on, rf_probe_failed;

static bool rf_probe_get(void)
{
	const char *what = "handle_mm_fault";
	bool ok;

	mutex_lock(&rf_probe_lock);
	if (!rf_probe_on && !rf_probe_failed) {
		int ret = register_kprobe(&rf_fault_kp);
#ifdef CONFIG_USERFAULTFD
		unsigned int i;

		for (i = 0; !ret && i < ARRAY_SIZE(rf_uffd_kp); i++) {
			rf_uffd_kp[i].symbol_name = rf_uffd_names[i];
			rf_uffd_kp[i].pre_handler = rf_uffd_pre;
			ret = register_kprobe(&rf_uffd_kp[i]);
			if (ret) {
				what = rf_uffd_names[i];
				while (i--)
					unregister_kprobe(&rf_uffd_kp[i]);
				unregister_kprobe(&rf_fault_kp);
			}
		}
#endif
		rf_probe_on = !ret;
		rf_probe_failed = !!ret;
	}
	ok = rf_probe_on;
	if (!ok)
		pr_warn_once("refork change tracking off: no kprobe on %s\n", what);
	mutex_unlock(&rf_probe_lock);
	return ok;
}

static void rf_probe_exit(void)
{
	mutex_lock(&rf_probe_lock);
	if (rf_probe_on) {
#ifdef CONFIG_USERFAULTFD
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(rf_uffd_kp); i++)
			unregister_kprobe(&rf_uffd_kp[i]);
#endif
		unregister_kprobe(&rf_fault_kp);
	}
	rf_probe_on = false;
	mutex_unlock(&rf_probe_lock);
}

static void rf_track_free(struct rf_track *t)
{
	if (!t)
		return;
	spin_lock(&rf_tracks_lock);
	if (!list_empty(&t->node)) {
		list_del_rcu(&t->node);
		atomic_dec(&rf_nr_tracks);
	}
	spin_unlock(&rf_tracks_lock);
#ifdef CONFIG_MMU_NOTIFIER
	if (t->c_reg)
		mmu_notifier_unregister(&t->cmn, t->cmm);	/* waits for callbacks */
	if (t->p_reg)
		mmu_notifier_unregister(&t->pmn, t->pmm);
#endif
	synchronize_rcu();	/* the fault probe walks rf_tracks under RCU */
	if (t->pmm)
		mmdrop(t->pmm);
	mmdrop(t->cmm);
	kvfree(t->pdirty);
	kvfree(t->dirty);
	kvfree(t->first);
	kfree(t);
}

/* Tracking for the child registering now (current, mm @cmm) and its parent; NULL if not. */
static struct rf_track *rf_track_new(const struct rf_span *span, unsigned int nr,
				     struct mm_struct *cmm)
{
	struct task_struct *parent;
	struct mm_struct *pmm;
	struct rf_track *t;
	unsigned int i;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return NULL;
	INIT_LIST_HEAD(&t->node);
	mmgrab(cmm);
	t->cmm = cmm;
	t->span = span;
	t->nr = nr;
	t->first = kvmalloc_array(max(nr, 1U), sizeof(*t->first), GFP_KERNEL);
	if (!t->first)
		goto fail;
	for (i = 0; i < nr; i++) {
		t->first[i] = t->nbits;
		t->nbits += rf_span_chunks(&span[i]);
	}
	t->dirty = kvmalloc_array(max(BITS_TO_LONGS(t->nbits), 1UL), sizeof(long), GFP_KERNEL);
	if (!t->dirty)
		goto fail;
	bitmap_fill(t->dirty, t->nbits);	/* the first sync compares everything */
	if (t->nbits * RF_CHUNK_PAGES <= RF_PDIRTY_MAX) {
		t->pdirty = kvmalloc_array(max(BITS_TO_LONGS(t->nbits * RF_CHUNK_PAGES), 1UL),
					   sizeof(long), GFP_KERNEL | __GFP_NOWARN);
		if (t->pdirty)
			bitmap_fill(t->pdirty, t->nbits * RF_CHUNK_PAGES);
	}

	rcu_read_lock();
	parent = rcu_dereference(current->real_parent);
	get_task_struct(parent);
	rcu_read_unlock();
	pmm = get_task_mm(parent);
	put_task_struct(parent);
	if (!pmm)
		goto fail;
	mmgrab(pmm);
	t->pmm = pmm;
#ifndef CONFIG_MMU_NOTIFIER
	pr_warn_once("refork change tracking off: the kernel has no MMU notifiers\n");
	goto fail_mm;
#endif
	if (!rf_probe_get())
		goto fail_mm;
#ifdef CONFIG_MMU_NOTIFIER
	t->pmn.ops = &rf_mn_p_ops;
	t->cmn.ops = &rf_mn_c_ops;
	t->p_reg = !mmu_notifier_register(&t->pmn, pmm);
	t->c_reg = t->p_reg && !mmu_notifier_register(&t->cmn, cmm);
#endif
	mmput(pmm);
	if (!t->c_reg)
		goto fail;
	spin_lock(&rf_tracks_lock);
	list_add_rcu(&t->node, &rf_tracks);
	atomic_inc(&rf_nr_tracks);
	spin_unlock(&rf_tracks_lock);
	return t;
fail_mm:
	mmput(pmm);
fail:
	rf_track_free(t);
	return NULL;
}

static LIST_HEAD(rf_children);
static DEFINE_MUTEX(rf_children_lock);
static bool rf_ready;

static void rf_gc_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(rf_gc_work, rf_gc_fn);

bool cowlab_refork_ready(void)
{
	return rf_ready;
}

static void rf_child_free(struct kref *ref)
{
	struct rf_child *ch = container_of(ref, struct rf_child, ref);

	rf_track_free(ch->track);
	put_task_struct(ch->task);
	mmdrop(ch->mm);
	kvfree(ch->layout);
	kfree(ch);
}

static void rf_child_put(struct rf_child *ch)
{
	kref_put(&ch->ref, rf_child_free);
}

/* Drop the list's reference to entries whose task has exited. Under rf_children_lock. */
static void rf_gc_locked(void)
{
	struct rf_child *ch, *tmp;

	list_for_each_entry_safe(ch, tmp, &rf_children, node) {
		if (!READ_ONCE(ch->task->exit_state) && !(READ_ONCE(ch->task->flags) & PF_EXITING))
			continue;
		list_del(&ch->node);
		rf_child_put(ch);
	}
}

/*
 * Entries of children that exited are dropped by every lookup and, so that
 * they do not hold a task_struct and an mm_struct until the next one, by
 * this work, every second while the list is not empty.
 */
static void rf_gc_fn(struct work_struct *work)
{
	bool more;

	mutex_lock(&rf_children_lock);
	rf_gc_locked();
	more = !list_empty(&rf_children);
	mutex_unlock(&rf_children_lock);
	if (more && READ_ONCE(rf_ready))
		queue_delayed_work(cl_wq, &rf_gc_work, HZ);
}

/* The live entry for @task (its mm is @mm), with a reference, or NULL. */
static struct rf_child *rf_find(struct task_struct *task)
{
	struct rf_child *ch, *found = NULL;

	mutex_lock(&rf_children_lock);
	rf_gc_locked();
	list_for_each_entry(ch, &rf_children, node) {
		if (ch->task == task) {
			found = ch;
			kref_get(&found->ref);
			break;
		}
	}
	mutex_unlock(&rf_children_lock);
	return found;
}

static bool rf_vma_covered(struct mm_struct *mm, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_WRITE) || (vma->vm_flags & RF_VMA_SKIP))
		return false;
	/* The main stack (its VMA may lack VM_GROWSDOWN on some architectures). */
	if (vma->vm_start <= mm->start_stack && mm->start_stack < vma->vm_end)
		return false;
	return true;
}

/* C's covered mappings, taken when C registers (its layout then is P's at fork). */
static int rf_snapshot(struct mm_struct *mm, struct rf_span **out, unsigned int *nr)
{
	struct vm_area_struct *vma;
	struct rf_span *s;
	unsigned int n = 0, cap = 0;
	int ret = 0;

	mmap_read_lock(mm);
	{
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma)
			if (rf_vma_covered(mm, vma))
				cap++;
	}
	if (cap > RF_MAX_LAYOUT) {
		ret = -E2BIG;
		goto out;
	}
	s = kvmalloc_array(max(cap, 1U), sizeof(*s), GFP_KERNEL);
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	{
		VMA_ITERATOR(vmi, mm, 0);

		for_each_vma(vmi, vma) {
			if (!rf_vma_covered(mm, vma) || n == cap)
				continue;
			s[n].start = vma->vm_start;
			s[n].end = vma->vm_end;
			n++;
		}
	}
	*out = s;
	*nr = n;
out:
	mmap_read_unlock(mm);
	return ret;
}

static bool rf_parent_gone(struct rf_child *ch);

/* The caller's entry: found, or created when it registers with its first RF_WAIT. */
static struct rf_child *rf_register(int *err)
{
	struct rf_child *ch, *old;
	struct mm_struct *mm = current->mm;

	ch = rf_find(current);
	if (ch && ch->mm == mm)
		return ch;
	if (ch) {
		/* It exec'd since: forget the old registration. */
		mutex_lock(&rf_children_lock);
		if (!list_empty(&ch->node)) {
			list_del_init(&ch->node);
			rf_child_put(ch);
		}
		mutex_unlock(&rf_children_lock);
		rf_child_put(ch);
	}

	ch = kzalloc(sizeof(*ch), GFP_KERNEL);
	if (!ch) {
		*err = -ENOMEM;
		return NULL;
	}
	/* P is the parent when registration starts: one that died meanwhile is gone (below). */
	rcu_read_lock();
	ch->parent_tgid = rcu_dereference(current->real_parent)->tgid;
	rcu_read_unlock();
	*err = rf_snapshot(mm, &ch->layout, &ch->nr_layout);
	if (*err) {
		kfree(ch);
		return NULL;
	}
	ch->track = rf_track_new(ch->layout, ch->nr_layout, mm);
	kref_init(&ch->ref);		/* the list's */
	mutex_init(&ch->lock);
	init_waitqueue_head(&ch->wq);
	get_task_struct(current);
	ch->task = current;
	mmgrab(mm);
	ch->mm = mm;
	if (rf_parent_gone(ch)) {
		/* Reparented while registering: the new parent is not the P it was forked from. */
		rf_child_free(&ch->ref);
		*err = -ESRCH;
		return NULL;
	}

	mutex_lock(&rf_children_lock);
	list_for_each_entry(old, &rf_children, node) {
		if (old->task == current) {	/* another thread of ours registered meanwhile */
			kref_get(&old->ref);
			mutex_unlock(&rf_children_lock);
			rf_child_free(&ch->ref);
			return old;
		}
	}
	list_add(&ch->node, &rf_children);
	kref_get(&ch->ref);		/* the caller's */
	mutex_unlock(&rf_children_lock);
	queue_delayed_work(cl_wq, &rf_gc_work, HZ);
	return ch;
}

static bool rf_parent_gone(struct rf_child *ch)
{
	bool gone;

	rcu_read_lock();
	gone = rcu_dereference(current->real_parent)->tgid != ch->parent_tgid;
	rcu_read_unlock();
	return gone;
}

/* ---- RF_WAIT ---------------------------------------------------------------- */

static long rf_ioctl_wait(void __user *arg)
{
	struct cowlab_rf_wait w;
	struct rf_child *ch;
	u64 deadline = 0;
	long ret = 0;
	int err;

	if (copy_from_user(&w, arg, sizeof(w)))
		return -EFAULT;
	if (w.flags || w.state)
		return -EINVAL;
	if (!current->mm)
		return -EINVAL;
	if (w.timeout_ns) {
		u64 now = ktime_get_ns();

		/* A timeout too large to add is no timeout. */
		deadline = w.timeout_ns < U64_MAX - now ? now + w.timeout_ns : 0;
	}

	ch = rf_register(&err);
	if (!ch)
		return err;

	if (mutex_lock_killable(&ch->lock)) {
		rf_child_put(ch);
		return -EINTR;
	}
	WRITE_ONCE(ch->parked, true);
	mutex_unlock(&ch->lock);

	for (;;) {
		long slice = HZ / 5, left;

		if (READ_ONCE(ch->gen) > w.generation)
			break;
		if (rf_parent_gone(ch)) {
			ret = -ESRCH;
			break;
		}
		if (deadline) {
			u64 now = ktime_get_ns();

			if (now >= deadline) {
				ret = -ETIMEDOUT;
				break;
			}
			slice = min_t(u64, slice, nsecs_to_jiffies(deadline - now) + 1);
		}
		left = wait_event_interruptible_timeout(ch->wq, READ_ONCE(ch->gen) > w.generation,
							slice);
		if (left < 0) {
			/*
			 * Restartable without a timeout; with one, restarting would
			 * start the relative timeout again: EINTR.
			 */
			ret = deadline ? -EINTR : -ERESTARTSYS;
			break;
		}
	}

	/* Never leave while a sync is rewriting our memory: it holds ch->lock. */
	if (mutex_lock_killable(&ch->lock)) {
		rf_child_put(ch);
		return -EINTR;
	}
	WRITE_ONCE(ch->parked, false);
	w.generation = ch->gen;
	w.state = (ch->cursor ? COWLAB_RF_WAIT_MIXED : 0) |
		  (ch->broken ? COWLAB_RF_WAIT_BROKEN | COWLAB_RF_WAIT_MIXED : 0);
	mutex_unlock(&ch->lock);
	rf_child_put(ch);

	/* A restarted call must find its input as it was. */
	if (ret == -ERESTARTSYS)
		return ret;
	if (copy_to_user(arg, &w, sizeof(w)))
		return -EFAULT;
	return ret;
}

/* ---- the sync ---------------------------------------------------------------- */

struct rf_pair {
	struct vm_area_struct *p, *c;
	unsigned long start, end;	/* the part to sync */
};

/* Entries re-synced in place per hold of the page-table locks (then C's TLB is flushed). */
#define RF_INPLACE_MAX	256

/*
 * Bits of a present entry that may differ between P and C in sync (C's are made old by
 * fork and by a sync; write-protecting moves Dirty to SavedDirty on 6.6+).
 */
#ifdef _PAGE_SAVED_DIRTY
#define RF_PTE_AGE	(_PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SOFT_DIRTY | _PAGE_SAVED_DIRTY)
#else
#define RF_PTE_AGE	(_PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_SOFT_DIRTY)
#endif

struct rf_ctx {
	struct mm_struct *pmm, *cmm;
	struct rf_pair *pairs;
	unsigned int nr_pairs;
	struct vm_area_struct tmp_p, tmp_c;	/* narrowed copies for copy_page_range */
	unsigned long flush_lo, flush_hi;	/* P's entries write-protected: flush these */
	struct page *stop_page;
	unsigned int stop_off;
	u32 stop_val;
	u64 t0, budget;
	bool copied;
	u32 why;			/* a stop inside a range ... */
	unsigned long stop_at;		/* ... and where to resume */
	unsigned long lim;		/* the walk's end in the pair now (rf_inplace_more()) */
	unsigned long done;		/* rf_inplace_more() took the walk this far */
	struct cowlab_refork *res;
	struct rf_track *track;		/* compare only changed chunks (NULL: everything) */
	bool nostop;			/* VERIFY's pass runs to its end */
	struct rf_track *vtrack;	/* VERIFY: the tracking being checked */
	u64 missed;			/* VERIFY: entries it missed */
	/*
	 * VERIFY: entries compared different that hold the same non-present value in P and C
	 * (the same migration entry: a page being migrated, seen on 6.12-debug). They are
	 * re-copied, as every non-swap entry is, but are not a change the tracking missed.
	 */
	u64 same_raw;
	bool runs_only;			/* COWLAB_RF_RUNS_ONLY */
	/* C's pages released by rf_inplace(), freed after C's TLB is flushed over their span */
	unsigned int nr_freed;
	struct page *freed[RF_INPLACE_MAX];
	unsigned long cflush_lo, cflush_hi;
	bool defer;			/* a bounded sync: rf_defer frees them (rf_defer_pages()) */
	struct rf_defer *df;		/* ... and this batch holds them until the call returns */
	/* the open in-place session (rf_inplace_open()): its pair, PMD part and ranges */
	struct rf_pair *sess;
	unsigned long sess_lo, sess_hi;
	u64 sess_scan0;			/* ptes_scanned when it opened */
	bool sess_pmn, sess_cmn;
	/* rf_pmds(): P's and C's PMD tables of the PUD range at pc_addr */
	bool pc_valid;
	unsigned long pc_addr;
	pmd_t *pc_p, *pc_c;
#ifdef CONFIG_MMU_NOTIFIER
	struct mmu_notifier_range sess_prange, sess_crange;
#endif
};

static bool rf_linked(struct vm_area_struct *c, struct anon_vma *av)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &c->anon_vma_chain, same_vma)
		if (avc->anon_vma == av)
			return true;
	return false;
}

/* C's twin of P's covered @p, or NULL when the layouts differ. */
static struct vm_area_struct *rf_twin(struct rf_ctx *x, struct vm_area_struct *p)
{
	struct vm_area_struct *c = find_vma(x->cmm, p->vm_start);

	if (!c || c->vm_start != p->vm_start || c->vm_end != p->vm_end ||
	    c->vm_file != p->vm_file || c->vm_pgoff != p->vm_pgoff ||
	    (c->vm_flags & RF_VMA_SAME) != (p->vm_flags & RF_VMA_SAME) ||
	    (c->vm_flags & RF_VMA_SKIP))
		return NULL;
	if (p->anon_vma && !rf_linked(c, p->anon_vma))
		return NULL;
	return c;
}

static int rf_add_pair(struct rf_ctx *x, unsigned int *cap, struct vm_area_struct *p,
		       unsigned long start, unsigned long end)
{
	struct vm_area_struct *c = rf_twin(x, p);

	if (!c)
		return -ESTALE;
	if (x->nr_pairs == *cap) {
		unsigned int ncap = *cap ? *cap * 2 : 16;
		struct rf_pair *n = kvmalloc_array(ncap, sizeof(*n), GFP_KERNEL);

		if (!n)
			return -ENOMEM;
		if (x->pairs)
			memcpy(n, x->pairs, x->nr_pairs * sizeof(*n));
		kvfree(x->pairs);
		x->pairs = n;
		*cap = ncap;
	}
	x->pairs[x->nr_pairs++] = (struct rf_pair){ .p = p, .c = c, .start = start, .end = end };
	x->res->bytes_covered += end - start;
	return 0;
}

/* Default set: P's covered mappings, which must be C's registered layout. */
static int rf_pairs_default(struct rf_ctx *x, struct rf_child *ch)
{
	VMA_ITERATOR(vmi, x->pmm, 0);
	struct vm_area_struct *p;
	unsigned int cap = 0, i = 0;
	int ret;

	for_each_vma(vmi, p) {
		if (!rf_vma_covered(x->pmm, p))
			continue;
		if (i >= ch->nr_layout || ch->layout[i].start != p->vm_start ||
		    ch->layout[i].end != p->vm_end)
			return -ESTALE;
		i++;
		ret = rf_add_pair(x, &cap, p, p->vm_start, p->vm_end);
		if (ret)
			return ret;
	}
	return i == ch->nr_layout ? 0 : -ESTALE;
}

/* Explicit ranges (sorted and validated by the caller): each inside covered VMAs of P. */
static int rf_pairs_ranges(struct rf_ctx *x, const struct cowlab_range *r, unsigned int nr)
{
	unsigned int cap = 0, i;
	int ret;

	for (i = 0; i < nr; i++) {
		unsigned long a = r[i].start;

		while (a < r[i].end) {
			struct vm_area_struct *p = find_vma(x->pmm, a);
			unsigned long e;

			if (!p || p->vm_start > a || !rf_vma_covered(x->pmm, p))
				return -EINVAL;
			e = min_t(unsigned long, p->vm_end, r[i].end);
			ret = rf_add_pair(x, &cap, p, a, e);
			if (ret)
				return ret;
			a = e;
		}
	}
	return 0;
}

/*
 * @p_copies: copy_page_range() copies P's entries of this VMA (it has an
 * anon_vma: vma_needs_copy()). When it does not, a re-copy leaves C's entries
 * empty, to be faulted in from the file or the zero page: C in sync has none.
 */
static bool rf_pte_same_slow(pte_t p, pte_t c, bool p_copies)
{
	if (!p_copies && pte_none(c))
		return true;
	if (pte_none(p) || pte_none(c))
		return pte_none(p) && pte_none(c);
	if (pte_present(p) != pte_present(c))
		return false;
	if (pte_present(p))
		return pte_pfn(p) == pte_pfn(c) && !pte_write(p) && !pte_write(c);
	/* Swap entries (not migration or device entries): the same slot. */
	{
		unsigned long sp, sc;

		return cl_pte_swap_slot(p, &sp) && cl_pte_swap_slot(c, &sc) && sp == sc;
	}
}

/*
 * With paravirt, pte_val() is a patched call site (two in every entry compared); the raw
 * entries compare alike (under Xen PV a machine frame stands for a frame, one for one, and
 * the flag bits are the same).
 */
#ifdef CONFIG_X86
#define rf_pte_raw(pte)	native_pte_val(pte)
#else
#define rf_pte_raw(pte)	pte_val(pte)
#endif

/*
 * The common case, in sync: both empty, or the same page read-only (C's entry old, P's
 * perhaps young and dirty): the raw entries compared with their age bits masked. The
 * in-place loop ran about 140 instructions an entry with the full test, 50 with this one
 * (icount, 6.12): a sync at 0.1% changed compares 16 entries per changed page, and one of
 * 1 GiB went from 1.25 to 0.85 ms.
 */
#ifdef CONFIG_X86
/*
 * On x86 the flags tested are the raw low bits: pte_write() and pte_present() first mask
 * the frame bits with a run-time mask (physical_mask) that the loop reloads for every
 * entry, and pte_write() is patched for shadow stacks, whose entries (dirty, not RW)
 * are never in a covered VMA. The loop went from about 29 instructions an entry to 19
 * (6.12 build: icount profile before, the compiled loop after).
 */
static __always_inline bool rf_pte_same_fast(pte_t p, pte_t c)
{
	pteval_t pv = native_pte_val(p), cv = native_pte_val(c);

	return !(((pv ^ cv) & ~(pteval_t)RF_PTE_AGE) | (pv & _PAGE_RW)) &&
	       (!pv || (pv & (_PAGE_PRESENT | _PAGE_PROTNONE)));
}
#else
static __always_inline bool rf_pte_same_fast(pte_t p, pte_t c)
{
	return !((rf_pte_raw(p) ^ rf_pte_raw(c)) & ~(pteval_t)RF_PTE_AGE) && !pte_write(p) &&
	       (!rf_pte_raw(p) || pte_present(p));
}
#endif

static __always_inline bool rf_pte_same(pte_t p, pte_t c, bool p_copies)
{
	return rf_pte_same_fast(p, c) || rf_pte_same_slow(p, c, p_copies);
}

static void rf_narrow(struct vm_area_struct *tmp, const struct vm_area_struct *v,
		      unsigned long start, unsigned long end)
{
	memcpy(tmp, v, sizeof(*tmp));	/* 6.3+: vm_flags is const, so no struct assignment */
	tmp->vm_start = start;
	tmp->vm_end = end;
	tmp->vm_pgoff = v->vm_pgoff + ((start - v->vm_start) >> PAGE_SHIFT);
}

/*
 * P's and C's PMD entries for @a (NULL where an upper level is empty). The PMD tables of
 * the last PUD range looked up are remembered: a walk's steps look them up three or four
 * times each, and at 0.1% changed a step is all a PMD has. The PMD tables stay while the
 * sync holds both mmap_locks for write; they are forgotten when the sync re-copies
 * (copy_page_range() may fill C's upper levels).
 */
static pmd_t *rf_pmds(struct rf_ctx *x, unsigned long a, pmd_t **cpmdp)
{
	unsigned long pa = a & PUD_MASK;

	if (!x->pc_valid || x->pc_addr != pa) {
		x->pc_p = rf_pmdp(x->pmm, pa);
		x->pc_c = rf_pmdp(x->cmm, pa);
		x->pc_addr = pa;
		x->pc_valid = true;
	}
	*cpmdp = x->pc_c ? x->pc_c + pmd_index(a) : NULL;
	return x->pc_p ? x->pc_p + pmd_index(a) : NULL;
}

/*
 * C's PMD at @hs (2 MiB-aligned) points to a PTE table that the zap just emptied, and P maps
 * the whole range with one PMD (a THP, the huge zero page or a PMD migration entry):
 * copy_huge_pmd() would install P's PMD over the table and orphan it (and its accounting:
 * "BUG: non-zero pgtables_bytes on freeing mm"). Free it first, as munmap would. The caller
 * holds the rmap locks (no reverse-map walker is inside C's table) and both mmap_locks.
 */
static void rf_free_ptable(struct rf_ctx *x, unsigned long hs)
{
	struct mmu_gather tlb;
	pmd_t *pmdp = rf_pmdp(x->cmm, hs);
	pmd_t pmd;

	if (!pmdp)
		return;
	pmd = READ_ONCE(*pmdp);
	if (pmd_none(pmd) || !rf_pmd_table(pmd))
		return;
	static_call(cowlab_tlb_gather_mmu)(&tlb, x->cmm);
	static_call(cowlab_free_pgd_range)(&tlb, hs, hs + PMD_SIZE, hs, hs + PMD_SIZE);
	static_call(cowlab_tlb_finish_mmu)(&tlb);
}

/*
 * After a run: the entries that copy_page_range() left writable in P or in C. A page P may
 * have pinned (the sync's own stop word, in a covered private page, is one) is copied for
 * C, not shared, as fork does: C's copy is writable, and so is P's entry if it was. Either
 * side may then write without a fault or an invalidation: P's write would leave C with the
 * old copy, C's would leave C's copy different from P. (A page shared with C when the sync
 * pinned it was unshared by the pin: P's new page is read-only, only C's copy is writable.)
 * Their chunks stay marked, for the next sync to compare (and copy) again. Read without
 * the page-table locks: an entry made writable meanwhile is a fault, which marks its chunk
 * itself.
 */
static void rf_keep_writable(struct rf_ctx *x, struct rf_track *t, unsigned long start,
			     unsigned long end)
{
	pmd_t *cpmdp, *ppmdp = rf_pmds(x, start, &cpmdp);
	pmd_t pp = ppmdp ? READ_ONCE(*ppmdp) : __pmd(0);
	pmd_t cp = cpmdp ? READ_ONCE(*cpmdp) : __pmd(0);
	unsigned long a;

	/* a huge PMD on either side: the range is one step, marked whole if writable */
	if ((!pmd_none(pp) && !rf_pmd_table(pp)) || (!pmd_none(cp) && !rf_pmd_table(cp))) {
		if ((pmd_present(pp) && !rf_pmd_table(pp) && pmd_write(pp)) ||
		    (pmd_present(cp) && !rf_pmd_table(cp) && pmd_write(cp)))
			rf_track_mark(t, start, end);
		return;
	}
	rcu_read_lock();
	for (a = start; a < end; a += PAGE_SIZE) {
		pte_t p = pmd_none(pp) ? __pte(0) : ptep_get(pte_offset_kernel(&pp, a));
		pte_t c = pmd_none(cp) ? __pte(0) : ptep_get(pte_offset_kernel(&cp, a));

		if ((pte_present(p) && pte_write(p)) || (pte_present(c) && pte_write(c)))
			rf_track_mark(t, a, a + PAGE_SIZE);
	}
	rcu_read_unlock();
}

/*
 * Release C's entries in [start, end) and copy P's there, as fork() would. @whole_pmd: the
 * run is a whole 2 MiB-aligned PMD range over which P holds a huge PMD.
 *
 * Reverse-map walkers (migration, reclaim, THP split) do not take mmap_lock. Fork relies
 * on rmap walks visiting the parent's mapping before the child's, so that a migration entry
 * copied into the child is restored with the parent's; after a split and merge of P's VMA
 * (mprotect of part of it and back) P's chain entry sorts after C's and that order is lost.
 * So the run is released and copied under the rmap locks in write mode (the file's
 * i_mmap_rwsem, then the anon_vma root's), as mremap's take_rmap_locks() does: a walk is
 * entirely before the copy or entirely after, and sees P and C alike. Nothing may enter
 * reclaim while they are held (reclaim's own rmap walk would wait for them): allocations
 * inside (page tables, a pinned page's copy, swap-count continuations) are made without
 * direct reclaim (PF_MEMALLOC), and fail with ENOMEM rather than wait.
 */
static int rf_recopy(struct rf_ctx *x, struct rf_pair *pr, unsigned long start, unsigned long end,
		     bool whole_pmd)
{
	struct address_space *mapping = pr->c->vm_file ? pr->c->vm_file->f_mapping : NULL;
	struct anon_vma *av = pr->p->anon_vma;
	unsigned int noreclaim;
	int ret;

	x->pc_valid = false;
	if (mapping)
		i_mmap_lock_write(mapping);
	if (av)
		anon_vma_lock_write(av);
	noreclaim = memalloc_noreclaim_save();
	if (x->track ?: x->vtrack) {
		struct rf_track *t = x->track ?: x->vtrack;

		WRITE_ONCE(t->run_lo, start);
		WRITE_ONCE(t->run_hi, end);
	}
	cl_zap_range(pr->c, start, end - start);
	/*
	 * Only a copy installs P's PMD, and only a P with an anon_vma is copied (rf_twin()
	 * then made sure C is linked to it: the rmap lock taken covers C's chain too).
	 */
	if (whole_pmd && av)
		rf_free_ptable(x, start);
	rf_narrow(&x->tmp_p, pr->p, start, end);
	rf_narrow(&x->tmp_c, pr->c, start, end);
	x->copied = true;
	x->flush_lo = min(x->flush_lo, start);
	x->flush_hi = max(x->flush_hi, end);
	x->res->ranges_updated++;
	x->res->ptes_updated += (end - start) >> PAGE_SHIFT;
	ret = static_call(cowlab_copy_page_range)(&x->tmp_c, &x->tmp_p);
	if (x->track ?: x->vtrack) {
		struct rf_track *t = x->track ?: x->vtrack;

		rf_keep_writable(x, t, start, end);
		WRITE_ONCE(t->run_lo, 0);
		WRITE_ONCE(t->run_hi, 0);
	}
	memalloc_noreclaim_restore(noreclaim);
	if (av)
		anon_vma_unlock_write(av);
	if (mapping)
		i_mmap_unlock_write(mapping);
	return ret;
}

static u32 rf_stop_check(struct rf_ctx *x)
{
	if (x->nostop)
		return COWLAB_RF_STOP_NONE;
	if (signal_pending(current))
		return COWLAB_RF_STOP_SIGNAL;
	if (x->stop_page) {
		u32 *w = kmap_local_page(x->stop_page);
		u32 v = READ_ONCE(w[x->stop_off / sizeof(u32)]);

		kunmap_local(w);
		if (v != x->stop_val)
			return COWLAB_RF_STOP_WORD;
	}
	if (x->budget && ktime_get_ns() - x->t0 >= x->budget)
		return COWLAB_RF_STOP_BUDGET;
	return COWLAB_RF_STOP_NONE;
}

/*
 * A bounded sync (a budget or a stop word: its caller waits for it) hands C's released
 * pages, once C's TLB no longer maps them, to a worker that frees them after the call has
 * returned: release_pages() was about 730 instructions of the 2,800 a changed page cost
 * (icount, 6.12, a 1 GiB sync at 0.1% changed), work that P's budget need not pay for. The
 * pages are already out of C's page tables and rmap; until the worker runs they hold only
 * this reference (as the pages of a zap's mmu_gather do until its TLB flush). An unbounded
 * sync frees them itself, so that what it costs is comparable with a full re-fork, whose
 * exit frees C's pages synchronously.
 */
struct rf_defer {
	struct llist_node node;
	unsigned int nr;
	struct page *pages[];
};
#define RF_DEFER_MAX	((PAGE_SIZE - sizeof(struct rf_defer)) / sizeof(struct page *))

static LLIST_HEAD(rf_defer_list);

static void rf_defer_fn(struct work_struct *work)
{
	struct llist_node *n = llist_del_all(&rf_defer_list);
	struct rf_defer *d, *tmp;

	llist_for_each_entry_safe(d, tmp, n, node) {
		release_pages(d->pages, d->nr);
		kfree(d);
		cond_resched();
	}
}
static DECLARE_WORK(rf_defer_work, rf_defer_fn);

/* The call's batch to the worker (a full one at once: other CPUs free it meanwhile). */
static void rf_defer_push(struct rf_ctx *x)
{
	if (!x->df)
		return;
	llist_add(&x->df->node, &rf_defer_list);
	x->df = NULL;
	queue_work(system_unbound_wq, &rf_defer_work);
}

/* ---- in-place re-sync ----------------------------------------------------------
 *
 * The commonest difference at a sync is a page P or C broke COW on since the last one:
 * P wrote, so P maps a new exclusive page and C the old one (or C wrote: the reverse).
 * A run for it (a zap and a copy_page_range() of one page, each with its own mmu-notifier
 * range, page walk, locks and TLB flush) cost about 7,300 instructions in a 6.12 guest
 * (icount: 1% of 256 MiB changed made a sync 0.10 of a full re-fork). Here, when both
 * entries map a small anonymous folio (not KSM, C's not in the swap cache), C's entry is
 * released as zap_present_ptes() does (cleared, its rmap removed, the page freed after
 * C's TLB is flushed) and P's is shared as copy_present_ptes() does (folio reference,
 * folio_try_dup_anon_rmap_pte(), P write-protected, C given it read-only and old), all
 * under C's and then P's page-table lock, as copy_pte_range() takes them, inside one
 * notifier range per step and P's write_protect_seq (GUP-fast then retries or sees the
 * page shared), under the anon_vma's write lock as a run is. C's RSS is unchanged (an
 * anonymous page for an anonymous page). Anything else (none, swap, migration or
 * device entries, the zero page, large folios, KSM, a page P may have pinned, uffd-wp,
 * file-backed VMAs) is left to a run: the kernel's own code decides those.
 */
#ifdef CONFIG_MMU_NOTIFIER
static bool rf_inplace_ok(const struct rf_ctx *x, const struct rf_pair *pr)
{
	return rf_inplace_ready && !x->runs_only && pr->p->anon_vma && !pr->p->vm_file &&
	       !pr->c->vm_file &&
	       (pr->p->vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE &&
	       !((pr->p->vm_flags | pr->c->vm_flags) & VM_UFFD_WP);
}

/*
 * vm_normal_page() for the VMAs rf_inplace_ok() accepts (anonymous, private, no vm_ops,
 * never VM_PFNMAP or VM_MIXEDMAP: RF_VMA_SKIP): with special PTEs, an entry maps a
 * normal page exactly when it is not special (the zero page and devmap entries are).
 * Inline, and a page that differs goes in place without the full comparison first: a sync
 * at 100% of 1 GiB changed went from 1.015-1.018 to 0.938-0.945 of a full re-fork (icount,
 * 6.12).
 */
static __always_inline struct page *rf_normal_page(struct vm_area_struct *vma, unsigned long a,
						   pte_t pte)
{
	if (IS_ENABLED(CONFIG_ARCH_HAS_PTE_SPECIAL) && !vma->vm_ops &&
	    !(vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP)))
		return pte_special(pte) ? NULL : pte_page(pte);
	return static_call(cowlab_vm_normal_page)(vma, a, pte);
}

/* Re-sync one differing entry in place (both page-table locks held), or false: a run's. */
static bool rf_inplace_pte(struct rf_ctx *x, struct rf_pair *pr, unsigned long a, pte_t *pe,
			   pte_t *ce, pte_t p, pte_t c)
{
	struct page *ppage, *cpage;
	struct folio *pf, *cf;

	if (!pte_present(p) || !pte_present(c) || pte_pfn(p) == pte_pfn(c) ||
	    cl_pte_uffd_wp(p) || cl_pte_uffd_wp(c))
		return false;
	ppage = rf_normal_page(pr->p, a, p);
	cpage = rf_normal_page(pr->c, a, c);
	if (!ppage || !cpage)
		return false;
	pf = page_folio(ppage);
	cf = page_folio(cpage);
	if (folio_test_large(pf) || folio_test_large(cf) || !folio_test_anon(pf) ||
	    !folio_test_anon(cf) || folio_test_ksm(pf) || folio_test_ksm(cf) ||
	    folio_test_swapcache(cf))
		return false;
	folio_get(pf);
	if (unlikely(cl_try_dup_anon_rmap(pf, ppage, pr->c, pr->p))) {
		/* P may have pinned it: fork copies such a page, and so does the run. */
		folio_put(pf);
		return false;
	}
	/* C's entry, as zap releases it; the page is freed once C's TLB is flushed. */
	ptep_get_and_clear(x->cmm, a, ce);
	cl_remove_rmap_call(static_call(cowlab_remove_rmap), cf, cpage, pr->c);
	x->freed[x->nr_freed++] = cpage;
	/* P's entry, as fork shares it. */
	if (pte_write(p)) {
		ptep_set_wrprotect(x->pmm, a, pe);
		p = pte_wrprotect(p);
		x->flush_lo = min(x->flush_lo, a);
		x->flush_hi = max(x->flush_hi, a + PAGE_SIZE);
	}
	set_pte_at(x->cmm, a, ce, pte_mkold(p));
	x->copied = true;
	x->res->tracking |= COWLAB_RF_TRK_INPLACE;
	x->res->ptes_updated++;
	return true;
}

/*
 * The in-place path works in sessions: the first in-place step opens one over the pair's
 * part of the RF_SESSION_SPAN from that step's PMD on (the anon_vma's write lock, one
 * mmu-notifier range on C and one on P, P's write_protect_seq), and it stays open while
 * the walk stays inside: a step is one 64 KiB chunk (or a few), and at 1% or 0.1% changed
 * at random each held one entry, so a lock, four notifier calls, a TLB flush and a page
 * freed per step (or per PMD) cost more than the entry. It is closed before a run (which
 * takes the rmap locks itself), when the walk leaves the span, and at the end of the walk;
 * reverse-map walkers wait at most that long for the anon_vma lock. C's released pages are
 * freed, after a flush of C's TLB over their span, RF_INPLACE_MAX at a time and at the
 * close. (Kept until the end of the walk instead, they were freed after a budget had
 * run out: 100 us calls then ran 128 us on average, for 4% fewer instructions.)
 */
#define RF_SESSION_SPAN	(512 * PMD_SIZE)
#define RF_SESSION_ENTRIES	(16 * PTRS_PER_PTE)

/* x->freed (C's TLB flushed) into the call's batch; false: no memory, free them now. */
static bool rf_defer_pages(struct rf_ctx *x)
{
	if (x->df && x->df->nr + x->nr_freed > RF_DEFER_MAX)
		rf_defer_push(x);
	if (!x->df) {
		x->df = kmalloc(PAGE_SIZE, GFP_NOWAIT | __GFP_NOWARN);
		if (!x->df)
			return false;
		x->df->nr = 0;
	}
	memcpy(&x->df->pages[x->df->nr], x->freed, x->nr_freed * sizeof(*x->freed));
	x->df->nr += x->nr_freed;
	return true;
}

static void rf_inplace_free(struct rf_ctx *x)
{
	if (!x->nr_freed)
		return;
	static_call(cowlab_flush_tlb_mm_range)(x->cmm, x->cflush_lo, x->cflush_hi, PAGE_SHIFT,
					       false);
	if (!x->defer || !rf_defer_pages(x))
		release_pages(x->freed, x->nr_freed);
	x->nr_freed = 0;
	x->cflush_lo = ULONG_MAX;
	x->cflush_hi = 0;
}

static void rf_inplace_close(struct rf_ctx *x)
{
	struct rf_track *t = x->track ?: x->vtrack;

	if (!x->sess)
		return;
	raw_write_seqcount_end(&x->pmm->write_protect_seq);
	if (x->sess_pmn)
		cl_mn_end_call(static_call(cowlab_mn_end), &x->sess_prange);
	if (x->sess_cmn)
		cl_mn_end_call(static_call(cowlab_mn_end), &x->sess_crange);
	rf_inplace_free(x);
	if (t) {
		WRITE_ONCE(t->run_lo, 0);
		WRITE_ONCE(t->run_hi, 0);
	}
	anon_vma_unlock_write(x->sess->p->anon_vma);
	x->sess = NULL;
}

/* The session for @pr's part of the RF_SESSION_SPAN holding @a, opened if need be. */
static void rf_inplace_open(struct rf_ctx *x, struct rf_pair *pr, unsigned long a)
{
	unsigned long lo = max(a & PMD_MASK, pr->start);
	unsigned long hi = min((a & PMD_MASK) + RF_SESSION_SPAN, pr->end);
	struct rf_track *t = x->track ?: x->vtrack;

	if (x->sess == pr && a >= x->sess_lo && a < x->sess_hi &&
	    x->res->ptes_scanned - x->sess_scan0 < RF_SESSION_ENTRIES)
		return;
	rf_inplace_close(x);
	anon_vma_lock_write(pr->p->anon_vma);
	if (t) {
		/* The sync's own changes of [lo, hi): not marked. */
		WRITE_ONCE(t->run_lo, lo);
		WRITE_ONCE(t->run_hi, hi);
	}
	x->sess_pmn = mm_has_notifiers(x->pmm);
	x->sess_cmn = mm_has_notifiers(x->cmm);
	cl_mn_range_init(&x->sess_crange, MMU_NOTIFY_CLEAR, pr->c, lo, hi);
	cl_mn_range_init(&x->sess_prange, MMU_NOTIFY_PROTECTION_PAGE, pr->p, lo, hi);
	if (x->sess_cmn)
		static_call(cowlab_mn_start)(&x->sess_crange);
	if (x->sess_pmn)
		static_call(cowlab_mn_start)(&x->sess_prange);
	raw_write_seqcount_begin(&x->pmm->write_protect_seq);
	x->sess = pr;
	x->sess_lo = lo;
	x->sess_hi = hi;
	x->sess_scan0 = x->res->ptes_scanned;
}

/*
 * Compare [start, end) (inside one PMD, both sides PTE tables) and re-sync in place what
 * can be, in the session of that PMD; the page-table locks are dropped and the stop
 * conditions checked every RF_INPLACE_MAX entries re-synced. Returns the first entry that
 * differs and was left to a run (@end: none). After a stop (x->why), everything before
 * x->stop_at is in sync.
 */
static unsigned long rf_inplace(struct rf_ctx *x, struct rf_pair *pr, pmd_t *ppmdp,
				pmd_t *cpmdp, unsigned long start, unsigned long end,
				const struct rf_pmask *pm)
{
	unsigned long a = start, left = end;

	rf_inplace_open(x, pr, start);
	while (a < end) {
		pmd_t pp = READ_ONCE(*ppmdp);
		pmd_t cp = READ_ONCE(*cpmdp);
		spinlock_t *cptl, *pptl;
		unsigned long i, n, o, seen = 0;
		pte_t *pe, *ce;

		if (pmd_none(pp) || pmd_none(cp) || !rf_pmd_table(pp) || !rf_pmd_table(cp)) {
			left = min(left, a);
			break;
		}
		if (x->nr_freed == RF_INPLACE_MAX)
			rf_inplace_free(x);	/* kept from earlier steps */
		cptl = pte_lockptr(x->cmm, &cp);
		pptl = pte_lockptr(x->pmm, &pp);
		spin_lock(cptl);
		spin_lock_nested(pptl, SINGLE_DEPTH_NESTING);
		if (!pmd_same(pp, READ_ONCE(*ppmdp)) || !pmd_same(cp, READ_ONCE(*cpmdp))) {
			spin_unlock(pptl);
			spin_unlock(cptl);
			left = min(left, a);
			break;
		}
		pe = pte_offset_kernel(&pp, a);
		ce = pte_offset_kernel(&cp, a);
		n = (end - a) >> PAGE_SHIFT;
		o = pm ? pm->off + ((a - pm->start) >> PAGE_SHIFT) : 0;
		/* with page marks, only the marked entries: the others are in sync */
		for (i = pm ? find_next_bit(pm->map, o + n, o) - o : 0; i < n;
		     i = pm ? find_next_bit(pm->map, o + n, o + i + 1) - o : i + 1) {
			pte_t p = ptep_get(pe + i), c = ptep_get(ce + i);
			unsigned long ea;

			seen++;
			if (likely(rf_pte_same_fast(p, c)))
				continue;
			ea = a + (i << PAGE_SHIFT);
			/* a page P or C broke COW on goes in place at once; the rest is compared */
			if ((!pte_present(p) || !pte_present(c) || pte_pfn(p) == pte_pfn(c)) &&
			    rf_pte_same_slow(p, c, true))
				continue;
			if (!rf_inplace_pte(x, pr, ea, pe + i, ce + i, p, c)) {
				left = min(left, ea);
				continue;
			}
			x->cflush_lo = min(x->cflush_lo, ea);
			x->cflush_hi = max(x->cflush_hi, ea + PAGE_SIZE);
			if (x->nr_freed == RF_INPLACE_MAX) {
				i++;
				break;
			}
		}
		spin_unlock(pptl);
		spin_unlock(cptl);
		a += i << PAGE_SHIFT;
		x->res->ptes_scanned += pm ? seen : i;
		if (a < end) {
			/* RF_INPLACE_MAX re-synced: free them, then see whether to stop. */
			rf_inplace_free(x);
			x->why = rf_stop_check(x);
			if (x->why) {
				x->stop_at = min(left, a);
				break;
			}
		}
	}
	return left;
}

/*
 * Sparse changes (0.1% of 1 GiB: one changed page in a marked chunk of about 60): after an
 * in-place step, the next marked chunks of the same session are taken here, without going
 * back through the walk. Finding the step, looking its PMDs up again, the step's
 * bookkeeping and the call chain cost about 800 instructions a chunk (icount, 6.12), more
 * than the in-place re-sync of its page. Consecutive marked chunks of one PMD are one
 * range, as in the walk. The walk takes over (at x->done) at a chunk not whole inside its
 * span, outside every span, crossing the session's end, whose PMDs are not tables on both
 * sides, or with an entry left to a run: that chunk is marked again, and the walk re-syncs
 * it by its usual path. Marks are cleared before the comparison, the stop conditions checked
 * after every range that re-synced something, as rf_step() does.
 */
static void rf_inplace_more(struct rf_ctx *x, struct rf_pair *pr, unsigned long a)
{
	struct rf_track *t = x->track;
	unsigned long lim = min3(x->sess_hi, pr->end, x->lim);
	struct rf_pmask pmk;

	x->done = a;
	while (a < lim) {
		unsigned int i = rf_span_find(t, a);
		unsigned long base, first, last, b, e, k, cs, ce, left;
		pmd_t *ppmdp, *cpmdp;
		pmd_t pp, cp;
		u64 pu0;

		if (i == t->nr || t->span[i].start > a)
			return;
		base = t->span[i].start & RF_CHUNK_MASK;
		first = t->first[i];
		last = first + rf_span_chunks(&t->span[i]);
		b = find_next_bit(t->dirty, last, first + ((a - base) >> RF_CHUNK_SHIFT));
		if (b == last) {
			/* nothing marked in the rest of this span */
			a = t->span[i].end;
			x->done = min(a, lim);
			continue;
		}
		cs = base + ((b - first) << RF_CHUNK_SHIFT);
		if (cs >= lim)
			return;
		/* the PMD's consecutive marked chunks, not past the span, the session or lim */
		e = find_next_zero_bit(t->dirty, min(last, b + ((pmd_addr_end(cs, lim) - cs) >>
								RF_CHUNK_SHIFT)), b);
		ce = base + ((e - first) << RF_CHUNK_SHIFT);
		if (e <= b || cs < t->span[i].start || ce > t->span[i].end || ce > lim)
			return;
		ppmdp = rf_pmds(x, cs, &cpmdp);
		if (!ppmdp || !cpmdp)
			return;
		pp = READ_ONCE(*ppmdp);
		cp = READ_ONCE(*cpmdp);
		if (pmd_none(pp) || pmd_none(cp) || !rf_pmd_table(pp) || !rf_pmd_table(cp))
			return;
		/* cleared before the comparison: a change during it marks its chunk again */
		for (k = b; k < e; k++)
			test_and_clear_bit(k, t->dirty);
		pu0 = x->res->ptes_updated;
		left = rf_inplace(x, pr, ppmdp, cpmdp, cs, ce,
				  rf_track_take(t, cs, ce, &pmk) ? &pmk : NULL);
		x->res->ranges_scanned++;
		if (x->why) {
			/* stopped inside: what is before x->stop_at is in sync */
			rf_track_mark(t, x->stop_at, ce);
			return;
		}
		if (left < ce) {
			rf_track_mark(t, cs, ce);
			return;
		}
		x->done = ce;
		a = ce;
		if (x->res->ptes_updated != pu0) {
			cond_resched();
			x->why = rf_stop_check(x);
			if (x->why) {
				x->stop_at = ce;
				return;
			}
		}
	}
}
#else
static bool rf_inplace_ok(const struct rf_ctx *x, const struct rf_pair *pr)
{
	return false;
}

static void rf_inplace_more(struct rf_ctx *x, struct rf_pair *pr, unsigned long a)
{
}

static unsigned long rf_inplace(struct rf_ctx *x, struct rf_pair *pr, pmd_t *ppmdp,
				pmd_t *cpmdp, unsigned long start, unsigned long end,
				const struct rf_pmask *pm)
{
	return start;
}

static void rf_inplace_close(struct rf_ctx *x)
{
}
#endif

/*
 * Compare and re-sync one page-table range [start, end), inside one PMD. After
 * each re-copied run (at most RF_RUN_MAX pages) the stop conditions are
 * checked; a stop sets x->why and x->stop_at. A run may span the whole PMD: when
 * most of a range changed, one release and one copy of it cost less than many
 * (at 100% changed, 64-page runs made a sync cost 1.8-4.2x a full re-fork).
 */
#define RF_RUN_MAX	PTRS_PER_PTE

/*
 * Dense changes: after RF_BULK_PROBE run(s) in one range, the rest of it (at least
 * RF_BULK_MIN entries) is counted first; if its runs cost more than releasing and
 * copying all of it, it is one run. A run's fixed cost (a zap, a copy_page_range(),
 * their locks and walks) is worth RF_RUN_COST entries of a bulk copy: measured in a
 * 6.12 guest (TCG), about 15 us a run against 1 us an entry. At 10% changed at random,
 * runs one by one made a sync cost 1.06-1.11x a full re-fork (64 and 256 MiB).
 */
#define RF_BULK_PROBE	1
#define RF_BULK_MIN	64
#define RF_RUN_COST	16

/* Runs of differing entries in [a, end) of the tables @pp and @cp (RCU held); all counted scanned. */
static unsigned int rf_count_runs(struct rf_ctx *x, pmd_t pp, pmd_t cp, bool p_copies,
				  unsigned long a, unsigned long end)
{
	unsigned int runs = 0;
	bool in = false;

	for (; a < end; a += PAGE_SIZE) {
		pte_t p = pmd_none(pp) ? __pte(0) : ptep_get(pte_offset_kernel(&pp, a));
		pte_t c = pmd_none(cp) ? __pte(0) : ptep_get(pte_offset_kernel(&cp, a));
		bool differ = !rf_pte_same(p, c, p_copies);

		x->res->ptes_scanned++;
		runs += differ && !in;
		in = differ;
	}
	return runs;
}

static int rf_sync_runs(struct rf_ctx *x, struct rf_pair *pr, unsigned long start,
			unsigned long end)
{
	pmd_t *cpmdp, *ppmdp = rf_pmds(x, start, &cpmdp);
	pmd_t pp = ppmdp ? READ_ONCE(*ppmdp) : __pmd(0);
	pmd_t cp = cpmdp ? READ_ONCE(*cpmdp) : __pmd(0);
	unsigned long a, run = 0;
	unsigned int nruns = 0;
	/* huge, a PMD migration entry, devmap (or bad): compared and re-copied whole */
	bool huge_p = !rf_pmd_table(pp);
	bool huge_c = !rf_pmd_table(cp);
	bool p_copies = pr->p->anon_vma;
	int ret;

	x->res->ranges_scanned++;
	if (pmd_none(cp) && (pmd_none(pp) || !p_copies)) {
		x->res->ptes_scanned++;
		return 0;
	}
	if (huge_p || huge_c) {
		/* A huge mapping on either side is compared and re-copied whole. */
		unsigned long hs = max(start & PMD_MASK, pr->p->vm_start);
		unsigned long he = min((start & PMD_MASK) + PMD_SIZE, pr->p->vm_end);

		x->res->ptes_scanned++;
		if (huge_p && huge_c && pmd_present(pp) && pmd_present(cp) &&
		    pmd_pfn(pp) == pmd_pfn(cp) && !pmd_write(pp) && !pmd_write(cp))
			return 0;
		/*
		 * The same PMD migration entry in both (a THP being migrated: the incremental
		 * pass copied P's, and remove_migration_pmd() installs the new PMD without a
		 * notifier): re-copied, but not a change the tracking missed.
		 */
		if (!pmd_none(pp) && !pmd_present(pp) && pmd_val(pp) == pmd_val(cp))
			x->same_raw += (he - hs) >> PAGE_SHIFT;
		/* P's huge PMD covers its whole, aligned range (its VMA spans it) */
		return rf_recopy(x, pr, hs, he, huge_p && hs == (start & PMD_MASK) &&
				 he == hs + PMD_SIZE);
	}

	rcu_read_lock();
	for (a = start; a < end; a += PAGE_SIZE) {
		pte_t p = pmd_none(pp) ? __pte(0) : ptep_get(pte_offset_kernel(&pp, a));
		pte_t c = pmd_none(cp) ? __pte(0) : ptep_get(pte_offset_kernel(&cp, a));
		unsigned long until;

		x->res->ptes_scanned++;
		if (!rf_pte_same(p, c, p_copies)) {
			if (!pte_none(p) && !pte_present(p) && pte_val(p) == pte_val(c))
				x->same_raw++;
			if (!run)
				run = a;
			if (((a + PAGE_SIZE - run) >> PAGE_SHIFT) < RF_RUN_MAX && a + PAGE_SIZE < end)
				continue;
			until = a + PAGE_SIZE;
		} else if (run) {
			until = a;
		} else {
			continue;
		}
		/* A run ends (or reached RF_RUN_MAX pages): re-copy it, then see whether to stop. */
		rcu_read_unlock();
		ret = rf_recopy(x, pr, run, until, false);
		if (ret)
			return ret;
		run = 0;
		x->why = rf_stop_check(x);
		if (x->why) {
			x->stop_at = until;
			return 0;
		}
		/*
		 * The PTE tables were read under RCU, which was dropped: read the PMDs
		 * again (6.5+ can retract a file-backed table meanwhile). If one is
		 * no longer a table, re-copy the rest of the range instead of reading it.
		 * A missing upper level is looked up again: the run may have given C its
		 * first table here (a PMD table found stays while the mmap_locks are held).
		 */
		if (!ppmdp || !cpmdp)
			ppmdp = rf_pmds(x, start, &cpmdp);
		rcu_read_lock();
		pp = ppmdp ? READ_ONCE(*ppmdp) : __pmd(0);
		cp = cpmdp ? READ_ONCE(*cpmdp) : __pmd(0);
		if (!rf_pmd_table(pp) || !rf_pmd_table(cp)) {
			/*
			 * A PMD is no longer a table: start the range again from @until, which
			 * takes the huge path over the whole PMD (copy_page_range() must never see
			 * part of a huge PMD).
			 */
			rcu_read_unlock();
			return until < end ? rf_sync_runs(x, pr, until, end) : 0;
		}
		/* Entry @a is done either way: the rest starts after it. */
		if (++nruns == RF_BULK_PROBE && end - a > RF_BULK_MIN * PAGE_SIZE) {
			unsigned long rest = a + PAGE_SIZE;
			unsigned int runs = rf_count_runs(x, pp, cp, p_copies, rest, end);

			if (runs * RF_RUN_COST > (end - rest) >> PAGE_SHIFT) {
				rcu_read_unlock();
				ret = rf_recopy(x, pr, rest, end, false);
				if (ret)
					return ret;
				x->why = rf_stop_check(x);
				if (x->why)
					x->stop_at = end;
				return 0;
			}
		}
	}
	rcu_read_unlock();
	return 0;
}

/*
 * Compare and re-sync [start, end) inside one PMD: in place what can be (rf_inplace()),
 * the rest by runs.
 */
static int rf_sync_range(struct rf_ctx *x, struct rf_pair *pr, unsigned long start,
			 unsigned long end, const struct rf_pmask *pm)
{
	if (rf_inplace_ok(x, pr)) {
		pmd_t *cpmdp, *ppmdp = rf_pmds(x, start, &cpmdp);
		pmd_t pp = ppmdp ? READ_ONCE(*ppmdp) : __pmd(0);
		pmd_t cp = cpmdp ? READ_ONCE(*cpmdp) : __pmd(0);

		if (!pmd_none(pp) && !pmd_none(cp) && rf_pmd_table(pp) && rf_pmd_table(cp)) {
			start = rf_inplace(x, pr, ppmdp, cpmdp, start, end, pm);
			if (x->why || start >= end) {
				x->res->ranges_scanned++;
				if (!x->why && x->track)
					rf_inplace_more(x, pr, end);
				return 0;
			}
		}
	}
	rf_inplace_close(x);	/* a run takes the rmap locks itself */
	return rf_sync_runs(x, pr, start, end);
}

/*
 * Sync one range, then decide whether to stop. The stop conditions are checked
 * after every re-copied run of at most RF_RUN_MAX pages (rf_sync_runs), after every
 * RF_INPLACE_MAX entries re-synced in place (rf_inplace), after every range in which
 * something was re-synced, and after every
 * RF_EQUAL_BATCH ranges that only compared equal (each a comparison of at most
 * 512 entries). So every call makes progress, and a call that continues a
 * stopped sync passes quickly over the ranges already in sync. *resume is
 * where the next call starts when this one stops.
 */
#define RF_EQUAL_BATCH	16

/* P's or C's PMD at @a maps a huge page (or is a PMD migration entry): a hint, read unlocked. */
static bool rf_huge_at(struct rf_ctx *x, unsigned long a)
{
	pmd_t *cpmdp, *ppmdp = rf_pmds(x, a, &cpmdp);
	pmd_t pp = ppmdp ? READ_ONCE(*ppmdp) : __pmd(0);
	pmd_t cp = cpmdp ? READ_ONCE(*cpmdp) : __pmd(0);

	return (!pmd_none(pp) && !rf_pmd_table(pp)) || (!pmd_none(cp) && !rf_pmd_table(cp));
}

/* Any chunk of [a, next) marked in @t (a range outside every span counts as marked). */
static bool rf_track_any(struct rf_track *t, unsigned long a, unsigned long next)
{
	unsigned long cs, ce;

	for (; a < next; a = ce) {
		long b = rf_track_bit(t, a, &cs, &ce);

		if (b < 0 || test_bit(b, t->dirty))
			return true;
	}
	return false;
}

/* VERIFY: what a step found before re-syncing it, told when the tracking missed it. */
struct rf_peek {
	pmd_t pp, cp;
	unsigned long first;	/* the first entry that differs, 0: none in a table */
	pte_t p, c;
	unsigned int ndiff;
};

static void rf_verify_peek(struct rf_ctx *x, struct rf_pair *pr, unsigned long a,
			   unsigned long next, struct rf_peek *pk)
{
	pmd_t *cpmdp, *ppmdp = rf_pmds(x, a, &cpmdp);

	memset(pk, 0, sizeof(*pk));
	pk->pp = ppmdp ? READ_ONCE(*ppmdp) : __pmd(0);
	pk->cp = cpmdp ? READ_ONCE(*cpmdp) : __pmd(0);
	if (!rf_pmd_table(pk->pp) || !rf_pmd_table(pk->cp))
		return;
	rcu_read_lock();
	for (; a < next; a += PAGE_SIZE) {
		pte_t p = pmd_none(pk->pp) ? __pte(0) : ptep_get(pte_offset_kernel(&pk->pp, a));
		pte_t c = pmd_none(pk->cp) ? __pte(0) : ptep_get(pte_offset_kernel(&pk->cp, a));

		if (rf_pte_same(p, c, pr->p->anon_vma))
			continue;
		if (!pk->ndiff++) {
			pk->first = a;
			pk->p = p;
			pk->c = c;
		}
	}
	rcu_read_unlock();
}

static void rf_verify_report(struct rf_ctx *x, struct rf_pair *pr, unsigned long a,
			     unsigned long next, const struct rf_peek *pk)
{
	pr_warn_ratelimited("refork VERIFY: tracking missed [%#lx, %#lx) of vma [%#lx, %#lx) flags %#lx%s: PMD P %#llx C %#llx, %u entries differ, the first at %#lx: P %#llx C %#llx\n",
			    a, next, pr->p->vm_start, pr->p->vm_end,
			    (unsigned long)pr->p->vm_flags, pr->p->vm_file ? " file" : "",
			    (u64)pmd_val(pk->pp), (u64)pmd_val(pk->cp), pk->ndiff, pk->first,
			    (u64)pte_val(pk->p), (u64)pte_val(pk->c));
}

static int rf_step(struct rf_ctx *x, struct rf_pair *pr, unsigned long a, unsigned long *nextp,
		   unsigned int *equal, u32 *why, unsigned long *resume)
{
	u64 pu0 = x->res->ptes_updated, sr0 = x->same_raw;
	unsigned long next = *nextp;
	struct rf_pmask pmk, *pm = NULL;
	struct rf_peek pk;
	bool explained = true;
	int ret;

	*resume = next;
	/*
	 * VERIFY: a difference now in a chunk marked again since the sync passed it is a
	 * change made meanwhile (reclaim, migration), not a miss; so is one in a range the
	 * tracking does not cover (always compared whole). Judged again after the step: an
	 * invalidation marks its chunk before it changes an entry, so one that began during
	 * the step is marked by the time the step saw its change (6.12-debug: an entry
	 * migrated during VERIFY's pass was counted as missed).
	 */
	if (x->vtrack)
		explained = rf_track_any(x->vtrack, a, next);
	if (x->track) {
		unsigned long c, cs, ce;
		bool any = false, whole = true;

		/*
		 * The step's marks are cleared before the comparison: a change during it
		 * marks its chunk again. The mark of a chunk only partly inside stays.
		 */
		for (c = a; c < next; c = ce) {
			long b = rf_track_bit(x->track, c, &cs, &ce);

			if (b < 0) {
				any = true;
				whole = false;
				break;
			}
			if (c <= cs && next >= ce) {
				any |= test_and_clear_bit(b, x->track->dirty);
			} else {
				any |= test_bit(b, x->track->dirty);
				whole = false;
			}
		}
		if (!any) {
			*why = COWLAB_RF_STOP_NONE;
			return 0;	/* unchanged since the last sync */
		}
		/* every chunk's mark cleared: compare only their marked pages */
		if (whole && rf_track_take(x->track, a, next, &pmk))
			pm = &pmk;
	}
	if (!explained)
		rf_verify_peek(x, pr, a, next, &pk);
	x->why = COWLAB_RF_STOP_NONE;
	x->done = 0;
	ret = rf_sync_range(x, pr, a, next, pm);
	if (!explained && x->res->ptes_updated - pu0 > x->same_raw - sr0 &&
	    !rf_track_any(x->vtrack, a, next)) {
		x->missed += (x->res->ptes_updated - pu0) - (x->same_raw - sr0);
		rf_verify_report(x, pr, a, next, &pk);
	}
	if (ret) {
		if (x->track)
			rf_track_mark(x->track, a, next);
		return ret;
	}
	cond_resched();
	if (!x->why && x->done > next)
		*nextp = *resume = x->done;	/* rf_inplace_more() went on */
	if (x->why) {
		*why = x->why;
		*resume = x->stop_at;
		*equal = 0;
		if (x->track && x->stop_at < next)
			rf_track_mark(x->track, x->stop_at, next);	/* stopped inside it */
		return 0;
	}
	/* Nothing re-synced (by a run or in place): the stop is checked every RF_EQUAL_BATCH. */
	if (x->res->ptes_updated == pu0 && ++*equal < RF_EQUAL_BATCH) {
		*why = COWLAB_RF_STOP_NONE;
		return 0;
	}
	*equal = 0;
	*why = rf_stop_check(x);
	return 0;
}

/*
 * Where the walk goes from @a (below @lim): the start of the next step, its end in *next.
 * A step lies inside one PMD and, when tracked (or verified), inside one chunk; the
 * tracking skips the chunks not marked since the last sync.
 */
static unsigned long rf_next_step(struct rf_ctx *x, unsigned long a, unsigned long lim,
				  unsigned long *next)
{
	struct rf_track *t = x->track ?: x->vtrack;
	unsigned long cs, ce;

	long bit;

	if (x->track)
		a = rf_track_next(x->track, a, lim);
	*next = min(pmd_addr_end(a, lim), lim);
	if (!t || a >= lim || rf_huge_at(x, a))
		return a;	/* a huge mapping is one step: compared and re-copied whole */
	bit = rf_track_bit(t, a, &cs, &ce);
	if (bit < 0)
		return a;
	/*
	 * Consecutive marked chunks of the PMD make one step, so that one run of differing
	 * entries may span them (one release and copy of a whole page table when all of it
	 * changed). VERIFY's pass steps chunk by chunk: it tells a miss by its chunk.
	 */
	while (x->track && ce < *next) {
		unsigned long ncs, nce;
		long nb = rf_track_bit(t, ce, &ncs, &nce);

		if (nb < 0 || !test_bit(nb, t->dirty))
			break;
		ce = nce;
	}
	*next = min(*next, ce);
	return a;
}

/*
 * One round over the pairs, starting at the range holding @ch->cursor and
 * going round to it. Returns 0 (res->status says complete or partial) or an error.
 */
static int __rf_walk(struct rf_ctx *x, struct rf_child *ch)
{
	unsigned long cursor = ch->cursor, resume;
	unsigned int first = 0, k, equal = 0;
	u32 why = COWLAB_RF_STOP_NONE;
	int ret;

	while (first < x->nr_pairs && x->pairs[first].end <= cursor)
		first++;
	if (first == x->nr_pairs)
		first = 0;

	/* The word already changed: the caller's wait is over before we began. */
	if (x->stop_page && rf_stop_check(x) == COWLAB_RF_STOP_WORD) {
		why = COWLAB_RF_STOP_WORD;
		goto stopped;
	}
	for (k = 0; k < x->nr_pairs; k++) {
		struct rf_pair *pr = &x->pairs[(first + k) % x->nr_pairs];
		unsigned long a = pr->start, next;

		x->lim = pr->end;
		/* The first pair resumes at the cursor; its head is done on the way back. */
		if (k == 0 && cursor > a && cursor < pr->end)
			a = cursor;
		for (a = rf_next_step(x, a, pr->end, &next); a < pr->end;
		     a = rf_next_step(x, next, pr->end, &next)) {
			ret = rf_step(x, pr, a, &next, &equal, &why, &resume);
			if (ret)
				return ret;
			if (why) {
				ch->cursor = resume < pr->end ? resume :
					     x->pairs[(first + k + 1) % x->nr_pairs].start;
				goto stopped;
			}
		}
	}
	/* The head of the first pair, before the cursor. */
	if (x->nr_pairs && cursor > x->pairs[first].start && cursor < x->pairs[first].end) {
		struct rf_pair *pr = &x->pairs[first];
		unsigned long a, next;

		x->lim = cursor;
		for (a = rf_next_step(x, pr->start, cursor, &next); a < cursor;
		     a = rf_next_step(x, next, cursor, &next)) {
			ret = rf_step(x, pr, a, &next, &equal, &why, &resume);
			if (ret)
				return ret;
			if (why && resume < cursor) {
				ch->cursor = resume;
				goto stopped;
			}
		}
	}
	ch->cursor = 0;
	x->res->status = COWLAB_RF_COMPLETE;
	x->res->stop_reason = COWLAB_RF_STOP_NONE;
	return 0;
stopped:
	x->res->status = COWLAB_RF_PARTIAL;
	x->res->stop_reason = why;
	return 0;
}

static int rf_walk(struct rf_ctx *x, struct rf_child *ch)
{
	int ret = __rf_walk(x, ch);

	rf_inplace_close(x);
	return ret;
}

static int rf_range_cmp(const void *a, const void *b)
{
	const struct cowlab_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static struct cowlab_range *rf_copy_ranges(const struct cowlab_refork *r, int *err)
{
	struct cowlab_range *rg;
	unsigned int i;

	rg = memdup_user(u64_to_user_ptr(r->ranges), r->nr_ranges * sizeof(*rg));
	if (IS_ERR(rg)) {
		*err = PTR_ERR(rg);
		return NULL;
	}
	for (i = 0; i < r->nr_ranges; i++) {
		if (!PAGE_ALIGNED(rg[i].start) || !PAGE_ALIGNED(rg[i].end) ||
		    rg[i].start >= rg[i].end || rg[i].end > TASK_SIZE_MAX)
			goto bad;
	}
	sort(rg, r->nr_ranges, sizeof(*rg), rf_range_cmp, NULL);
	for (i = 1; i < r->nr_ranges; i++)
		if (rg[i].start < rg[i - 1].end)
			goto bad;
	return rg;
bad:
	kfree(rg);
	*err = -EINVAL;
	return NULL;
}

/* The caller's child @pid, referenced. */
static struct task_struct *rf_get_child(pid_t pid, int *err)
{
	struct task_struct *t;

	if (pid <= 0) {
		*err = pid < 0 ? -EINVAL : -ECHILD;
		return NULL;
	}
	rcu_read_lock();
	t = pid_task(find_vpid(pid), PIDTYPE_PID);
	if (!t) {
		rcu_read_unlock();
		*err = -ESRCH;
		return NULL;
	}
	if (!thread_group_leader(t) || rcu_dereference(t->real_parent)->tgid != current->tgid) {
		rcu_read_unlock();
		*err = -ECHILD;
		return NULL;
	}
	get_task_struct(t);
	rcu_read_unlock();
	if (READ_ONCE(t->exit_state) || (READ_ONCE(t->flags) & PF_EXITING)) {
		put_task_struct(t);
		*err = -ESRCH;
		return NULL;
	}
	return t;
}

static int rf_lock_vmas(struct rf_ctx *x)
{
	unsigned int i;

	for (i = 0; i < x->nr_pairs; i++) {
		cl_vma_start_write(x->pairs[i].p);
		cl_vma_start_write(x->pairs[i].c);
	}
	return 0;
}

static long rf_ioctl_refork(void __user *arg)
{
	struct cowlab_refork r;
	struct cowlab_range *ranges = NULL;
	struct task_struct *child = NULL;
	struct rf_child *ch = NULL;
	struct rf_ctx *x;
	u64 t0 = ktime_get_ns();
	int ret = 0;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if ((r.flags & ~COWLAB_RF_FLAGS) || r.reserved_in[0] || r.reserved_in[1])
		return -EINVAL;
	if (r.flags & COWLAB_RF_STOPWORD) {
		if (r.stop_addr & 3)
			return -EINVAL;
	} else if (r.stop_addr || r.stop_val) {
		return -EINVAL;
	}
	if (r.flags & COWLAB_RF_RANGES) {
		if (!r.nr_ranges || r.nr_ranges > COWLAB_RF_MAX_RANGES)
			return -EINVAL;
	} else if (r.nr_ranges || r.ranges) {
		return -EINVAL;
	}
	if (!rf_ready)
		return -EOPNOTSUPP;
	if (!current->mm || get_nr_threads(current) > 1)
		return -EOPNOTSUPP;

	r.status = r.stop_reason = 0;
	r.generation = r.ranges_scanned = r.ranges_updated = 0;
	r.ptes_scanned = r.ptes_updated = r.bytes_covered = r.ns = 0;
	r.tracking = r.verify_diffs = 0;
	r.dirty_pending = 0;

	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->res = &r;
	x->budget = r.budget_ns;
	x->t0 = t0;
	x->pmm = current->mm;
	x->runs_only = r.flags & COWLAB_RF_RUNS_ONLY;
	x->cflush_lo = ULONG_MAX;
	x->defer = x->budget || (r.flags & COWLAB_RF_STOPWORD);

	if (r.flags & COWLAB_RF_RANGES) {
		ranges = rf_copy_ranges(&r, &ret);
		if (!ranges)
			goto out_free;
	}
	child = rf_get_child(r.pid, &ret);
	if (!child)
		goto out_free;
	ch = rf_find(child);
	if (!ch) {
		ret = -EBUSY;		/* never registered: not parked */
		goto out_free;
	}
	if (mutex_lock_killable(&ch->lock)) {
		ret = -EINTR;
		goto out_free;
	}
	if (!ch->parked) {
		ret = -EBUSY;
		goto out_unlock_child;
	}
	/* The ptrace check that every targeting command makes (a setuid C is refused). */
	x->cmm = cowlab_task_mm(child, &ret);
	if (!x->cmm)
		goto out_unlock_child;
	if (x->cmm == x->pmm) {
		ret = -EINVAL;
		goto out_mmput;
	}
	if (ch->broken || x->cmm != ch->mm) {
		ret = -ESTALE;
		goto out_mmput;
	}
	if (get_nr_threads(child) > 1) {
		ret = -EOPNOTSUPP;
		goto out_mmput;
	}
	if (r.flags & COWLAB_RF_STOPWORD) {
		/* Pinned before the locks: gup may fault and take mmap_lock itself. */
		if (pin_user_pages_fast(r.stop_addr & PAGE_MASK, 1, 0, &x->stop_page) != 1) {
			x->stop_page = NULL;
			ret = -EFAULT;
			goto out_mmput;
		}
		x->stop_off = offset_in_page(r.stop_addr);
		x->stop_val = r.stop_val;
	}

	/* Tracked: P is the mm tracked (not exec'd since) and so is C (checked above). */
	if (ch->track && ch->track->pmm == x->pmm) {
		x->track = ch->track;
		/* From here on what P's task changes is the sync's own doing. */
		WRITE_ONCE(x->track->syncer, current);
	}
	r.tracking = x->track ? COWLAB_RF_TRK_INCREMENTAL : COWLAB_RF_TRK_FULL;

	if (mmap_write_lock_killable(x->pmm)) {
		ret = -EINTR;
		goto out_untrack;
	}
	mmap_write_lock_nested(x->cmm, SINGLE_DEPTH_NESTING);

	if (ranges)
		ret = rf_pairs_ranges(x, ranges, r.nr_ranges);
	else
		ret = rf_pairs_default(x, ch);
	if (!ret)
		ret = rf_lock_vmas(x);
	x->flush_lo = ULONG_MAX;
	x->flush_hi = 0;
	if (!ret)
		ret = rf_walk(x, ch);
	if (!ret && (r.flags & COWLAB_RF_VERIFY) && r.status == COWLAB_RF_COMPLETE) {
		/*
		 * The oracle of the tracking: compare every covered entry, to the end.
		 * What differs now is what the tracking missed: re-copied and counted.
		 */
		unsigned long cursor = ch->cursor;
		struct rf_track *t = x->track;

		x->track = NULL;
		x->vtrack = t;
		x->nostop = true;
		ch->cursor = 0;
		ret = rf_walk(x, ch);
		ch->cursor = cursor;
		x->nostop = false;
		x->vtrack = NULL;
		x->track = t;
		r.verify_diffs = min_t(u64, x->missed, U32_MAX);
		r.tracking |= COWLAB_RF_TRK_VERIFIED;
	}
	if (ret && x->copied)
		ch->broken = true;	/* C may hold a released run: never resume it */
	/*
	 * P's entries that copy_page_range() write-protected lie in the runs re-copied: flush
	 * those (a few pages are flushed one by one, more at once: the arch decides), not
	 * all of P's TLB after a sync that changed three pages.
	 */
	if (x->copied)
		static_call(cowlab_flush_tlb_mm_range)(x->pmm, x->flush_lo, x->flush_hi, PAGE_SHIFT,
						       false);

	mmap_write_unlock(x->cmm);
	mmap_write_unlock(x->pmm);
out_untrack:
	if (x->track) {
		WRITE_ONCE(x->track->syncer, NULL);
		r.dirty_pending = bitmap_weight(x->track->dirty, x->track->nbits);
	}

	if (!ret && r.status == COWLAB_RF_COMPLETE) {
		ch->gen++;
		/* Not parked again until C has taken this generation and come back. */
		WRITE_ONCE(ch->parked, false);
		wake_up_all(&ch->wq);
	}
	r.generation = ch->gen;
	if (x->stop_page)
		unpin_user_page(x->stop_page);
out_mmput:
	mmput(x->cmm);
out_unlock_child:
	mutex_unlock(&ch->lock);
out_free:
	if (ch)
		rf_child_put(ch);
	if (child)
		put_task_struct(child);
	rf_defer_push(x);
	kvfree(x->pairs);
	kfree(x);
	kfree(ranges);
	if (ret)
		return ret;
	r.ns = ktime_get_ns() - t0;
	trace_cowlab_refork(r.pid, r.status, r.stop_reason, r.ptes_updated, r.ns);
	if (copy_to_user(arg, &r, sizeof(r)))
		return -EFAULT;
	return 0;
}

long cowlab_refork_ioctl(unsigned int cmd, void __user *arg)
{
	switch (cmd) {
	case COWLAB_IOC_REFORK:
		return rf_ioctl_refork(arg);
	case COWLAB_IOC_RF_WAIT:
		if (!rf_ready)
			return -EOPNOTSUPP;
		return rf_ioctl_wait(arg);
	default:
		return -EINVAL;		/* a known number with another size */
	}
}

/*
 * Resolve @n functions by name (cowlab_resolve_function(): IBT-safe) into @a; the name of
 * the first one missing, or NULL.
 */
static const char *rf_resolve(const char *const *names, unsigned int n, unsigned long *a)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		a[i] = cowlab_resolve_function(names[i]);
		if (!a[i])
			return names[i];
	}
	return NULL;
}

/* The in-place path's functions; one missing turns the path off (every difference a run). */
static void rf_inplace_init(void)
{
#ifdef CONFIG_MMU_NOTIFIER
	static const char *const names[] = { CL_REMOVE_RMAP_NAME, "vm_normal_page",
					     "__mmu_notifier_invalidate_range_start",
					     "__mmu_notifier_invalidate_range_end" };
	unsigned long a[ARRAY_SIZE(names)];
	const char *missing = rf_resolve(names, ARRAY_SIZE(names), a);

	if (missing) {
		pr_warn("refork: in-place re-sync off: %s not resolved\n", missing);
		return;
	}
	static_call_update(cowlab_remove_rmap, (cl_remove_rmap_t *)a[0]);
	static_call_update(cowlab_vm_normal_page, (void *)a[1]);
	static_call_update(cowlab_mn_start, (cl_mn_start_t *)a[2]);
	static_call_update(cowlab_mn_end, (cl_mn_end_t *)a[3]);
	rf_inplace_ready = true;
#endif
}

int cowlab_refork_init(void)
{
	static const char *const names[] = { "copy_page_range", "flush_tlb_mm_range",
					     "tlb_gather_mmu", "tlb_finish_mmu", "free_pgd_range" };
	unsigned long a[ARRAY_SIZE(names)];
	const char *missing = rf_resolve(names, ARRAY_SIZE(names), a);

	if (missing) {
		pr_warn("refork disabled: %s not resolved\n", missing);
		return 0;
	}
	static_call_update(cowlab_copy_page_range, (void *)a[0]);
	static_call_update(cowlab_flush_tlb_mm_range, (void *)a[1]);
	static_call_update(cowlab_tlb_gather_mmu, (void *)a[2]);
	static_call_update(cowlab_tlb_finish_mmu, (void *)a[3]);
	static_call_update(cowlab_free_pgd_range, (void *)a[4]);
	rf_ready = true;
	rf_inplace_init();
	return 0;
}

void cowlab_refork_exit(void)
{
	struct rf_child *ch, *tmp;

	WRITE_ONCE(rf_ready, false);
	cancel_delayed_work_sync(&rf_gc_work);
	/* No sync runs (no file is open): every batch is queued, the last work frees it. */
	flush_work(&rf_defer_work);
	WARN_ON(!llist_empty(&rf_defer_list));
	/* No file is open, so no sync or wait runs: only the list holds references. */
	mutex_lock(&rf_children_lock);
	list_for_each_entry_safe(ch, tmp, &rf_children, node) {
		list_del(&ch->node);
		rf_child_put(ch);
	}
	mutex_unlock(&rf_children_lock);
	rf_probe_exit();
}
