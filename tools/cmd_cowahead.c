// SPDX-License-Identifier: GPL-2.0
/* cowlab cowahead set|off|get|stats, and cowlab exec --cow-ahead=... */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "dev.h"
#include "util.h"

static void ca_usage(FILE *f)
{
	fprintf(f,
		"usage: cowlab cowahead set -p PID -w PAGES [--adaptive] [--keep-exec] [--no-inherit]\n"
		"                           [--range START-END]\n"
		"       cowlab cowahead off -p PID\n"
		"       cowlab cowahead get [-p PID] [-j]\n"
		"       cowlab cowahead stats [-p PID | -g] [-j]\n\n"
		"cow-ahead: when the process takes a copy-on-write fault, the module also breaks\n"
		"COW on the next PAGES pages of the same mapping (1..%d), in one batch.\n\n"
		"  -p, --pid PID      target process (needs ptrace rights); set and off need it,\n"
		"                     get and stats default to this command (what it inherited)\n"
		"  -w, --window N     pages after the faulting one (fixed), or the maximum (adaptive)\n"
		"      --adaptive     grow the window on sequential COW faults, collapse on random ones\n"
		"      --keep-exec    keep the policy across execve()\n"
		"      --no-inherit   children forked later do not inherit it\n"
		"      --range A-B    only faults in [A, B) (hex or decimal, page-aligned)\n"
		"  -g, --global       stats: counters over all processes\n"
		"  -j, --json         JSON output\n", COWLAB_CA_MAX_WINDOW);
}

/* Explain an errno from a cow-ahead ioctl in the user's terms. */
static void ca_explain(const char *what, int pid, int err)
{
	switch (err) {
	case -EPERM:
		cl_err("%s: not allowed to act on pid %d (needs ptrace access: same user, or CAP_SYS_PTRACE)", what, pid);
		break;
	case -ESRCH:
		cl_err("%s: no process %d (or it has exited)", what, pid);
		break;
	case -ENOENT:
		cl_err("%s: pid %d has no cow-ahead policy", what, pid);
		break;
	case -EINVAL:
		cl_err("%s: invalid policy (window 1..%d, known flags, range page-aligned with start < end)",
		       what, COWLAB_CA_MAX_WINDOW);
		break;
	case -EOPNOTSUPP:
		cl_err("%s: the module's cow-ahead is disabled on this kernel (see dmesg)", what);
		break;
	default:
		cl_err("%s: %s", what, strerror(-err));
	}
}

static int parse_pid(const char *s, int *pid)
{
	uint64_t v;

	if (cl_parse_u64(s, 0, 0x3fffffff, &v)) {
		cl_err("bad pid '%s'", s);
		return -1;
	}
	*pid = (int)v;
	return 0;
}

static int parse_range(const char *s, struct cowlab_cowahead_policy *p)
{
	char *end;
	unsigned long long a, b;

	errno = 0;
	a = strtoull(s, &end, 0);
	if (errno || *end != '-')
		goto bad;
	b = strtoull(end + 1, &end, 0);
	if (errno || *end)
		goto bad;
	p->start = a;
	p->end = b;
	p->flags |= COWLAB_CA_RANGE;
	return 0;
bad:
	cl_err("bad --range '%s' (want START-END)", s);
	return -1;
}

static json_t *stats_json(const struct cowlab_cowahead_stats *st)
{
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "cur_window", st->cur_window,
			 "wp_faults", (json_int_t)st->wp_faults,
			 "batches", (json_int_t)st->batches,
			 "pages_broken", (json_int_t)st->pages_broken,
			 "pages_skipped", (json_int_t)st->pages_skipped,
			 "grows", (json_int_t)st->grows,
			 "shrinks", (json_int_t)st->shrinks,
			 "errors", (json_int_t)st->errors,
			 "policies", (json_int_t)st->policies,
			 "pid", (json_int_t)st->pid);
}

static void print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(o);
}

int cmd_cowahead(int argc, char **argv)
{
	enum { OPT_ADAPTIVE = 256, OPT_KEEP_EXEC, OPT_NO_INHERIT, OPT_RANGE };
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'w' },
		{ "adaptive", no_argument, NULL, OPT_ADAPTIVE },
		{ "keep-exec", no_argument, NULL, OPT_KEEP_EXEC },
		{ "no-inherit", no_argument, NULL, OPT_NO_INHERIT },
		{ "range", required_argument, NULL, OPT_RANGE },
		{ "global", no_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct cowlab_cowahead_policy pol = {};
	struct cowlab_cowahead_stats st = {};
	bool json = false, global = false, have_window = false;
	const char *sub;
	uint64_t w;
	int c, fd, err, pid = 0;
	char desc[128];

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		ca_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:w:gjh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_pid(optarg, &pid))
				return 2;
			break;
		case 'w':
			if (cl_parse_u64(optarg, 0, UINT32_MAX, &w)) {
				cl_err("bad window '%s'", optarg);
				return 2;
			}
			pol.window = (uint32_t)w;
			have_window = true;
			break;
		case OPT_ADAPTIVE: pol.flags |= COWLAB_CA_ADAPTIVE; break;
		case OPT_KEEP_EXEC: pol.flags |= COWLAB_CA_KEEP_EXEC; break;
		case OPT_NO_INHERIT: pol.flags |= COWLAB_CA_NO_INHERIT; break;
		case OPT_RANGE:
			if (parse_range(optarg, &pol))
				return 2;
			break;
		case 'g': global = true; break;
		case 'j': json = true; break;
		case 'h': ca_usage(stdout); return 0;
		default: return 2;
		}
	}
	if (optind != argc) {
		cl_err("cowahead %s: unexpected argument '%s'", sub, argv[optind]);
		return 2;
	}
	if (strcmp(sub, "set") && strcmp(sub, "off") && strcmp(sub, "get") && strcmp(sub, "stats")) {
		cl_err("cowahead: unknown subcommand '%s' (set, off, get, stats)", sub);
		return 2;
	}
	/*
	 * set/off on this command itself would end with it: name a process, or start the
	 * program under a policy (get and stats on self are what a program run under one sees).
	 */
	if ((!strcmp(sub, "set") || !strcmp(sub, "off")) && !pid) {
		cl_err("cowahead %s: name the process with -p PID (a policy on this command would "
		       "end with it); to run a program under one: cowlab exec --cow-ahead=N -- PROG",
		       sub);
		return 2;
	}
	if (!strcmp(sub, "set") && !have_window) {
		cl_err("cowahead set: give the window with -w PAGES (1..%d)", COWLAB_CA_MAX_WINDOW);
		return 2;
	}
	fd = cl_dev_open(false);
	if (fd < 0)
		return 1;
	pol.pid = pid;
	if (!strcmp(sub, "set") || !strcmp(sub, "off")) {
		if (!strcmp(sub, "off"))
			memset(&pol, 0, sizeof(pol)), pol.pid = pid;
		err = cl_ca_set(fd, &pol);
		if (err) {
			ca_explain(sub, pid, err);
			return 1;
		}
		if (!strcmp(sub, "set")) {
			cl_ca_describe(&pol, desc, sizeof(desc));
			printf("cow-ahead on pid %d: %s\n", pid ? pid : getpid(), desc);
		}
		return 0;
	}
	if (!strcmp(sub, "get")) {
		err = cl_ca_get(fd, &pol);
		if (err) {
			ca_explain("get", pid, err);
			return 1;
		}
		if (json) {
			print_json(json_pack("{s:i, s:i, s:b, s:b, s:b, s:I, s:I}", "pid", pid,
					     "window", pol.window,
					     "adaptive", !!(pol.flags & COWLAB_CA_ADAPTIVE),
					     "keep_exec", !!(pol.flags & COWLAB_CA_KEEP_EXEC),
					     "inherit", !(pol.flags & COWLAB_CA_NO_INHERIT),
					     "start", (json_int_t)pol.start, "end", (json_int_t)pol.end));
		} else {
			cl_ca_describe(&pol, desc, sizeof(desc));
			printf("%s\n", desc);
		}
		return 0;
	}
	st.pid = global ? COWLAB_STATS_GLOBAL : pid;
	err = cl_ca_stats(fd, &st);
	if (err) {
		ca_explain("stats", pid, err);
		return 1;
	}
	if (json) {
		print_json(stats_json(&st));
		return 0;
	}
	if (global)
		printf("policies live      %llu\n", (unsigned long long)st.policies);
	else
		printf("window now         %u pages\n", st.cur_window);
	printf("COW write faults   %llu\nbatches            %llu\npages broken ahead %llu\n"
	       "pages skipped      %llu\nwindow grows       %llu\nwindow collapses   %llu\n"
	       "errors             %llu\n",
	       (unsigned long long)st.wp_faults, (unsigned long long)st.batches,
	       (unsigned long long)st.pages_broken, (unsigned long long)st.pages_skipped,
	       (unsigned long long)st.grows, (unsigned long long)st.shrinks,
	       (unsigned long long)st.errors);
	return 0;
}

/* --cow-ahead=N[,adaptive][,no-inherit] */
static int parse_cow_ahead(const char *s, struct cowlab_cowahead_policy *p)
{
	char buf[64], *tok, *save;
	uint64_t w;

	snprintf(buf, sizeof(buf), "%s", s);
	tok = strtok_r(buf, ",", &save);
	if (!tok || cl_parse_u64(tok, 1, COWLAB_CA_MAX_WINDOW, &w))
		goto bad;
	p->window = (uint32_t)w;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "adaptive"))
			p->flags |= COWLAB_CA_ADAPTIVE;
		else if (!strcmp(tok, "no-inherit"))
			p->flags |= COWLAB_CA_NO_INHERIT;
		else
			goto bad;
	}
	return 0;
bad:
	cl_err("exec: bad --cow-ahead '%s' (want N[,adaptive][,no-inherit], N in 1..%d)", s,
	       COWLAB_CA_MAX_WINDOW);
	return -1;
}

int cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cow-ahead", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct cowlab_cowahead_policy pol = { .flags = COWLAB_CA_KEEP_EXEC };
	bool have = false;
	int c, fd, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			if (parse_cow_ahead(optarg, &pol))
				return 2;
			have = true;
			break;
		case 'h':
			printf("usage: cowlab exec --cow-ahead=N[,adaptive][,no-inherit] -- COMMAND [ARG...]\n\n"
			       "Run an unmodified COMMAND with a cow-ahead policy that it and the children\n"
			       "it forks keep (set on this process, kept across exec).\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!have || optind >= argc) {
		cl_err("exec: usage: cowlab exec --cow-ahead=N[,adaptive] -- COMMAND [ARG...]");
		return 2;
	}
	fd = cl_dev_open(false);
	if (fd < 0)
		return 1;
	err = cl_ca_set(fd, &pol);
	close(fd);
	if (err) {
		ca_explain("exec", 0, err);
		return 1;
	}
	execvp(argv[optind], argv + optind);
	cl_err("exec: %s: %s", argv[optind], strerror(errno));
	return 127;
}
