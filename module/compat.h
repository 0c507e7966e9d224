/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowlab: the kernel API differences between the kernels of the matrix (6.1, 6.12, 7.3),
 * in one place. Each gate was checked against those three kernels' sources only; a kernel
 * between them may need its own.
 */
#ifndef COWLAB_COMPAT_H
#define COWLAB_COMPAT_H

#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/ptrace.h>
#include <linux/string.h>
#include <linux/rmap.h>
#include <linux/version.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/leafops.h>
#else
#include <linux/swapops.h>
#endif

/* The uffd-wp bit of a PTE: pte_uffd_wp() before 7.x, pte_uffd() in 7.3. */
static inline bool cl_pte_uffd_wp(pte_t pte)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	return pte_uffd(pte);
#else
	return pte_uffd_wp(pte);
#endif
}

/* A devmap PMD (DAX): pmd_devmap() is gone in 7.3 (DAX PMDs are plain huge PMDs there). */
static inline bool cl_pmd_devmap(pmd_t pmd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	return false;
#else
	return pmd_devmap(pmd);
#endif
}

/*
 * A non-present, non-none PTE that is a swap entry (not migration, device, hwpoison or a
 * marker): its swap slot in *val. softleaf_*() in 7.3, swp_entry_t helpers before.
 */
static inline bool cl_pte_swap_slot(pte_t pte, unsigned long *val)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	softleaf_t e = softleaf_from_pte(pte);

	if (!softleaf_is_swap(e))
		return false;
	*val = e.val;
	return true;
#else
	swp_entry_t e;

	if (pte_none(pte) || pte_present(pte))
		return false;
	e = pte_to_swp_entry(pte);
	if (non_swap_entry(e))
		return false;
	*val = e.val;
	return true;
#endif
}

/*
 * Zap [addr, addr + size) of @vma: zap_vma_range() in 7.x, zap_page_range_single() from 6.3
 * (static before), zap_page_range() in 6.1.
 */
static inline void cl_zap_range(struct vm_area_struct *vma, unsigned long addr,
				unsigned long size)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	zap_vma_range(vma, addr, size);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	zap_page_range_single(vma, addr, size, NULL);
#else
	zap_page_range(vma, addr, size);
#endif
}

/* Write-lock @vma against per-VMA-lock readers (6.4+; before, mmap_lock alone is enough). */
static inline void cl_vma_start_write(struct vm_area_struct *vma)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	vma_start_write(vma);
#endif
}

/* The anon_vma write lock: in linux/rmap.h before 7.x, mm/internal.h (private) in 7.3. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#include <linux/rmap.h>
static inline void anon_vma_lock_write(struct anon_vma *anon_vma)
{
	down_write(&anon_vma->root->rwsem);
}

static inline void anon_vma_unlock_write(struct anon_vma *anon_vma)
{
	up_write(&anon_vma->root->rwsem);
}
#endif

/*
 * In-place re-sync of one small anonymous folio's PTE (refork.c): the rmap calls and the
 * notifier range, whose signatures changed inside the matrix. The rmap removal and the
 * notifier calls are not exported: refork.c resolves them and calls them through static calls
 * of these types.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
typedef void cl_remove_rmap_t(struct folio *folio, struct page *page, int nr_pages,
			      struct vm_area_struct *vma);
#define CL_REMOVE_RMAP_NAME	"folio_remove_rmap_ptes"
#define cl_remove_rmap_call(fn, folio, page, vma)	fn(folio, page, 1, vma)
#else
typedef void cl_remove_rmap_t(struct page *page, struct vm_area_struct *vma, bool compound);
#define CL_REMOVE_RMAP_NAME	"page_remove_rmap"
#define cl_remove_rmap_call(fn, folio, page, vma)	((void)(folio), fn(page, vma, false))
#endif

/* fork()'s duplication of P's mapping (0, or -EBUSY: the page may be pinned, copy it). */
static inline int cl_try_dup_anon_rmap(struct folio *folio, struct page *page,
				       struct vm_area_struct *dst, struct vm_area_struct *src)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	return folio_try_dup_anon_rmap_pte(folio, page, dst, src);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return folio_try_dup_anon_rmap_pte(folio, page, src);
#else
	return page_try_dup_anon_rmap(page, false, src);
#endif
}

#ifdef CONFIG_MMU_NOTIFIER
typedef int cl_mn_start_t(struct mmu_notifier_range *range);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
typedef void cl_mn_end_t(struct mmu_notifier_range *range);
#define cl_mn_end_call(fn, range)	fn(range)
#else
typedef void cl_mn_end_t(struct mmu_notifier_range *range, bool only_end);
#define cl_mn_end_call(fn, range)	fn(range, false)
#endif

static inline void cl_mn_range_init(struct mmu_notifier_range *range,
				    enum mmu_notifier_event event, struct vm_area_struct *vma,
				    unsigned long start, unsigned long end)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	mmu_notifier_range_init(range, event, 0, vma->vm_mm, start, end);
#else
	mmu_notifier_range_init(range, event, 0, vma, vma->vm_mm, start, end);
#endif
	range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
}
#endif

/*
 * Where userfaultfd fills entries without a fault (refork.c, rf_uffd_pre): the functions
 * probed and the mm and range [*s, *e) one call may fill. 6.1: each fill, mcopy_atomic(mm,
 * dst, src, len, ...), mfill_zeropage(mm, dst, len, ...) and mcopy_continue(mm, dst, len,
 * ...). 6.12 and 7.3: the VMA's uffd flags changed at registration and unregistration,
 * vma_modify_flags_uffd(vmi, prev, vma, start, end, ...) (the fills are static there in 7.3).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define CL_UFFD_PROBES	"vma_modify_flags_uffd"
static inline struct mm_struct *cl_uffd_range(const char *fn, struct pt_regs *regs,
					      unsigned long *s, unsigned long *e)
{
	struct vm_area_struct *vma = (void *)regs_get_kernel_argument(regs, 2);

	*s = regs_get_kernel_argument(regs, 3);
	*e = regs_get_kernel_argument(regs, 4);
	return vma ? READ_ONCE(vma->vm_mm) : NULL;
}
#else
#define CL_UFFD_PROBES	"mcopy_atomic", "mfill_zeropage", "mcopy_continue"
static inline struct mm_struct *cl_uffd_range(const char *fn, struct pt_regs *regs,
					      unsigned long *s, unsigned long *e)
{
	unsigned long len = regs_get_kernel_argument(regs, strcmp(fn, "mcopy_atomic") ? 2 : 3);

	*s = regs_get_kernel_argument(regs, 1);
	*e = *s + len < *s ? ULONG_MAX : *s + len;
	return (void *)regs_get_kernel_argument(regs, 0);
}
#endif

/* The workqueue for the GC works: system_wq is deprecated in 7.x (a log line per use). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
#define cl_wq	system_dfl_wq
#else
#define cl_wq	system_wq
#endif

#endif /* COWLAB_COMPAT_H */
