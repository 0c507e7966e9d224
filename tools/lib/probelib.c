// SPDX-License-Identifier: GPL-2.0
/*
 * The probe loader. For each probe it knows the kernel functions to time,
 * with their renames, the BPF programs of each variant, and the tracepoints
 * that can stand in. It asks the kernel (not a version table) what works:
 * fentry by loading and attaching a two-instruction program to the target,
 * kprobes and tracepoints by attaching. What it chose, and why not the
 * others, is reported per probe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "probes.skel.h"
#include "probelib.h"
#include "util.h"

struct fnset {
	const char *enter;
	const char *exit;	/* NULL: the return of @enter; else a call made right after it */
};

struct tpent {
	const char *prog;
	const char *tp;
};

struct desc {
	const char *name, *summary;
	struct fnset fns[3];
	const char *fe_in, *fe_out, *fe_end, *kp_in, *kp_out;
	const char *mark_fns[3], *fe_mark, *kp_mark;	/* cow: the copy marker */
	struct tpent tps[2];
	bool tp_extra;		/* the tracepoints add counts next to fentry/kprobe */
	const char *tp_note;
	int hists[9];
	int counters[4];
	uint32_t implies;
};

#define END -1
static const struct desc descs[CL_P_NR] = {
	[CL_P_FORK] = {
		"fork", "fork/vfork/clone/clone3 latency in the parent, by syscall",
		{ { "kernel_clone" }, { "_do_fork" } },
		"fe_fork", "fx_fork", NULL, "kp_fork", "kr_fork",
		{ 0 }, NULL, NULL,
		{ { "tp_sys_enter", "sys_enter" }, { "tp_sys_exit", "sys_exit" } }, false,
		"syscall entry to exit",
		{ CL_H_FORK, CL_H_VFORK, CL_H_CLONE, CL_H_CLONE3, END }, { END },
	},
	[CL_P_FIRST_RUN] = {
		"firstrun", "child: created to first scheduled in",
		{ { 0 } }, NULL, NULL, NULL, NULL, NULL, { 0 }, NULL, NULL,
		{ { "tp_fork", "sched_process_fork" }, { "tp_switch", "sched_switch" } }, false,
		NULL, { CL_H_FIRST_RUN, END }, { CL_C_FORKS, CL_C_THREADS, END },
	},
	[CL_P_DUP_MMAP] = {
		"dup_mmap", "dup_mmap time per fork (the whole address-space copy)",
		{ { "dup_mmap" }, { "uprobe_start_dup_mmap", "uprobe_end_dup_mmap" } },
		"fe_dup", "fx_dup", "fe_dup_end", "kp_dup", "kr_dup",
		{ 0 }, NULL, NULL, { { 0 } }, false, NULL,
		{ CL_H_DUP_MMAP, END }, { END },
	},
	[CL_P_CPR] = {
		"copy_page_range", "page-table copy: per VMA and summed per fork",
		{ { "copy_page_range" } },
		"fe_cpr", "fx_cpr", NULL, "kp_cpr", "kr_cpr",
		{ 0 }, NULL, NULL, { { 0 } }, false, NULL,
		{ CL_H_CPR_CALL, CL_H_CPR_FORK, END }, { END },
	},
	[CL_P_PGTABLES] = {
		"pgtables", "bytes of page tables each forked child received",
		{ { 0 } }, NULL, NULL, NULL, NULL, NULL, { 0 }, NULL, NULL,
		{ { "tp_fork", "sched_process_fork" } }, false, NULL,
		{ CL_H_PGTABLE_BYTES, END }, { END },
	},
	[CL_P_COW] = {
		"cow", "COW fault (do_wp_page) latency: copied, reused, shared",
		{ { "do_wp_page" } },
		"fe_wp", "fx_wp", NULL, "kp_wp", "kr_wp",
		{ "wp_page_copy", "folio_add_new_anon_rmap", "page_add_new_anon_rmap" },
		"fe_wp_copy", "kp_wp_copy", { { 0 } }, false, NULL,
		{ CL_H_WP_COPY, CL_H_WP_REUSE, CL_H_WP_SHARED, END }, { END },
	},
	[CL_P_FAULTS] = {
		"faults", "page faults (handle_mm_fault) by kind, minor/major; user traps by kind",
		{ { "handle_mm_fault" } },
		"fe_fault", "fx_fault", NULL, "kp_fault", "kr_fault",
		{ 0 }, NULL, NULL, { { "tp_trap", "page_fault_user" } }, true,
		"user-mode traps by kind: counts only, no latency",
		{ CL_H_FAULT_ANON, CL_H_FAULT_ANON_MAJ, CL_H_FAULT_FILE, CL_H_FAULT_FILE_MAJ,
		  CL_H_FAULT_SWAP, CL_H_FAULT_SWAP_MAJ, CL_H_FAULT_COW, CL_H_FAULT_COW_MAJ, END },
		{ CL_C_TRAP_WP, CL_C_TRAP_WRITE_NP, CL_C_TRAP_READ, END },
		(1U << CL_P_COW) | (1U << CL_P_SWAPIN),
	},
	[CL_P_SWAPIN] = {
		"swapin", "swap-in fault (do_swap_page) latency",
		{ { "do_swap_page" } },
		"fe_swapin", "fx_swapin", NULL, "kp_swapin", "kr_swapin",
		{ 0 }, NULL, NULL, { { 0 } }, false, NULL, { CL_H_SWAPIN, END }, { END },
	},
	[CL_P_SWAPREAD] = {
		"swapread", "swap read (submission; the whole read on synchronous devices)",
		{ { "swap_read_folio" }, { "swap_readpage" } },
		"fe_swapread", "fx_swapread", NULL, "kp_swapread", "kr_swapread",
		{ 0 }, NULL, NULL, { { 0 } }, false, NULL, { CL_H_SWAP_READ, END }, { END },
	},
	[CL_P_SWAPOUT] = {
		"swapout", "swap-out write (swap_writepage and its renames)",
		{ { "swap_writepage" }, { "swap_writeout" }, { "__swap_writepage" } },
		"fe_swapwrite", "fx_swapwrite", NULL, "kp_swapwrite", "kr_swapwrite",
		{ 0 }, NULL, NULL, { { 0 } }, false, NULL, { CL_H_SWAP_WRITE, END }, { END },
	},
	[CL_P_DRECLAIM] = {
		"reclaim", "direct reclaim latency",
		{ { "try_to_free_pages" } },
		"fe_dreclaim", "fx_dreclaim", NULL, "kp_dreclaim", "kr_dreclaim",
		{ 0 }, NULL, NULL,
		{ { "tp_dreclaim_begin", "mm_vmscan_direct_reclaim_begin" },
		  { "tp_dreclaim_end", "mm_vmscan_direct_reclaim_end" } }, false, NULL,
		{ CL_H_DIRECT_RECLAIM, END }, { END },
	},
	[CL_P_MRECLAIM] = {
		"memcg_reclaim", "memory-cgroup limit reclaim latency",
		{ { "try_to_free_mem_cgroup_pages" } },
		"fe_mreclaim", "fx_mreclaim", NULL, "kp_mreclaim", "kr_mreclaim",
		{ 0 }, NULL, NULL,
		{ { "tp_mreclaim_begin", "mm_vmscan_memcg_reclaim_begin" },
		  { "tp_mreclaim_end", "mm_vmscan_memcg_reclaim_end" } }, false, NULL,
		{ CL_H_MEMCG_RECLAIM, END }, { END },
	},
	[CL_P_COWAHEAD] = {
		"cowahead", "cowlab module: cow-ahead batches (latency, pages made writable)",
		{ { 0 } }, NULL, NULL, NULL, NULL, NULL, { 0 }, NULL, NULL,
		{ { "tp_ca_batch", "cowlab_ca_batch" } }, false, NULL,
		{ CL_H_CA_BATCH_NS, CL_H_CA_BATCH_PAGES, END }, { END },
	},
	[CL_P_REFORK] = {
		"refork", "cowlab module: refork calls (sync latency, entries re-copied, complete/partial)",
		{ { 0 } }, NULL, NULL, NULL, NULL, NULL, { 0 }, NULL, NULL,
		{ { "tp_refork", "cowlab_refork" } }, false, NULL,
		{ CL_H_REFORK, CL_H_REFORK_PTES, END }, { CL_C_RF_COMPLETE, CL_C_RF_PARTIAL, END },
	},
	/*
	 * 6.1-6.12: folio_alloc_swap() takes a slot from a per-CPU cache that
	 * get_swap_pages() refills 64 at a time (the cluster scanner); 6.13 on drop
	 * the cache and folio_alloc_swap() allocates from per-CPU clusters itself.
	 */
	[CL_P_SWAPALLOC] = {
		"swapalloc", "swap-slot allocation (folio_alloc_swap; else the refill get_swap_pages)",
		{ { "folio_alloc_swap" }, { "get_swap_pages" } },
		"fe_swapalloc", "fx_swapalloc", NULL, "kp_swapalloc", "kr_swapalloc",
		{ 0 }, NULL, NULL, { { 0 } }, false, NULL, { CL_H_SWAP_ALLOC, END }, { END },
	},
};

static const char *const hist_names[CL_H_NR] = {
	[CL_H_FORK] = "fork.fork", [CL_H_VFORK] = "fork.vfork", [CL_H_CLONE] = "fork.clone",
	[CL_H_CLONE3] = "fork.clone3", [CL_H_FIRST_RUN] = "firstrun",
	[CL_H_DUP_MMAP] = "dup_mmap", [CL_H_CPR_CALL] = "copy_page_range.call",
	[CL_H_CPR_FORK] = "copy_page_range.fork", [CL_H_PGTABLE_BYTES] = "pgtables.bytes",
	[CL_H_WP_COPY] = "cow.copy", [CL_H_WP_REUSE] = "cow.reuse", [CL_H_WP_SHARED] = "cow.shared",
	[CL_H_FAULT_ANON] = "faults.anon.minor", [CL_H_FAULT_ANON_MAJ] = "faults.anon.major",
	[CL_H_FAULT_FILE] = "faults.file.minor", [CL_H_FAULT_FILE_MAJ] = "faults.file.major",
	[CL_H_FAULT_SWAP] = "faults.swap.minor", [CL_H_FAULT_SWAP_MAJ] = "faults.swap.major",
	[CL_H_FAULT_COW] = "faults.cow.minor", [CL_H_FAULT_COW_MAJ] = "faults.cow.major",
	[CL_H_SWAPIN] = "swapin", [CL_H_SWAP_READ] = "swapread", [CL_H_SWAP_WRITE] = "swapout",
	[CL_H_DIRECT_RECLAIM] = "reclaim", [CL_H_MEMCG_RECLAIM] = "memcg_reclaim",
	[CL_H_CA_BATCH_NS] = "cowahead.batch", [CL_H_CA_BATCH_PAGES] = "cowahead.batch_pages",
	[CL_H_REFORK] = "refork.sync", [CL_H_REFORK_PTES] = "refork.ptes_updated",
	[CL_H_SWAP_ALLOC] = "swapalloc",
};

static const char *const counter_names[CL_C_NR] = {
	[CL_C_TRAP_WP] = "traps.write_protect", [CL_C_TRAP_WRITE_NP] = "traps.write_not_present",
	[CL_C_TRAP_READ] = "traps.read", [CL_C_FORKS] = "forks", [CL_C_THREADS] = "threads",
	[CL_C_STATE_FULL] = "lost.state_full", [CL_C_RF_COMPLETE] = "refork.complete",
	[CL_C_RF_PARTIAL] = "refork.partial",
};

#define MAX_LINKS 64

struct cl_probes {
	struct probes_bpf *skel;
	uint32_t mask;		/* asked for, plus what they imply */
	uint32_t asked;
	struct cl_probe_status st[CL_P_NR];
	struct bpf_link *links[MAX_LINKS];	/* NULL while detached (cl_probes_detach) */
	struct bpf_program *linked[MAX_LINKS];
	struct link_how {			/* how to attach links[i] again */
		enum { L_TRACE, L_KPROBE, L_RAW_TP } kind;
		bool ret;
		const char *target;		/* kprobe function, raw tracepoint (static) */
	} how[MAX_LINKS];
	int nlinks;
	int cgroup_fd;
	int ncpus;
	void *buf;
};

const char *cl_probe_name(int id) { return descs[id].name; }
const char *cl_probe_summary(int id) { return descs[id].summary; }
const int *cl_probe_hists(int id) { return descs[id].hists; }
const int *cl_probe_counters(int id) { return descs[id].counters; }
const char *cl_hist_name(int h) { return hist_names[h]; }
const char *cl_counter_name(int c) { return counter_names[c]; }

enum cl_unit cl_hist_unit(int h)
{
	return h == CL_H_PGTABLE_BYTES ? CL_UNIT_BYTES :
	       h == CL_H_CA_BATCH_PAGES || h == CL_H_REFORK_PTES ? CL_UNIT_COUNT : CL_UNIT_NS;
}

const char *cl_method_name(enum cl_method m)
{
	static const char *const n[] = { "none", "fentry", "kprobe", "tracepoint" };

	return n[m];
}

int cl_method_parse(const char *s)
{
	if (!strcmp(s, "auto"))
		return CL_M_NONE;
	if (!strcmp(s, "fentry"))
		return CL_M_FENTRY;
	if (!strcmp(s, "kprobe"))
		return CL_M_KPROBE;
	if (!strcmp(s, "tracepoint") || !strcmp(s, "tp"))
		return CL_M_TRACEPOINT;
	return -1;
}

int cl_probe_parse(const char *list, uint32_t *mask, char *err, size_t len)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int i, n = 0;

	*mask = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all")) {
			*mask = (1U << CL_P_NR) - 1;
			n++;
			continue;
		}
		for (i = 0; i < CL_P_NR; i++)
			if (!strcmp(tok, descs[i].name))
				break;
		if (i == CL_P_NR) {
			size_t o = snprintf(err, len, "unknown probe '%s' (known:", tok);

			for (i = 0; i < CL_P_NR && o < len; i++)
				o += snprintf(err + o, len - o, " %s", descs[i].name);
			if (o < len)
				snprintf(err + o, len - o, ")");
			free(copy);
			return -1;
		}
		*mask |= 1U << i;
		n++;
	}
	free(copy);
	if (!n) {
		snprintf(err, len, "empty probe list");
		return -1;
	}
	return 0;
}

int cl_probes_check_caps(char *err, size_t len)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { 0 };
	bool sys_admin, bpf, perfmon;

	if (syscall(SYS_capget, &hdr, d))
		return 0;	/* cannot tell: let the kernel decide */
	sys_admin = d[0].effective & (1U << CAP_SYS_ADMIN);
	bpf = d[CAP_BPF / 32].effective & (1U << (CAP_BPF % 32));
	perfmon = d[CAP_PERFMON / 32].effective & (1U << (CAP_PERFMON % 32));
	if (sys_admin || (bpf && perfmon))
		return 0;
	snprintf(err, len, "BPF tracing needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); "
		 "this process lacks %s%s%s: run it as root",
		 bpf ? "" : "CAP_BPF", !bpf && !perfmon ? " and " : "", perfmon ? "" : "CAP_PERFMON");
	return -1;
}

/* ---- what the kernel allows ----------------------------------------------- */

static struct btf *vmlinux_btf;
static char libbpf_msg[1024];
static char fentry_refused[160];	/* set when the kernel refuses fentry as such */

static int keep_last_error(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	if (line[0])
		snprintf(libbpf_msg, sizeof(libbpf_msg), "%s", line);
	return 0;
}

static int trivial_prog(enum bpf_prog_type type, enum bpf_attach_type at, __u32 btf_id)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 },	/* r0 = 0 */
		{ .code = 0x95 },				/* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = at,
		    .attach_btf_id = btf_id);

	return bpf_prog_load(type, NULL, "GPL", insns, 2, &opts);
}

/* Can fentry attach to @fn here? 1 yes; 0 no, with the reason in @why. */
static int fentry_ok(const char *fn, char *why, size_t len)
{
	int id, fd, lfd;

	if (fentry_refused[0]) {
		snprintf(why, len, "%s", fentry_refused);
		return 0;
	}
	if (!vmlinux_btf) {
		vmlinux_btf = btf__load_vmlinux_btf();
		if (!vmlinux_btf) {
			snprintf(why, len, "no kernel BTF");
			return 0;
		}
	}
	id = btf__find_by_name_kind(vmlinux_btf, fn, BTF_KIND_FUNC);
	if (id < 0) {
		snprintf(why, len, "%s not in kernel BTF (inlined or renamed)", fn);
		return 0;
	}
	fd = trivial_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, id);
	if (fd < 0 && (errno == EPERM || errno == EOPNOTSUPP || errno == 524 /* ENOTSUPP */)) {
		snprintf(fentry_refused, sizeof(fentry_refused),
			 "refused by this kernel (loading a program for %s: %s)", fn,
			 errno == 524 ? "not supported" : strerror(errno));
		snprintf(why, len, "%s", fentry_refused);
		return 0;
	}
	if (fd < 0) {
		snprintf(why, len, "%s: load %s", fn, strerror(errno));
		return 0;
	}
	lfd = bpf_raw_tracepoint_open(NULL, fd);
	if (lfd < 0) {
		snprintf(why, len, "%s: attach %s", fn, strerror(errno));
		close(fd);
		return 0;
	}
	close(lfd);
	close(fd);
	return 1;
}

static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;

	if (o && o + 2 < len) {
		buf[o++] = ';';
		buf[o++] = ' ';
		buf[o] = 0;
	}
	va_start(ap, fmt);
	if (o < len)
		vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

/* ---- plan, load, attach ----------------------------------------------------- */

struct plan {
	int fentry_set;		/* index in fns[] chosen for fentry, or -1 */
	const char *fentry_mark;
	char why_fentry[256];
};

static struct bpf_program *prog(struct cl_probes *p, const char *name)
{
	return name ? bpf_object__find_program_by_name(p->skel->obj, name) : NULL;
}

static void enable(struct cl_probes *p, const char *name, const char *target)
{
	struct bpf_program *pg = prog(p, name);

	if (!pg)
		return;
	bpf_program__set_autoload(pg, true);
	if (target)
		bpf_program__set_attach_target(pg, 0, target);
}

static struct bpf_link *link_for(struct cl_probes *p, const struct bpf_program *pg)
{
	int i;

	for (i = 0; i < p->nlinks; i++)
		if (p->linked[i] == pg)
			return p->links[i];
	return NULL;
}

static int keep_link(struct cl_probes *p, struct bpf_program *pg, struct bpf_link *l,
		     int kind, bool ret, const char *target)
{
	if (p->nlinks == MAX_LINKS) {
		bpf_link__destroy(l);
		return -ENOSPC;
	}
	p->how[p->nlinks].kind = kind;
	p->how[p->nlinks].ret = ret;
	p->how[p->nlinks].target = target;
	p->linked[p->nlinks] = pg;
	p->links[p->nlinks++] = l;
	return 0;
}

static void drop_links_from(struct cl_probes *p, int from)
{
	while (p->nlinks > from)
		bpf_link__destroy(p->links[--p->nlinks]);
}

static int attach_fentry(struct cl_probes *p, const struct desc *d, const struct plan *pl)
{
	const struct fnset *f = &d->fns[pl->fentry_set];
	const char *names[3] = { d->fe_in, f->exit ? d->fe_end : d->fe_out, pl->fentry_mark ? d->fe_mark : NULL };
	int i, from = p->nlinks, err;

	for (i = 0; i < 3; i++) {
		struct bpf_program *pg = prog(p, names[i]);
		struct bpf_link *l;

		if (!names[i])
			continue;
		l = bpf_program__attach_trace(pg);
		err = libbpf_get_error(l);
		if (err || (err = keep_link(p, pg, l, L_TRACE, false, NULL))) {
			drop_links_from(p, from);
			return err;
		}
	}
	return 0;
}

static int attach_kp(struct cl_probes *p, struct bpf_program *pg, bool ret, const char *fn)
{
	struct bpf_link *l = bpf_program__attach_kprobe(pg, ret, fn);
	int err = libbpf_get_error(l);

	return err ? err : keep_link(p, pg, l, L_KPROBE, ret, fn);
}

static int attach_kprobe(struct cl_probes *p, const struct desc *d, struct cl_probe_status *st,
			 char *why, size_t len)
{
	int i, from = p->nlinks, err;

	for (i = 0; i < 3 && d->fns[i].enter; i++) {
		const struct fnset *f = &d->fns[i];

		err = attach_kp(p, prog(p, d->kp_in), false, f->enter);
		if (!err)
			err = attach_kp(p, prog(p, d->kp_out), !f->exit, f->exit ? f->exit : f->enter);
		if (err) {
			drop_links_from(p, from);
			appendf(why, len, "kprobe %s: %s", f->enter, strerror(-err));
			continue;
		}
		if (f->exit)
			snprintf(st->target, sizeof(st->target), "%s .. %s (%s is inlined)",
				 f->enter, f->exit, d->fns[0].enter);
		else
			snprintf(st->target, sizeof(st->target), "%s", f->enter);
		return 0;
	}
	return -ENOENT;
}

static int attach_tp(struct cl_probes *p, const struct desc *d, struct cl_probe_status *st,
		     char *why, size_t len)
{
	int i, from = p->nlinks, err = 0;
	size_t o = 0;

	for (i = 0; i < 2 && d->tps[i].prog; i++) {
		struct bpf_program *pg = prog(p, d->tps[i].prog);
		struct bpf_link *l;

		if (link_for(p, pg))
			continue;
		l = bpf_program__attach_raw_tracepoint(pg, d->tps[i].tp);
		err = libbpf_get_error(l);
		if (err || (err = keep_link(p, pg, l, L_RAW_TP, false, d->tps[i].tp))) {
			drop_links_from(p, from);
			appendf(why, len, "tracepoint %s: %s", d->tps[i].tp, strerror(-err));
			return err;
		}
	}
	for (i = 0; i < 2 && d->tps[i].prog; i++)
		o += snprintf(st->target + o, sizeof(st->target) - o, "%s%s", i ? " + " : "",
			      d->tps[i].tp);
	return 0;
}

static int seed_descendants(struct cl_probes *p, pid_t root)
{
	int fd = bpf_map__fd(p->skel->maps.tracked), changed = 1, n = 0, i;
	struct { pid_t pid, ppid; } *t = NULL;
	struct dirent *de;
	__u8 one = 1;
	DIR *dir;

	if (bpf_map_update_elem(fd, &root, &one, BPF_ANY))
		return -errno;
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while ((de = readdir(dir))) {
		char path[64], buf[512], *rp;
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')'))) {
			t = realloc(t, (n + 1) * sizeof(*t));
			t[n].pid = atoi(de->d_name);
			t[n].ppid = 0;
			sscanf(rp + 2, "%*c %d", &t[n].ppid);
			n++;
		}
		fclose(f);
	}
	closedir(dir);
	while (changed) {
		changed = 0;
		for (i = 0; i < n; i++) {
			if (!t[i].ppid || bpf_map_lookup_elem(fd, &t[i].pid, &one) == 0)
				continue;
			if (bpf_map_lookup_elem(fd, &t[i].ppid, &one) == 0) {
				one = 1;
				bpf_map_update_elem(fd, &t[i].pid, &one, BPF_ANY);
				changed = 1;
			}
		}
	}
	free(t);
	return 0;
}

int cl_probes_track(struct cl_probes *p, pid_t pid)
{
	__u8 one = 1;

	return bpf_map_update_elem(bpf_map__fd(p->skel->maps.tracked), &pid, &one, BPF_ANY) ?
	       -errno : 0;
}

static bool has_method(const struct desc *d, enum cl_method m)
{
	switch (m) {
	case CL_M_FENTRY: return d->fe_in != NULL;
	case CL_M_KPROBE: return d->kp_in != NULL;
	case CL_M_TRACEPOINT: return d->tps[0].prog != NULL;
	default: return true;
	}
}

static int open_and_load(struct cl_probes *p, const struct cl_probe_opts *o, struct plan *plan,
			 bool kprobes_load, bool use_fentry, char *err, size_t len)
{
	struct bpf_program *pg;
	int i, e;

	p->skel = probes_bpf__open();
	if (!p->skel) {
		snprintf(err, len, "cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	p->skel->rodata->filt_pid = o->pid > 0;
	p->skel->rodata->filt_cgroup = o->cgroup != NULL;
	if (o->comm) {
		p->skel->rodata->filt_comm_on = true;
		strncpy((char *)p->skel->rodata->filt_comm, o->comm, 15);
	}
	p->skel->rodata->want_first_run = p->mask & (1U << CL_P_FIRST_RUN);
	p->skel->rodata->want_pgtables = p->mask & (1U << CL_P_PGTABLES);
	p->skel->rodata->want_cpr = p->mask & (1U << CL_P_CPR);

	bpf_object__for_each_program(pg, p->skel->obj)
		bpf_program__set_autoload(pg, false);
	enable(p, "tp_fork", NULL);
	enable(p, "tp_exit", NULL);
	for (i = 0; i < CL_P_NR; i++) {
		const struct desc *d = &descs[i];

		if (!(p->mask & (1U << i)))
			continue;
		if (use_fentry && plan[i].fentry_set >= 0) {
			const struct fnset *f = &d->fns[plan[i].fentry_set];

			enable(p, d->fe_in, f->enter);
			if (f->exit)
				enable(p, d->fe_end, f->exit);
			else
				enable(p, d->fe_out, f->enter);
			if (plan[i].fentry_mark)
				enable(p, d->fe_mark, plan[i].fentry_mark);
		}
		if (kprobes_load && (o->force == CL_M_NONE || o->force == CL_M_KPROBE)) {
			enable(p, d->kp_in, NULL);
			enable(p, d->kp_out, NULL);
			enable(p, d->kp_mark, NULL);
		}
		if (o->force == CL_M_NONE || o->force == CL_M_TRACEPOINT || d->tp_extra ||
		    !(d->fe_in || d->kp_in)) {
			enable(p, d->tps[0].prog, NULL);
			enable(p, d->tps[1].prog, NULL);
		}
	}
	libbpf_msg[0] = 0;
	e = probes_bpf__load(p->skel);
	if (e) {
		snprintf(err, len, "loading the BPF programs failed: %s%s%s", strerror(-e),
			 libbpf_msg[0] ? ": " : "", libbpf_msg);
		probes_bpf__destroy(p->skel);
		p->skel = NULL;
		return -1;
	}
	return 0;
}

struct cl_probes *cl_probes_open(const struct cl_probe_opts *o, char *err, size_t len)
{
	libbpf_print_fn_t old = libbpf_set_print(keep_last_error);
	struct plan plan[CL_P_NR];
	struct cl_probes *p = calloc(1, sizeof(*p));
	bool kprobes_load = true, any = false;
	char kp_why[128] = "";
	int i, fd;

	p->cgroup_fd = -1;
	p->asked = o->mask ? o->mask : (1U << CL_P_NR) - 1;
	p->mask = p->asked;
	for (i = 0; i < CL_P_NR; i++)
		if (p->asked & (1U << i))
			p->mask |= descs[i].implies;

	if (o->pid > 0 && kill(o->pid, 0) && errno == ESRCH) {
		snprintf(err, len, "no process with PID %d", (int)o->pid);
		errno = ESRCH;
		goto fail;
	}
	if (o->cgroup) {
		struct statfs sfs;

		p->cgroup_fd = open(o->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->cgroup_fd < 0 || fstatfs(p->cgroup_fd, &sfs) ||
		    sfs.f_type != CGROUP2_SUPER_MAGIC) {
			snprintf(err, len, "'%s' is not a cgroup v2 directory%s%s", o->cgroup,
				 p->cgroup_fd < 0 ? ": " : "", p->cgroup_fd < 0 ? strerror(errno) : "");
			errno = ENOTDIR;
			goto fail;
		}
	}
	if (o->comm && strlen(o->comm) > 15) {
		snprintf(err, len, "command name '%s' is longer than the kernel's 15 characters",
			 o->comm);
		errno = EINVAL;
		goto fail;
	}
	if (cl_probes_check_caps(err, len)) {
		errno = EPERM;
		goto fail;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, len, "this kernel has no BTF (/sys/kernel/btf/vmlinux): the CO-RE "
			 "probes need a kernel built with CONFIG_DEBUG_INFO_BTF");
		errno = ENOTSUP;
		goto fail;
	}

	/* kprobe programs must at least load, or they would sink the whole object */
	fd = trivial_prog(BPF_PROG_TYPE_KPROBE, 0, 0);
	if (access("/sys/bus/event_source/devices/kprobe/type", F_OK) &&
	    access("/sys/kernel/tracing/kprobe_events", F_OK) &&
	    access("/sys/kernel/debug/tracing/kprobe_events", F_OK)) {
		kprobes_load = false;
		snprintf(kp_why, sizeof(kp_why), "kprobe: this kernel has none (no kprobe PMU, "
			 "no kprobe_events)");
		if (fd >= 0)
			close(fd);
	} else if (fd < 0) {
		kprobes_load = false;
		snprintf(kp_why, sizeof(kp_why), "kprobe programs refused: %s", strerror(errno));
	} else {
		close(fd);
	}

	for (i = 0; i < CL_P_NR; i++) {
		const struct desc *d = &descs[i];
		int j;

		plan[i].fentry_set = -1;
		plan[i].fentry_mark = NULL;
		plan[i].why_fentry[0] = 0;
		if (!(p->mask & (1U << i)) || !d->fe_in ||
		    (o->force != CL_M_NONE && o->force != CL_M_FENTRY))
			continue;
		for (j = 0; j < 3 && d->fns[j].enter && plan[i].fentry_set < 0; j++) {
			char why[160];

			if (fentry_ok(d->fns[j].enter, why, sizeof(why)) &&
			    (!d->fns[j].exit || fentry_ok(d->fns[j].exit, why, sizeof(why))))
				plan[i].fentry_set = j;
			else if (fentry_refused[0])
				snprintf(plan[i].why_fentry, sizeof(plan[i].why_fentry), "fentry %s", why);
			else
				appendf(plan[i].why_fentry, sizeof(plan[i].why_fentry), "fentry %s", why);
		}
		for (j = 0; j < 3 && d->mark_fns[j] && plan[i].fentry_set >= 0; j++) {
			char why[160];

			if (fentry_ok(d->mark_fns[j], why, sizeof(why))) {
				plan[i].fentry_mark = d->mark_fns[j];
				break;
			}
		}
	}

	if (open_and_load(p, o, plan, kprobes_load, true, err, len)) {
		/* one fentry target the kernel refused late sinks all: retry without */
		char first[512];

		snprintf(first, sizeof(first), "%s", err);
		if (open_and_load(p, o, plan, kprobes_load, false, err, len))
			goto fail;
		for (i = 0; i < CL_P_NR; i++)
			if (plan[i].fentry_set >= 0) {
				plan[i].fentry_set = -1;
				snprintf(plan[i].why_fentry, sizeof(plan[i].why_fentry), "fentry: %s",
					 first);
			}
	}
	if (p->cgroup_fd >= 0) {
		__u32 key = 0;

		if (bpf_map_update_elem(bpf_map__fd(p->skel->maps.cgroup_map), &key,
					&p->cgroup_fd, BPF_ANY)) {
			snprintf(err, len, "cannot use cgroup '%s': %s", o->cgroup, strerror(errno));
			goto fail;
		}
	}
	if (o->pid > 0 && seed_descendants(p, o->pid)) {
		snprintf(err, len, "cannot follow PID %d: %s", (int)o->pid, strerror(errno));
		goto fail;
	}

	/* the shared lifetime tracepoints: descendants, counters, cleanup */
	for (i = 0; i < 2; i++) {
		const char *names[2] = { "tp_fork", "tp_exit" };
		const char *tps[2] = { "sched_process_fork", "sched_process_exit" };
		struct bpf_program *pg = prog(p, names[i]);
		struct bpf_link *l = bpf_program__attach_raw_tracepoint(pg, tps[i]);

		if (libbpf_get_error(l)) {
			snprintf(err, len, "raw tracepoint %s: %s", tps[i],
				 strerror(-libbpf_get_error(l)));
			goto fail;
		}
		keep_link(p, pg, l, L_RAW_TP, false, tps[i]);
	}

	for (i = 0; i < CL_P_NR; i++) {
		const struct desc *d = &descs[i];
		struct cl_probe_status *st = &p->st[i];
		char why[512] = "";

		if (!(p->mask & (1U << i)))
			continue;
		if (o->force != CL_M_NONE && !has_method(d, o->force)) {
			snprintf(st->reason, sizeof(st->reason), "has no %s variant",
				 cl_method_name(o->force));
			continue;
		}
		if (plan[i].fentry_set >= 0) {
			int e = attach_fentry(p, d, &plan[i]);

			if (!e) {
				const struct fnset *f = &d->fns[plan[i].fentry_set];

				st->method = CL_M_FENTRY;
				if (f->exit)
					snprintf(st->target, sizeof(st->target),
						 "%s .. %s (%s is inlined)", f->enter, f->exit,
						 d->fns[0].enter);
				else
					snprintf(st->target, sizeof(st->target), "%s", f->enter);
			} else {
				appendf(why, sizeof(why), "fentry: %s", strerror(-e));
			}
		} else if (d->fe_in) {
			appendf(why, sizeof(why), "%s", plan[i].why_fentry[0] ? plan[i].why_fentry :
				"fentry not tried");
		}
		if (!st->method && d->kp_in && (o->force == CL_M_NONE || o->force == CL_M_KPROBE)) {
			if (!kprobes_load)
				appendf(why, sizeof(why), "%s", kp_why);
			else if (!attach_kprobe(p, d, st, why, sizeof(why)))
				st->method = CL_M_KPROBE;
		}
		if (d->tps[0].prog && (d->tp_extra || (!st->method &&
			(o->force == CL_M_NONE || o->force == CL_M_TRACEPOINT)))) {
			char tgt[160];

			snprintf(tgt, sizeof(tgt), "%s", st->target);
			if (!attach_tp(p, d, st, why, sizeof(why))) {
				if (!st->method) {
					st->method = CL_M_TRACEPOINT;
					if (d->tp_note)
						appendf(why, sizeof(why), "%s", d->tp_note);
				} else {
					char extra[160];

					snprintf(extra, sizeof(extra), "%s", st->target);
					snprintf(st->target, sizeof(st->target), "%s + tracepoint %s",
						 tgt, extra);
				}
			} else if (st->method) {
				snprintf(st->target, sizeof(st->target), "%s", tgt);
			}
		} else if (!st->method && !d->tps[0].prog) {
			appendf(why, sizeof(why), "no tracepoint exists for it");
		}
		if (i == CL_P_COWAHEAD && !st->method)
			appendf(why, sizeof(why), "is the cowlab module loaded?");
		if (i == CL_P_COW && st->method) {
			const char *m = NULL;
			int j;

			if (st->method == CL_M_FENTRY && plan[i].fentry_mark) {
				m = plan[i].fentry_mark;
			} else if (kprobes_load && d->kp_mark) {
				for (j = 0; j < 3 && d->mark_fns[j] && !m; j++)
					if (!attach_kp(p, prog(p, d->kp_mark), false, d->mark_fns[j]))
						m = d->mark_fns[j];
			}
			if (m)
				snprintf(why, sizeof(why), "copy told from reuse by %s", m);
			else
				snprintf(why, sizeof(why), "copy/reuse split unavailable: every COW "
					 "counted as reuse");
		}
		snprintf(st->reason, sizeof(st->reason), "%s", why);
		if (st->method && (p->asked & (1U << i)))
			any = true;
	}
	if (!any) {
		snprintf(err, len, "none of the probes asked for can attach on this kernel");
		for (i = 0; i < CL_P_NR; i++)
			if (p->asked & (1U << i)) {
				size_t l = strlen(err);

				snprintf(err + l, len - l, "\n  %s: %s", descs[i].name, p->st[i].reason);
			}
		errno = ENOTSUP;
		goto fail;
	}
	p->ncpus = libbpf_num_possible_cpus();
	p->buf = calloc(p->ncpus, sizeof(struct cl_hist));
	libbpf_set_print(old);
	return p;
fail:
	libbpf_set_print(old);
	i = errno;
	cl_probes_close(p);
	errno = i;
	return NULL;
}

const struct cl_probe_status *cl_probes_status(const struct cl_probes *p, int id)
{
	return &p->st[id];
}

bool cl_probes_wanted(const struct cl_probes *p, int id)
{
	return p->asked & (1U << id);
}

int cl_probes_read(struct cl_probes *p, struct cl_snapshot *s)
{
	int fh = bpf_map__fd(p->skel->maps.hists), fc = bpf_map__fd(p->skel->maps.counters);
	struct bpf_program *pg;
	__u32 k;
	int c;

	memset(s, 0, sizeof(*s));
	for (k = 0; k < CL_H_NR; k++) {
		struct cl_hist *v = p->buf;

		if (bpf_map_lookup_elem(fh, &k, v))
			return -errno;
		for (c = 0; c < p->ncpus; c++)
			cl_histo_add(&s->h[k], &v[c]);
	}
	for (k = 0; k < CL_C_NR; k++) {
		__u64 *v = p->buf;

		if (bpf_map_lookup_elem(fc, &k, v))
			return -errno;
		for (c = 0; c < p->ncpus; c++)
			s->c[k] += v[c];
	}
	bpf_object__for_each_program(pg, p->skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(pg);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			s->missed += info.recursion_misses;
	}
	return 0;
}

int cl_probes_run_time(const struct cl_probes *p, uint64_t *ns, uint64_t *runs)
{
	struct bpf_program *pg;

	*ns = *runs = 0;
	bpf_object__for_each_program(pg, p->skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(pg);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		*ns += info.run_time_ns;
		*runs += info.run_cnt;
	}
	return 0;
}

int cl_bpf_stats_enable(void)
{
	return bpf_enable_stats(BPF_STATS_RUN_TIME);
}

void cl_probes_detach(struct cl_probes *p)
{
	int i;

	for (i = 0; i < p->nlinks; i++) {
		bpf_link__destroy(p->links[i]);
		p->links[i] = NULL;
	}
}

int cl_probes_reattach(struct cl_probes *p)
{
	int i, err = 0;

	for (i = 0; i < p->nlinks && !err; i++) {
		struct bpf_program *pg = p->linked[i];
		struct bpf_link *l;

		if (p->links[i])
			continue;
		switch (p->how[i].kind) {
		case L_TRACE:
			l = bpf_program__attach_trace(pg);
			break;
		case L_KPROBE:
			l = bpf_program__attach_kprobe(pg, p->how[i].ret, p->how[i].target);
			break;
		default:
			l = bpf_program__attach_raw_tracepoint(pg, p->how[i].target);
			break;
		}
		err = libbpf_get_error(l);
		if (!err)
			p->links[i] = l;
	}
	if (err)
		cl_probes_detach(p);
	return err;
}

void cl_probes_close(struct cl_probes *p)
{
	if (!p)
		return;
	drop_links_from(p, 0);
	if (p->skel)
		probes_bpf__destroy(p->skel);
	if (p->cgroup_fd >= 0)
		close(p->cgroup_fd);
	free(p->buf);
	free(p);
}

json_t *cl_probes_status_json(const struct cl_probes *p)
{
	json_t *o = json_object();
	int i;

	for (i = 0; i < CL_P_NR; i++) {
		const struct cl_probe_status *st = &p->st[i];

		if (!(p->asked & (1U << i)))
			continue;
		json_object_set_new(o, descs[i].name, json_pack("{s:s,s:s,s:s}",
			"method", st->method ? cl_method_name(st->method) : "unavailable",
			"target", st->target, "reason", st->reason));
	}
	return o;
}

json_t *cl_snapshot_json(const struct cl_probes *p, const struct cl_snapshot *s)
{
	json_t *o = json_object(), *h = json_object(), *c = json_object();
	int i, j;

	for (i = 0; i < CL_P_NR; i++) {
		if (!(p->asked & (1U << i)) || !p->st[i].method)
			continue;
		for (j = 0; descs[i].hists[j] != END; j++) {
			int id = descs[i].hists[j];

			json_object_set_new(h, hist_names[id], cl_histo_json(&s->h[id], cl_hist_unit(id)));
		}
		for (j = 0; descs[i].counters[j] != END; j++) {
			int id = descs[i].counters[j];

			json_object_set_new(c, counter_names[id], json_integer((json_int_t)s->c[id]));
		}
	}
	json_object_set_new(c, counter_names[CL_C_STATE_FULL],
			    json_integer((json_int_t)s->c[CL_C_STATE_FULL]));
	json_object_set_new(o, "histograms", h);
	json_object_set_new(o, "counters", c);
	json_object_set_new(o, "events_missed", json_integer((json_int_t)s->missed));
	return o;
}
