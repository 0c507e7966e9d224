// SPDX-License-Identifier: GPL-2.0
/*
 * redisbgsave: the real redis-server (Debian's), loaded with a dataset,
 * BGSAVE while redis-benchmark overwrites random keys. Per BGSAVE it records
 * redis's own INFO numbers (latest_fork_usec, rdb_last_cow_size) next to
 * what cowlab's probes, following the redis process, saw of the same BGSAVE:
 * the fork's latency (the one clone(2) in the interval), the child's page
 * tables, COW faults in redis by outcome. With the module loaded, each
 * cow-ahead mode is a configuration (redis started under `cowlab exec`).
 *
 * Debian ships the server binary as redis-check-rdb (redis-server is a
 * symlink to it; the binary acts as a server unless its name says check-rdb):
 * when redis-server is not on PATH it is run as /usr/bin/redis-check-rdb
 * under the name redis-server.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "dev.h"
#include "jsonout.h"
#include "probelib.h"
#include "stats.h"
#include "sysutil.h"
#include "util.h"

#define MAX_MODES 8
#define MAX_REPS 100

static int port;
static char dir[256];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: redisbgsave [options]\n\n"
		"BGSAVE of a loaded redis-server under write load: redis's latest_fork_usec beside\n"
		"cowlab's BPF fork latency and COW faults, cow-ahead off and on.\n\n"
		"  -k, --keys N          keys in the dataset (default 100000)\n"
		"  -d, --value-size B    bytes per value (default 512)\n"
		"  -w, --writes N        SETs by redis-benchmark during each BGSAVE (default 20000)\n"
		"  -r, --reps N          BGSAVEs per configuration (default 3)\n"
		"  -m, --modes LIST      cow-ahead modes: off, N (fixed window) or adaptiveN\n"
		"                        (default off,16,adaptive64; all but off need the module)\n"
		"  -p, --port N          the server's port (default 6300 + pid %% 500)\n"
		"  -j, --json FILE       write results as JSON (- for stdout)\n");
}

/* Run redis-cli with @args; its stdout into @out. 0 on success. */
static int cli(const char *args, char *out, size_t len)
{
	char cmd[512];
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s 2>&1", port, args);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (out) {
		n = fread(out, 1, len - 1, f);
		out[n] = 0;
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	return pclose(f) == 0 ? 0 : -1;
}

static long long info_field(const char *info, const char *key)
{
	const char *p = strstr(info, key);

	return p && p[strlen(key)] == ':' ? atoll(p + strlen(key) + 1) : -1;
}

static const char *server_path(void)
{
	static char buf[512];
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/bin"), *d, *save;

	for (d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/redis-server", d);
		if (!access(buf, X_OK)) {
			free(copy);
			return buf;
		}
	}
	free(copy);
	return access("/usr/bin/redis-check-rdb", X_OK) ? NULL : "/usr/bin/redis-check-rdb";
}

/* Start the server, under `cowlab exec --cow-ahead=MODE` unless @mode is "off". */
static pid_t start_server(const char *server, const char *mode)
{
	char portbuf[16], log[300], ca[64];
	pid_t pid;

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	pid = fork();
	if (pid)
		return pid;
	if (!freopen(log, "a", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
		_exit(126);
	if (strcmp(mode, "off")) {
		/* cowlab exec execs the server in this same process: the pid stays */
		snprintf(ca, sizeof(ca), "--cow-ahead=%s", mode);
		if (!strncmp(mode, "adaptive", 8))
			snprintf(ca, sizeof(ca), "--cow-ahead=%s,adaptive", mode + 8);
		execlp("cowlab", "cowlab", "exec", ca, "--", server, "--port", portbuf, "--save", "",
		       "--appendonly", "no", "--dir", dir, "--enable-debug-command", "yes",
		       "--protected-mode", "no", (char *)NULL);
	} else {
		execl(server, "redis-server", "--port", portbuf, "--save", "", "--appendonly", "no",
		      "--dir", dir, "--enable-debug-command", "yes", "--protected-mode", "no",
		      (char *)NULL);
	}
	_exit(127);
}

static int wait_ready(pid_t pid)
{
	char out[64];
	int i;

	for (i = 0; i < 300; i++) {
		if (!cli("PING", out, sizeof(out)) && strstr(out, "PONG"))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(100000);
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keys", required_argument, NULL, 'k' }, { "value-size", required_argument, NULL, 'd' },
		{ "writes", required_argument, NULL, 'w' }, { "reps", required_argument, NULL, 'r' },
		{ "modes", required_argument, NULL, 'm' }, { "port", required_argument, NULL, 'p' },
		{ "json", required_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t keys = 100000, vsize = 512, writes = 20000, reps = 3, v;
	char *modes[MAX_MODES], *mlist = strdup("off,16,adaptive64"), *tok, *save;
	const char *json = NULL, *server;
	json_t *root, *arr = json_array();
	int nm = 0, c, mi, r, any_ok = 0;
	bool module = cl_dev_open(true) >= 0;

	cl_set_prog("redisbgsave");
	port = 6300 + getpid() % 500;
	while ((c = getopt_long(argc, argv, "k:d:w:r:m:p:j:h", lo, NULL)) != -1) {
		switch (c) {
		case 'k': case 'd': case 'w': case 'r': case 'p':
			if (cl_parse_u64(optarg, 1, c == 'r' ? MAX_REPS : c == 'p' ? 65535 : 100000000, &v)) {
				cl_err("bad -%c '%s'", c, optarg);
				return 2;
			}
			if (c == 'k') keys = v;
			else if (c == 'd') vsize = v;
			else if (c == 'w') writes = v;
			else if (c == 'r') reps = v;
			else port = (int)v;
			break;
		case 'm': free(mlist); mlist = strdup(optarg); break;
		case 'j': json = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	for (tok = strtok_r(mlist, ",", &save); tok && nm < MAX_MODES; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "off") && cl_parse_u64(!strncmp(tok, "adaptive", 8) ? tok + 8 : tok,
						      1, 4096, &v)) {
			cl_err("bad mode '%s' (off, N or adaptiveN)", tok);
			return 2;
		}
		modes[nm++] = tok;
	}
	server = server_path();
	if (!server) {
		cl_err("redis-server not found (Debian: apt-get install redis-tools)");
		return 1;
	}
	snprintf(dir, sizeof(dir), "/tmp/cowlab-redisbgsave-%d", (int)getpid());
	mkdir(dir, 0700);
	signal(SIGPIPE, SIG_IGN);

	root = json_pack("{s:s, s:i, s:o}", "workload", "redisbgsave", "schema", 1,
			 "environment", cl_environment_json());
	json_object_set_new(root, "params", json_pack("{s:I, s:I, s:I, s:I, s:s}", "keys",
			    (json_int_t)keys, "value_size", (json_int_t)vsize, "writes",
			    (json_int_t)writes, "reps", (json_int_t)reps, "server", server));
	printf("%-12s %4s %16s %14s %12s %12s %12s\n", "mode", "rep", "latest_fork_usec",
	       "bpf_fork_us", "cow_copies", "rdb_cow_KiB", "pgtables_KiB");
	fflush(stdout);	/* before any fork: a child must not flush a copy */
	for (mi = 0; mi < nm; mi++) {
		double fu[MAX_REPS], bu[MAX_REPS], tw[MAX_REPS];
		json_t *conf, *samples = json_array();
		struct cl_probe_opts po = { 0 };
		struct cl_snapshot *s0 = calloc(1, sizeof(*s0)), *s1 = calloc(1, sizeof(*s1));
		struct cl_probes *pr = NULL;
		char cmd[256], info[8192], err[1024] = "";
		int n = 0;
		pid_t srv;

		conf = json_pack("{s:s}", "mode", modes[mi]);
		if (strcmp(modes[mi], "off") && !module) {
			json_object_set_new(conf, "status", json_string("skipped"));
			json_object_set_new(conf, "reason", json_string(
				"cow-ahead needs the cowlab module, which is not loaded"));
			json_array_append_new(arr, conf);
			printf("%-12s skipped: the cowlab module is not loaded\n", modes[mi]);
			fflush(stdout);
			continue;
		}
		srv = start_server(server, modes[mi]);
		if (srv < 0 || wait_ready(srv)) {
			cl_err("%s: redis-server did not start (log: %s/redis.log)", modes[mi], dir);
			json_object_set_new(conf, "status", json_string("failed"));
			json_object_set_new(conf, "reason", json_string("redis-server did not start"));
			json_array_append_new(arr, conf);
			if (srv > 0) {
				kill(srv, SIGKILL);
				waitpid(srv, NULL, 0);
			}
			continue;
		}
		snprintf(cmd, sizeof(cmd), "DEBUG POPULATE %llu key %llu", (unsigned long long)keys,
			 (unsigned long long)vsize);
		if (cli(cmd, info, sizeof(info)) || !strstr(info, "OK"))
			cl_err("%s: DEBUG POPULATE: %s", modes[mi], info);
		po.pid = srv;
		po.mask = (1U << CL_P_FORK) | (1U << CL_P_COW) | (1U << CL_P_PGTABLES) |
			  (1U << CL_P_DUP_MMAP) | (1U << CL_P_COWAHEAD);
		pr = cl_probes_open(&po, err, sizeof(err));
		for (r = 0; r < (int)reps; r++) {
			long long fork_usec, cow_size, inprog = 1;
			long tables = -1, written = -1;
			double bpf_us = -1, cow = -1, pgt = -1;
			pid_t bench;
			int k;

			if (pr)
				cl_probes_read(pr, s0);
			bench = fork();
			if (bench == 0) {
				char p[16], nbuf[32], rbuf[32], dbuf[32];

				snprintf(p, sizeof(p), "%d", port);
				snprintf(nbuf, sizeof(nbuf), "%llu", (unsigned long long)writes);
				snprintf(rbuf, sizeof(rbuf), "%llu", (unsigned long long)keys);
				snprintf(dbuf, sizeof(dbuf), "%llu", (unsigned long long)vsize);
				if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
					_exit(126);
				execlp("redis-benchmark", "redis-benchmark", "-p", p, "-t", "set", "-n", nbuf,
				       "-r", rbuf, "-d", dbuf, "-c", "4", "-q", (char *)NULL);
				_exit(127);
			}
			usleep(200000);
			cli("BGSAVE", NULL, 0);
			for (k = 0; k < 6000 && inprog; k++) {
				long tp, tx;

				usleep(50000);
				if (!cli("INFO persistence", info, sizeof(info)))
					inprog = info_field(info, "rdb_bgsave_in_progress");
				/* while the child lives: the tables redis wrote into since the fork */
				if (inprog && !cl_pt_regions(srv, 0, 0, &tp, &tx)) {
					tables = tp;
					written = tx;
				}
			}
			waitpid(bench, NULL, 0);
			cli("INFO stats", info + strlen(info), sizeof(info) - strlen(info));
			fork_usec = info_field(info, "latest_fork_usec");
			cow_size = info_field(info, "rdb_last_cow_size");
			if (pr && !cl_probes_read(pr, s1)) {
				for (k = 0; k < CL_H_NR; k++)
					cl_histo_sub(&s1->h[k], &s0->h[k]);
				if (s1->h[CL_H_CLONE].count + s1->h[CL_H_FORK].count == 1)
					bpf_us = (s1->h[CL_H_CLONE].sum + s1->h[CL_H_FORK].sum) / 1e3;
				if (cl_probes_status(pr, CL_P_COW)->method)
					cow = (double)s1->h[CL_H_WP_COPY].count;
				pgt = (double)s1->h[CL_H_PGTABLE_BYTES].sum / 1024;
			}
			printf("%-12s %4d %16lld %14.0f %12.0f %12lld %12.0f\n", modes[mi], r, fork_usec,
			       bpf_us, cow, cow_size >= 0 ? cow_size / 1024 : -1, pgt);
			fflush(stdout);
			if (n < MAX_REPS) {
				fu[n] = (double)fork_usec;
				tw[n] = tables > 0 ? (double)written / tables : NAN;
				bu[n++] = bpf_us;
			}
			/*
			 * tables_written: 2 MiB regions of redis holding a page it maps alone
			 * (pagemap), at the last poll before the BGSAVE child exited: what a
			 * lazy, shared-page-table fork would have unshared (lazyfork).
			 */
			json_array_append_new(samples, json_pack("{s:I, s:f, s:f, s:I, s:f, s:I, s:I}",
				"latest_fork_usec", (json_int_t)fork_usec, "bpf_fork_us", bpf_us,
				"cow_copies", cow, "rdb_last_cow_size", (json_int_t)cow_size,
				"pgtables_kib", pgt, "tables_with_entries", (json_int_t)tables,
				"tables_written", (json_int_t)written));
		}
		cli("SHUTDOWN NOSAVE", NULL, 0);
		waitpid(srv, NULL, 0);
		json_object_set_new(conf, "status", json_string("ok"));
		json_object_set_new(conf, "bpf", pr ? json_string("ok") : json_string(err));
		json_object_set_new(conf, "samples", samples);
		{
			double t[MAX_REPS];
			int m = 0, q;

			for (q = 0; q < n; q++)
				if (!isnan(tw[q]))
					t[m++] = tw[q];
			json_object_set_new(conf, "summary", json_pack("{s:o, s:o, s:o}",
				"latest_fork_usec", cl_summary_json(fu, n), "bpf_fork_us",
				cl_summary_json(bu, n), "fraction_tables_written", cl_summary_json(t, m)));
		}
		json_array_append_new(arr, conf);
		cl_probes_close(pr);
		free(s0);
		free(s1);
		any_ok = 1;
	}
	json_object_set_new(root, "configs", arr);
	{
		char rm[300];

		snprintf(rm, sizeof(rm), "rm -rf %s", dir);
		(void)!system(rm);
	}
	if (json && cl_json_write(root, json))
		return 1;
	json_decref(root);
	return any_ok ? 0 : 1;
}
