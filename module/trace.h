/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's own tracepoints, for `cowlab trace --probes cowahead` (BPF
 * raw_tp attaches to module tracepoints by name) and for tracefs users.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM cowlab

#if !defined(COWLAB_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define COWLAB_TRACE_H

#include <linux/tracepoint.h>

/* One cow-ahead batch, run on the faulting task's return to user space. */
TRACE_EVENT(cowlab_ca_batch,
	TP_PROTO(unsigned long addr, unsigned int window, unsigned long broken, u64 ns),
	TP_ARGS(addr, window, broken, ns),
	TP_STRUCT__entry(
		__field(unsigned long, addr)
		__field(unsigned int, window)
		__field(unsigned long, broken)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->addr = addr;
		__entry->window = window;
		__entry->broken = broken;
		__entry->ns = ns;
	),
	TP_printk("addr=0x%lx window=%u broken=%lu ns=%llu", __entry->addr, __entry->window,
		  __entry->broken, __entry->ns)
);

/* One COWLAB_IOC_REFORK call that returned 0: a complete or a partial sync. */
TRACE_EVENT(cowlab_refork,
	TP_PROTO(pid_t child, u32 status, u32 stop_reason, u64 ptes_updated, u64 ns),
	TP_ARGS(child, status, stop_reason, ptes_updated, ns),
	TP_STRUCT__entry(
		__field(pid_t, child)
		__field(u32, status)
		__field(u32, stop_reason)
		__field(u64, ptes_updated)
		__field(u64, ns)
	),
	TP_fast_assign(
		__entry->child = child;
		__entry->status = status;
		__entry->stop_reason = stop_reason;
		__entry->ptes_updated = ptes_updated;
		__entry->ns = ns;
	),
	TP_printk("child=%d status=%s stop=%u ptes_updated=%llu ns=%llu", __entry->child,
		  __entry->status ? "partial" : "complete", __entry->stop_reason,
		  __entry->ptes_updated, __entry->ns)
);

#endif

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
