/* SPDX-License-Identifier: GPL-2.0 */
/* The cowlab subcommands; each gets argv with argv[0] = its own name. */
#ifndef COWLAB_COMMANDS_H
#define COWLAB_COMMANDS_H

int cmd_status(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_cowahead(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_kernels(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_baseline(int argc, char **argv);

#endif
