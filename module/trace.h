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

#endif

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
