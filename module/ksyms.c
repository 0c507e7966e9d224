// SPDX-License-Identifier: GPL-2.0
/*
 * cowlab: resolution of non-exported kernel functions, in one place.
 *
 * kallsyms_lookup_name() has not been exported since 5.7. Its address is found
 * by registering (and at once unregistering) a kprobe on it; the same trick
 * resolves any kprobe-able function when kallsyms_lookup_name itself cannot
 * be called safely.
 *
 * IBT (CONFIG_X86_KERNEL_IBT, Debian 6.12): an indirect call must land on an
 * ENDBR64 instruction, and at boot the kernel seals (overwrites with a 4-byte
 * NOP, "osp nopl") the ENDBR of every function whose address is never taken
 * inside the kernel, whether or not the CPU has IBT. On Debian 6.12 both
 * kallsyms_lookup_name and ptrace_may_access are sealed, so calling them
 * through a function pointer would trap (#CP) on CET hardware. QEMU TCG does
 * not emulate IBT, so no test can catch that; the design avoids it instead:
 *
 *   - every resolved function is called through a module-local static_call,
 *     which the kernel patches into a *direct* call instruction: direct calls
 *     are not checked by IBT, so sealed or not, the call is safe;
 *   - a kprobe on func+0 reports func+4 when func starts with ENDBR or its
 *     poison; the address is normalised to the symbol start and verified with
 *     sprint_symbol() to be exactly "<name>+0x0" before use.
 */
#define pr_fmt(fmt) "cowlab: " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/pid.h>
#include <linux/static_call.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>

#include "cowlab.h"

#define COWLAB_ENDBR64		0xfa1e0ff3U	/* f3 0f 1e fa, little endian */
#define COWLAB_ENDBR_POISON	0x001f0f66U	/* what sealing writes over ENDBR64 (6.2-6.x) */
#define COWLAB_ENDBR_POISON_7	0xd6401f0fU	/* 7.x: nopl -42(%rax), UDB as immediate */

DEFINE_STATIC_CALL_NULL(cowlab_kallsyms_lookup_name, kallsyms_lookup_name);
DEFINE_STATIC_CALL_NULL(cowlab_ptrace_may_access, ptrace_may_access);

static bool have_lookup_name;

static unsigned long kprobe_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	unsigned long addr;

	if (register_kprobe(&kp) < 0)
		return 0;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
	return addr;
}

static bool text_word(unsigned long addr, u32 *val)
{
	return copy_from_kernel_nofault(val, (void *)addr, sizeof(*val)) == 0;
}

static bool starts_with_endbr(unsigned long addr)
{
	u32 insn;

	return text_word(addr, &insn) && (insn == COWLAB_ENDBR64 || insn == COWLAB_ENDBR_POISON ||
					  insn == COWLAB_ENDBR_POISON_7);
}

/* Normalise @addr to the start of @name and verify it is exactly that symbol. */
static unsigned long check_function(const char *name, unsigned long addr)
{
	char sym[KSYM_SYMBOL_LEN];	/* the only large buffer: kernel stacks are small */
	size_t len = strlen(name);

	if (!addr)
		return 0;
	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT) && !starts_with_endbr(addr) &&
	    starts_with_endbr(addr - 4))
		addr -= 4;

	sprint_symbol(sym, addr);
	if (strncmp(sym, name, len) || strncmp(sym + len, "+0x0/", 5)) {
		u32 w0 = 0, w1 = 0;

		text_word(addr - 4, &w0);
		text_word(addr, &w1);
		pr_err("%s resolved to %s, not to the function start (text %08x %08x)\n", name, sym,
		       w0, w1);
		return 0;
	}
	return addr;
}

unsigned long cowlab_resolve_function(const char *name)
{
	unsigned long addr = 0;

	if (have_lookup_name)
		addr = static_call(cowlab_kallsyms_lookup_name)(name);
	if (!addr)
		addr = kprobe_lookup(name);
	return check_function(name, addr);
}

int cowlab_ksyms_init(void)
{
	unsigned long addr;

	addr = check_function("kallsyms_lookup_name", kprobe_lookup("kallsyms_lookup_name"));
	if (addr) {
		static_call_update(cowlab_kallsyms_lookup_name, (void *)addr);
		have_lookup_name = true;
	} else {
		pr_info("kallsyms_lookup_name not found, resolving through kprobes only\n");
	}

	addr = cowlab_resolve_function("ptrace_may_access");
	if (!addr) {
		pr_err("required symbol ptrace_may_access not resolved; refusing to load\n");
		return -ENOENT;
	}
	static_call_update(cowlab_ptrace_may_access, (void *)addr);
	return 0;
}

struct tp_search {
	const char *name;
	struct tracepoint *found;
};

static void tp_match(struct tracepoint *tp, void *priv)
{
	struct tp_search *s = priv;

	if (!strcmp(tp->name, s->name))
		s->found = tp;
}

struct tracepoint *cowlab_find_tracepoint(const char *name)
{
	struct tp_search s = { .name = name };

	for_each_kernel_tracepoint(tp_match, &s);
	if (!s.found)
		pr_err("tracepoint %s not found\n", name);
	return s.found;
}

struct task_struct *cowlab_get_target(pid_t pid, int *err)
{
	struct task_struct *task;

	if (pid < 0) {
		*err = -EINVAL;
		return NULL;
	}
	if (pid == 0) {
		get_task_struct(current);
		return current;
	}
	rcu_read_lock();
	task = pid_task(find_vpid(pid), PIDTYPE_PID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	if (!task) {
		*err = -ESRCH;
		return NULL;
	}
	if (!static_call(cowlab_ptrace_may_access)(task, PTRACE_MODE_ATTACH_REALCREDS)) {
		put_task_struct(task);
		*err = -EPERM;
		return NULL;
	}
	return task;
}

/*
 * @task's mm, referenced, if the caller may ptrace @task (or it is the
 * caller's own mm). The check and get_task_mm() are made under @task's
 * exec_update_lock, as mm_access() does: an exec cannot slip between them and
 * hand over the mm of a program the caller may not touch (setuid).
 */
struct mm_struct *cowlab_task_mm(struct task_struct *task, int *err)
{
	struct mm_struct *mm;

	if (down_read_killable(&task->signal->exec_update_lock)) {
		*err = -EINTR;
		return NULL;
	}
	mm = get_task_mm(task);
	if (!mm) {
		*err = -ESRCH;
	} else if (mm != current->mm &&
		   !static_call(cowlab_ptrace_may_access)(task, PTRACE_MODE_ATTACH_REALCREDS)) {
		mmput(mm);
		mm = NULL;
		*err = -EPERM;
	}
	up_read(&task->signal->exec_update_lock);
	return mm;
}
