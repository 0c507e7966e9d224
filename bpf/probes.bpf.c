// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab's measuring probes: fork, page-table copy, COW fault, fault kinds,
 * swap and reclaim latency, into per-CPU log-linear histograms (hist.h).
 *
 * Most probes come in three variants over the same handler: fentry/fexit,
 * kprobe/kretprobe and a tracepoint where one exists. Programs are declared
 * without a target; the loader (tools/lib/probes.c) picks a variant per probe
 * at run time, sets the target function (renames and inlining differ between
 * kernels), loads only what it chose and says so. Every timed pair stores its
 * start in a per-thread slot (struct tstate) and ends in a histogram.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "probes.h"

#define VM_SHARED_FLAG		0x00000008UL
#define VM_FAULT_MAJOR_FLAG	0x0004
#define PF_KTHREAD_FLAG		0x00200000
#define PF_WRITE_BIT		(1UL << 1)
#define PF_PROT_BIT		(1UL << 0)

/* Filters, fixed at load time. */
const volatile bool filt_pid = false;		/* only tgids in @tracked (and their children) */
const volatile bool filt_cgroup = false;	/* only tasks under cgroup_map[0] */
const volatile bool filt_comm_on = false;
const volatile char filt_comm[16] = {};
/* Parts of shared programs that only run when their probe was asked for. */
const volatile bool want_first_run = false;
const volatile bool want_pgtables = false;
const volatile bool want_cpr = false;

enum ts_slot {
	TS_FORK, TS_DUP, TS_CPR, TS_WP, TS_FAULT, TS_SWAPIN, TS_SWAPREAD, TS_SWAPWRITE,
	TS_DRECLAIM, TS_MRECLAIM, TS_SWAPALLOC, TS_NR,
};

struct tstate {
	__u64 ts[TS_NR];
	__u64 cpr_sum;		/* copy_page_range ns in the fork in progress */
	__u32 fork_nr;		/* syscall number of the fork in progress */
	__u32 fault_flags;	/* CL_FF_* seen inside the fault in progress */
	__u8 fault_anon;
	__u8 wp_shared;
	__u8 wp_copied;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct tstate);
} tstate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} firstrun SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CL_H_NR);
	__type(key, __u32);
	__type(value, struct cl_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CL_C_NR);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 id)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &id);

	if (c)
		*c += 1;
}

static __always_inline void hist_add(__u32 id, __u64 v)
{
	struct cl_hist *h = bpf_map_lookup_elem(&hists, &id);
	__u32 i = cl_hist_index(v);

	if (!h || i >= CL_HIST_SLOTS)
		return;
	h->slots[i]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	if (!h->min || v + 1 < h->min)
		h->min = v + 1;
}

static __always_inline bool want(void)
{
	if (filt_pid) {
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;

		if (!bpf_map_lookup_elem(&tracked, &tgid))
			return false;
	}
	if (filt_cgroup && bpf_current_task_under_cgroup(&cgroup_map, 0) != 1)
		return false;
	if (filt_comm_on) {
		char comm[16];
		int i;

		bpf_get_current_comm(comm, sizeof(comm));
#pragma unroll
		for (i = 0; i < 16; i++) {
			if (comm[i] != filt_comm[i])
				return false;
			if (!comm[i])
				break;
		}
	}
	return true;
}

static __always_inline struct tstate *state(bool create)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct tstate *s = bpf_map_lookup_elem(&tstate, &tid);
	struct tstate zero = {};

	if (s || !create)
		return s;
	bpf_map_update_elem(&tstate, &tid, &zero, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&tstate, &tid);
	if (!s)
		count(CL_C_STATE_FULL);
	return s;
}

static __always_inline struct tstate *ts_begin(int slot)
{
	struct tstate *s;

	if (!want())
		return NULL;
	s = state(true);
	if (s)
		s->ts[slot] = bpf_ktime_get_ns();
	return s;
}

/* Ends @slot's interval if one is open; returns its length, or 0. */
static __always_inline __u64 ts_end(int slot, int hist)
{
	struct tstate *s = state(false);
	__u64 d;

	if (!s || !s->ts[slot])
		return 0;
	d = bpf_ktime_get_ns() - s->ts[slot];
	s->ts[slot] = 0;
	if (hist >= 0)
		hist_add(hist, d);
	return d;
}

/* ---- fork latency: kernel_clone, or the fork syscalls' tracepoints ------ */

static __always_inline int fork_hist(long nr)
{
	switch (nr) {
	case 57: return CL_H_FORK;	/* x86_64 syscall numbers */
	case 58: return CL_H_VFORK;
	case 56: return CL_H_CLONE;
	case 435: return CL_H_CLONE3;
	}
	return -1;
}

static __always_inline void fork_begin(long nr)
{
	struct tstate *s;

	if (fork_hist(nr) < 0)
		return;
	s = ts_begin(TS_FORK);
	if (s)
		s->fork_nr = nr;
}

static __always_inline void fork_end(void)
{
	struct tstate *s = state(false);
	__u64 d;
	int h;

	if (!s || !s->ts[TS_FORK])
		return;
	d = bpf_ktime_get_ns() - s->ts[TS_FORK];
	s->ts[TS_FORK] = 0;
	h = fork_hist(s->fork_nr);
	if (h >= 0)
		hist_add(h, d);
}

/* The syscall the current task is in: kernel_clone() serves all four. */
static __always_inline long current_syscall(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct pt_regs *regs;

	if (BPF_CORE_READ(t, flags) & PF_KTHREAD_FLAG)
		return -1;
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
	return BPF_CORE_READ(regs, orig_ax);
}

SEC("fentry")
int BPF_PROG(fe_fork)
{
	fork_begin(current_syscall());
	return 0;
}

SEC("fexit")
int BPF_PROG(fx_fork)
{
	fork_end();
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_fork)
{
	fork_begin(current_syscall());
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(kr_fork)
{
	fork_end();
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(tp_sys_enter, struct pt_regs *regs, long id)
{
	fork_begin(id);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(tp_sys_exit, struct pt_regs *regs, long ret)
{
	if (fork_hist(BPF_CORE_READ(regs, orig_ax)) >= 0)
		fork_end();
	return 0;
}

/* ---- process lifetime: descendants, first run, page tables received ----- */

SEC("raw_tp/sched_process_fork")
int BPF_PROG(tp_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	__u32 cpid = BPF_CORE_READ(child, pid);
	struct mm_struct *cmm, *pmm;
	struct tstate *s;
	__u8 one = 1;
	__u64 now;

	if (filt_pid && ptgid != ctgid && bpf_map_lookup_elem(&tracked, &ptgid))
		bpf_map_update_elem(&tracked, &ctgid, &one, BPF_ANY);
	if (!want())
		return 0;
	count(ptgid == ctgid ? CL_C_THREADS : CL_C_FORKS);
	now = bpf_ktime_get_ns();
	if (want_first_run)
		bpf_map_update_elem(&firstrun, &cpid, &now, BPF_ANY);
	cmm = BPF_CORE_READ(child, mm);
	pmm = BPF_CORE_READ(parent, mm);
	if (want_pgtables && cmm && cmm != pmm)
		hist_add(CL_H_PGTABLE_BYTES, BPF_CORE_READ(cmm, pgtables_bytes.counter));
	if (want_cpr && cmm != pmm) {
		s = state(false);
		if (s && s->cpr_sum) {
			hist_add(CL_H_CPR_FORK, s->cpr_sum);
			s->cpr_sum = 0;
		}
	}
	return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(tp_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = BPF_CORE_READ(next, pid);
	__u64 *ts = bpf_map_lookup_elem(&firstrun, &pid);

	if (ts) {
		hist_add(CL_H_FIRST_RUN, bpf_ktime_get_ns() - *ts);
		bpf_map_delete_elem(&firstrun, &pid);
	}
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(tp_exit)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;

	bpf_map_delete_elem(&tstate, &tid);
	bpf_map_delete_elem(&firstrun, &tid);
	if (tid == tgid)
		bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/* ---- dup_mmap (6.12 inlines it: the loader brackets it instead) ---------- */

SEC("fentry")
int BPF_PROG(fe_dup)
{
	ts_begin(TS_DUP);
	return 0;
}

SEC("fexit")
int BPF_PROG(fx_dup)
{
	ts_end(TS_DUP, CL_H_DUP_MMAP);
	return 0;
}

/* fentry on uprobe_end_dup_mmap(), the call right after dup_mmap() returns */
SEC("fentry")
int BPF_PROG(fe_dup_end)
{
	ts_end(TS_DUP, CL_H_DUP_MMAP);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_dup)
{
	ts_begin(TS_DUP);
	return 0;
}

/* attached as a kretprobe on dup_mmap or a kprobe on uprobe_end_dup_mmap */
SEC("kprobe")
int BPF_KPROBE(kr_dup)
{
	ts_end(TS_DUP, CL_H_DUP_MMAP);
	return 0;
}

/* ---- copy_page_range: per call, and summed per fork ---------------------- */

static __always_inline void cpr_end(void)
{
	struct tstate *s;
	__u64 d = ts_end(TS_CPR, CL_H_CPR_CALL);

	if (!d)
		return;
	s = state(false);
	if (s)
		s->cpr_sum += d;
}

SEC("fentry")
int BPF_PROG(fe_cpr)
{
	ts_begin(TS_CPR);
	return 0;
}

SEC("fexit")
int BPF_PROG(fx_cpr)
{
	cpr_end();
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_cpr)
{
	ts_begin(TS_CPR);
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(kr_cpr)
{
	cpr_end();
	return 0;
}

/* ---- COW: do_wp_page by outcome ----------------------------------------- */

static __always_inline void wp_begin(struct vm_fault *vmf)
{
	struct tstate *s = ts_begin(TS_WP);

	if (!s)
		return;
	s->wp_copied = 0;
	s->wp_shared = !!(BPF_CORE_READ(vmf, vma, vm_flags) & VM_SHARED_FLAG);
	if (s->ts[TS_FAULT])
		s->fault_flags |= CL_FF_COW;
}

/* wp_page_copy(), or the new-anon-rmap call only it makes inside do_wp_page() */
static __always_inline void wp_mark_copy(void)
{
	struct tstate *s = state(false);

	if (s && s->ts[TS_WP])
		s->wp_copied = 1;
}

static __always_inline void wp_end(void)
{
	struct tstate *s = state(false);
	__u64 d;

	if (!s || !s->ts[TS_WP])
		return;
	d = bpf_ktime_get_ns() - s->ts[TS_WP];
	s->ts[TS_WP] = 0;
	hist_add(s->wp_shared ? CL_H_WP_SHARED : s->wp_copied ? CL_H_WP_COPY : CL_H_WP_REUSE, d);
}

SEC("fentry")
int BPF_PROG(fe_wp, struct vm_fault *vmf)
{
	wp_begin(vmf);
	return 0;
}

SEC("fexit")
int BPF_PROG(fx_wp)
{
	wp_end();
	return 0;
}

SEC("fentry")
int BPF_PROG(fe_wp_copy)
{
	wp_mark_copy();
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_wp, struct vm_fault *vmf)
{
	wp_begin(vmf);
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(kr_wp)
{
	wp_end();
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_wp_copy)
{
	wp_mark_copy();
	return 0;
}

/* ---- every fault: handle_mm_fault by kind; the trap tracepoint as fallback */

static __always_inline void fault_begin(struct vm_area_struct *vma)
{
	struct tstate *s = ts_begin(TS_FAULT);

	if (!s)
		return;
	s->fault_flags = 0;
	/* vma_is_anonymous(); read now: a retried fault may have lost the vma */
	s->fault_anon = !BPF_CORE_READ(vma, vm_ops);
}

static __always_inline void fault_end(unsigned int ret)
{
	struct tstate *s = state(false);
	bool major = ret & VM_FAULT_MAJOR_FLAG;
	__u64 d;
	int h;

	if (!s || !s->ts[TS_FAULT])
		return;
	d = bpf_ktime_get_ns() - s->ts[TS_FAULT];
	s->ts[TS_FAULT] = 0;
	if (s->fault_flags & CL_FF_COW)
		h = CL_H_FAULT_COW;
	else if (s->fault_flags & CL_FF_SWAP)
		h = CL_H_FAULT_SWAP;
	else if (s->fault_anon)
		h = CL_H_FAULT_ANON;
	else
		h = CL_H_FAULT_FILE;
	hist_add(h + major, d);
}

SEC("fentry")
int BPF_PROG(fe_fault, struct vm_area_struct *vma)
{
	fault_begin(vma);
	return 0;
}

SEC("fexit")
int BPF_PROG(fx_fault, struct vm_area_struct *vma, unsigned long address, unsigned int flags,
	     struct pt_regs *regs, vm_fault_t ret)
{
	fault_end(ret);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_fault, struct vm_area_struct *vma)
{
	fault_begin(vma);
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(kr_fault, unsigned int ret)
{
	fault_end(ret);
	return 0;
}

SEC("raw_tp/page_fault_user")
int BPF_PROG(tp_trap, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	if (!want())
		return 0;
	if (!(error_code & PF_WRITE_BIT))
		count(CL_C_TRAP_READ);
	else if (error_code & PF_PROT_BIT)
		count(CL_C_TRAP_WP);
	else
		count(CL_C_TRAP_WRITE_NP);
	return 0;
}

/* ---- swap-in, swap I/O, reclaim ------------------------------------------ */

static __always_inline void swapin_begin(void)
{
	struct tstate *s = ts_begin(TS_SWAPIN);

	if (s && s->ts[TS_FAULT])
		s->fault_flags |= CL_FF_SWAP;
}

SEC("fentry")
int BPF_PROG(fe_swapin)
{
	swapin_begin();
	return 0;
}

SEC("fexit")
int BPF_PROG(fx_swapin)
{
	ts_end(TS_SWAPIN, CL_H_SWAPIN);
	return 0;
}

SEC("kprobe")
int BPF_KPROBE(kp_swapin)
{
	swapin_begin();
	return 0;
}

SEC("kretprobe")
int BPF_KRETPROBE(kr_swapin)
{
	ts_end(TS_SWAPIN, CL_H_SWAPIN);
	return 0;
}

/* The plain begin/end pairs: fentry/fexit and kprobe/kretprobe programs. */
#define CL_TIMED_PAIR(name, slot, hist)				\
	SEC("fentry") int BPF_PROG(fe_##name)			\
	{ ts_begin(slot); return 0; }				\
	SEC("fexit") int BPF_PROG(fx_##name)			\
	{ ts_end(slot, hist); return 0; }			\
	SEC("kprobe") int BPF_KPROBE(kp_##name)			\
	{ ts_begin(slot); return 0; }				\
	SEC("kretprobe") int BPF_KRETPROBE(kr_##name)		\
	{ ts_end(slot, hist); return 0; }

CL_TIMED_PAIR(swapread, TS_SWAPREAD, CL_H_SWAP_READ)
CL_TIMED_PAIR(swapwrite, TS_SWAPWRITE, CL_H_SWAP_WRITE)
CL_TIMED_PAIR(swapalloc, TS_SWAPALLOC, CL_H_SWAP_ALLOC)
CL_TIMED_PAIR(dreclaim, TS_DRECLAIM, CL_H_DIRECT_RECLAIM)
CL_TIMED_PAIR(mreclaim, TS_MRECLAIM, CL_H_MEMCG_RECLAIM)

SEC("raw_tp/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(tp_dreclaim_begin)
{
	ts_begin(TS_DRECLAIM);
	return 0;
}

SEC("raw_tp/mm_vmscan_direct_reclaim_end")
int BPF_PROG(tp_dreclaim_end)
{
	ts_end(TS_DRECLAIM, CL_H_DIRECT_RECLAIM);
	return 0;
}

SEC("raw_tp/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(tp_mreclaim_begin)
{
	ts_begin(TS_MRECLAIM);
	return 0;
}

SEC("raw_tp/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(tp_mreclaim_end)
{
	ts_end(TS_MRECLAIM, CL_H_MEMCG_RECLAIM);
	return 0;
}

/* ---- the cowlab module's own tracepoint (module/trace.h) ---------------- */

SEC("raw_tp/cowlab_ca_batch")
int BPF_PROG(tp_ca_batch, unsigned long addr, unsigned int window, unsigned long broken,
	     unsigned long ns)
{
	if (!want())
		return 0;
	hist_add(CL_H_CA_BATCH_NS, ns);
	hist_add(CL_H_CA_BATCH_PAGES, broken);
	return 0;
}

SEC("raw_tp/cowlab_refork")
int BPF_PROG(tp_refork, int child, unsigned int status, unsigned int stop_reason,
	     unsigned long ptes_updated, unsigned long ns)
{
	if (!want())
		return 0;
	hist_add(CL_H_REFORK, ns);
	hist_add(CL_H_REFORK_PTES, ptes_updated);
	count(status ? CL_C_RF_PARTIAL : CL_C_RF_COMPLETE);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
