// SPDX-License-Identifier: GPL-2.0
/* cowlab: the one command. `cowlab help` lists the subcommands. */
#include <stdio.h>
#include <string.h>

#include <uapi/cowlab.h>

#include "commands.h"
#include "util.h"

#define COWLAB_VERSION "0.1.0"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "status",   cmd_status,   "module, ABI, features and what this kernel lets cowlab measure" },
	{ "vm",       cmd_vm,       "run a command in QEMU on a pinned stock kernel with cowlab.ko" },
	{ "cowahead", cmd_cowahead, "set, show or clear a process's cow-ahead policy; its counters" },
	{ "exec",     cmd_exec,     "run a program with a cow-ahead policy (--cow-ahead=N[,adaptive])" },
	{ "trace",    cmd_trace,    "fork, page-table copy, COW, fault, swap, reclaim latency (BPF)" },
	{ "compare",  cmd_compare,  "compare two benchmark results: medians, change, Mann-Whitney U" },
	{ "report",   cmd_report,   "figures (gnuplot PNG/SVG), report.md and report.html from results" },
	{ "kernels",  cmd_kernels,  "the kernels of one run side by side: medians per kernel, ratios, figures" },
	{ "history",  cmd_history,  "trend graphs over many results, per kernel, regressions marked" },
	{ "baseline", cmd_baseline, "check a run against results/baseline (exact counts strictly), or update it" },
	{ "bench",    cmd_bench,    "run the benchmark suite (in the VM by default), write results.json" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cowlab COMMAND [ARGS]   (cowlab COMMAND --help for details)\n\n"
		   "cowlab measures what fork() and copy-on-write cost, and tries what would\n"
		   "change it (cow-ahead, refork) through the cowlab kernel module.\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-10s %s\n", "version", "print the tool version and ABI");
}

int main(int argc, char **argv)
{
	size_t i;

	cl_set_prog("cowlab");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			printf("usage: cowlab version\n\nPrint the tool's version and the ioctl ABI it "
			       "speaks (the module's: cowlab status).\n\n  -h, --help  this text\n");
			return 0;
		}
		if (argc > 2) {
			cl_err("version: unexpected argument '%s'", argv[2]);
			return 2;
		}
		printf("cowlab %s (ABI %d)\n", COWLAB_VERSION, COWLAB_ABI_VERSION);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	cl_err("unknown command '%s' (cowlab help lists them)", argv[1]);
	return 2;
}
