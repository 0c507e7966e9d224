// SPDX-License-Identifier: GPL-2.0
/* cowlab trace: fork, page-table copy, COW, fault, swap and reclaim latency histograms. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "probelib.h"
#include "util.h"

static volatile sig_atomic_t stop, child_done;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		child_done = 1;
	else
		stop = 1;
}

static void usage(FILE *f)
{
	int i;

	fprintf(f,
"usage: cowlab trace [-p PID] [-c CGROUP] [-n COMM] [-d SECONDS] [-i SECONDS] [-j]\n"
"                    [--probes LIST] [--attach METHOD] [--list] [-- COMMAND [ARGS]]\n"
"\n"
"Histograms, aggregated in the kernel per CPU (log-linear buckets, <= 1.6%% wide),\n"
"of what fork and copy-on-write cost, with p50/p90/p99/p99.9/max.\n"
"\n"
"  -p, --pid PID        only this process and its descendants (children forked later too)\n"
"  -c, --cgroup DIR     only tasks in this cgroup v2 directory or below it\n"
"  -n, --comm NAME      only tasks with this command name\n"
"  -d, --duration S     stop after S seconds (default: Ctrl-C, or the COMMAND's exit)\n"
"  -i, --interval S     print every S seconds what happened in it\n"
"  -j, --json           one JSON object per output (JSON lines), on stdout\n"
"      --probes LIST    comma-separated probes (default all):\n");
	for (i = 0; i < CL_P_NR; i++)
		fprintf(f, "                         %-16s %s\n", cl_probe_name(i), cl_probe_summary(i));
	fprintf(f,
"      --attach METHOD  auto (default: fentry, else kprobe, else tracepoint),\n"
"                       or only fentry, kprobe or tracepoint\n"
"      --list           show what each probe attaches to on this kernel, and exit\n"
"  -- COMMAND           run COMMAND, trace it and its descendants until it exits;\n"
"                       cowlab trace then exits with its status\n"
"\n"
"Times are in the kernel's monotonic clock. Needs root (CAP_BPF and CAP_PERFMON).\n"
"Exit status: 0 ok, 1 runtime failure, 2 bad arguments, else COMMAND's status.\n");
}

static void print_status(FILE *f, const struct cl_probes *p)
{
	int i;

	for (i = 0; i < CL_P_NR; i++) {
		const struct cl_probe_status *st = cl_probes_status(p, i);

		if (!cl_probes_wanted(p, i))
			continue;
		if (st->method)
			fprintf(f, "  %-16s %-11s %s%s%s%s\n", cl_probe_name(i),
				cl_method_name(st->method), st->target, st->reason[0] ? " (" : "",
				st->reason, st->reason[0] ? ")" : "");
		else
			fprintf(f, "  %-16s %-11s %s\n", cl_probe_name(i), "unavailable", st->reason);
	}
}

static void print_text(const struct cl_probes *p, const struct cl_snapshot *s, double secs,
		       bool interval)
{
	char when[64];
	time_t t = time(NULL);
	int i, j;

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	printf("\n=== %s  %s %.3g s\n", when, interval ? "interval" : "total over", secs);
	for (i = 0; i < CL_P_NR; i++) {
		const int *h = cl_probe_hists(i), *c = cl_probe_counters(i);
		bool shown = false;

		if (!cl_probes_wanted(p, i) || !cl_probes_status(p, i)->method)
			continue;
		for (j = 0; h[j] >= 0; j++) {
			if (!s->h[h[j]].count)
				continue;
			cl_histo_print(stdout, cl_hist_name(h[j]), &s->h[h[j]], cl_hist_unit(h[j]));
			shown = true;
		}
		for (j = 0; c[j] >= 0; j++) {
			printf("%s: %llu\n", cl_counter_name(c[j]), (unsigned long long)s->c[c[j]]);
			shown = true;
		}
		if (!shown)
			printf("%s: no events\n", cl_probe_name(i));
	}
	if (s->c[CL_C_STATE_FULL])
		printf("warning: %llu events lost (per-thread state table full)\n",
		       (unsigned long long)s->c[CL_C_STATE_FULL]);
	if (s->missed)
		printf("warning: %llu events missed (the probe's program was already running on "
		       "that CPU: a task preempted inside it, or an interrupt)\n",
		       (unsigned long long)s->missed);
	fflush(stdout);
}

static void print_json(const struct cl_probes *p, const struct cl_snapshot *s, double secs,
		       bool interval, const struct cl_probe_opts *o)
{
	json_t *out = cl_snapshot_json(p, s);
	struct utsname u;
	char *txt;

	uname(&u);
	json_object_set_new(out, "schema", json_integer(1));
	json_object_set_new(out, "kernel", json_string(u.release));
	json_object_set_new(out, "time", json_integer((json_int_t)time(NULL)));
	json_object_set_new(out, interval ? "interval_s" : "duration_s", json_real(secs));
	json_object_set_new(out, "filter", json_pack("{s:i,s:s?,s:s?}", "pid", (int)o->pid,
						    "cgroup", o->cgroup, "comm", o->comm));
	json_object_set_new(out, "probes", cl_probes_status_json(p));
	txt = json_dumps(out, JSON_COMPACT);
	printf("%s\n", txt);
	fflush(stdout);
	free(txt);
	json_decref(out);
}

static int parse_secs(const char *s, double *out, const char *what)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || *out <= 0 || *out > 1e7) {
		cl_err("bad %s '%s' (seconds, > 0)", what, s);
		return -1;
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "comm", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "probes", required_argument, NULL, 'P' },
		{ "attach", required_argument, NULL, 'A' },
		{ "list", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cl_probe_opts o = { 0 };
	struct cl_snapshot *prev, *cur;
	double dur = 0, ival = 0;
	bool json = false, list = false;
	int go[2] = { -1, -1 }, ready[2], opt, status = 0, rc = 0;
	pid_t child = 0;
	struct cl_probes *p;
	struct sigaction sa;
	uint64_t t0, tlast;
	char err[2048];
	uint64_t pid;

	while ((opt = getopt_long(argc, argv, "+p:c:n:d:i:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (cl_parse_u64(optarg, 1, 4194304, &pid)) {
				cl_err("bad PID '%s'", optarg);
				return 2;
			}
			o.pid = (pid_t)pid;
			break;
		case 'c':
			o.cgroup = optarg;
			break;
		case 'n':
			o.comm = optarg;
			break;
		case 'd':
			if (parse_secs(optarg, &dur, "duration"))
				return 2;
			break;
		case 'i':
			if (parse_secs(optarg, &ival, "interval"))
				return 2;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			if (cl_probe_parse(optarg, &o.mask, err, sizeof(err))) {
				cl_err("%s", err);
				return 2;
			}
			break;
		case 'A':
			opt = cl_method_parse(optarg);
			if (opt < 0) {
				cl_err("bad --attach '%s' (auto, fentry, kprobe or tracepoint)", optarg);
				return 2;
			}
			o.force = opt;
			break;
		case 'L':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc && o.pid) {
		cl_err("-p and a COMMAND exclude each other");
		return 2;
	}
	if (cl_probes_check_caps(err, sizeof(err))) {
		cl_err("%s", err);
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);

	if (optind < argc && !list) {
		/* the command waits on a pipe until the probes are attached */
		if (pipe(go) || pipe(ready))
			return 1;
		child = fork();
		if (child < 0) {
			cl_err("fork: %s", strerror(errno));
			return 1;
		}
		if (!child) {
			char c;

			close(go[1]);
			close(ready[0]);
			/* parked before the probes attach: what they see starts at read()'s return */
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(127);
			close(go[0]);
			signal(SIGINT, SIG_DFL);
			signal(SIGTERM, SIG_DFL);
			execvp(argv[optind], argv + optind);
			fprintf(stderr, "cowlab trace: %s: %s\n", argv[optind], strerror(errno));
			_exit(127);
		}
		close(go[0]);
		close(ready[1]);
		{
			char c;

			if (read(ready[0], &c, 1) != 1) {
				cl_err("the command's process died before it started");
				waitpid(child, NULL, 0);
				return 1;
			}
			close(ready[0]);
		}
		o.pid = child;
	}

	p = cl_probes_open(&o, err, sizeof(err));
	if (!p) {
		int e = errno;

		cl_err("%s", err);
		if (child) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
		return e == ESRCH || e == ENOTDIR || e == EINVAL ? 2 : 1;
	}
	if (list || !json) {
		FILE *f = list ? stdout : stderr;

		if (list && json) {
			json_t *s = cl_probes_status_json(p);

			json_dumpf(s, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(s);
		} else {
			fprintf(f, "cowlab trace: probes on this kernel:\n");
			print_status(f, p);
		}
		if (list) {
			cl_probes_close(p);
			return 0;
		}
		fprintf(stderr, "tracing%s... %s\n", child ? " the command" : "",
			child ? "" : dur ? "" : "Ctrl-C to end.");
	}

	prev = calloc(1, sizeof(*prev));
	cur = calloc(1, sizeof(*cur));
	t0 = tlast = cl_now_ns();
	if (child) {
		if (write(go[1], "g", 1) != 1)
			rc = 1;
		close(go[1]);
	}
	while (!stop && !rc) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		uint64_t now;

		nanosleep(&ts, NULL);
		now = cl_now_ns();
		if (child && child_done && waitpid(child, &status, WNOHANG) == child)
			stop = 2;
		if (dur && now - t0 >= dur * 1e9)
			stop = 1;
		if (ival && (now - tlast >= ival * 1e9 || stop)) {
			struct cl_snapshot *tmp;
			int k;

			if (cl_probes_read(p, cur)) {
				cl_err("reading the histograms: %s", strerror(errno));
				rc = 1;
				break;
			}
			tmp = calloc(1, sizeof(*tmp));
			*tmp = *cur;
			for (k = 0; k < CL_H_NR; k++)
				cl_histo_sub(&tmp->h[k], &prev->h[k]);
			for (k = 0; k < CL_C_NR; k++)
				tmp->c[k] -= prev->c[k];
			tmp->missed -= prev->missed;
			if (json)
				print_json(p, tmp, (now - tlast) / 1e9, true, &o);
			else
				print_text(p, tmp, (now - tlast) / 1e9, true);
			free(tmp);
			*prev = *cur;
			tlast = now;
		}
	}
	if (!ival && !rc) {
		if (cl_probes_read(p, cur)) {
			cl_err("reading the histograms: %s", strerror(errno));
			rc = 1;
		} else if (json) {
			print_json(p, cur, (cl_now_ns() - t0) / 1e9, false, &o);
		} else {
			print_text(p, cur, (cl_now_ns() - t0) / 1e9, false);
		}
	}
	cl_probes_close(p);
	free(prev);
	free(cur);
	if (child) {
		if (stop != 2) {
			kill(child, SIGTERM);
			waitpid(child, &status, 0);
		}
		if (rc)
			return rc;
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	return rc;
}
