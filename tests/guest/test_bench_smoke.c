// SPDX-License-Identifier: GPL-2.0
/*
 * `cowlab bench --host --suite smoke`: the runner on this kernel, module or
 * not, BPF or tracepoint-only: every workload of the suite runs, leaves its
 * configurations in results.json, and the probes around each saw its forks.
 */
#include <limits.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <unistd.h>

#include <jansson.h>

#include "tap.h"

static const char *const workloads[] = { "cowbench", "forkbench", "forkchain", "traceoverhead" };

int main(void)
{
	char self[PATH_MAX], dir[PATH_MAX], path[PATH_MAX * 2 + 64];
	json_t *root, *wl, *bpf;
	ssize_t n;
	int rc, i;
	bool btf;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		snprintf(path, sizeof(path), "%s:%s", dirname(self), getenv("PATH") ?: "/bin");
		setenv("PATH", path, 1);
	}
	btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	tap_plan(3 + 4 + 2);
	snprintf(dir, sizeof(dir), "/tmp/cowlab-bench-smoke-%d", (int)getpid());
	snprintf(path, sizeof(path), "cowlab bench --host --suite smoke -o %s >/dev/null 2>&1", dir);
	rc = system(path);
	tap_ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "cowlab bench --host --suite smoke: exit %d",
	       WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
	snprintf(path, sizeof(path), "%s/results.json", dir);
	root = json_load_file(path, 0, NULL);
	tap_ok(root && json_integer_value(json_object_get(root, "schema")) == 1 &&
	       json_object_get(root, "environment"), "results.json: schema 1, with the environment");
	wl = json_object_get(root, "workloads");
	tap_ok(json_object_size(wl) == 4, "%zu workloads recorded (want 4)", json_object_size(wl));
	for (i = 0; i < 4; i++) {
		json_t *w = json_object_get(wl, workloads[i]);
		json_t *res = json_object_get(w, "result");
		json_t *configs = json_object_get(res, "configs");
		const char *why = json_string_value(json_object_get(res, "unavailable"));

		if (i == 3 && !btf)	/* no probes at all: it must say why, not fail */
			tap_ok(w && !strcmp(json_string_value(json_object_get(w, "status")) ?: "", "ok") &&
			       why && strstr(why, "BTF"), "%s: no BTF here, says so: %s", workloads[i],
			       why ?: "(nothing)");
		else
			tap_ok(w && !strcmp(json_string_value(json_object_get(w, "status")) ?: "", "ok") &&
			       json_array_size(configs) > 0, "%s: ok, %zu configurations", workloads[i],
			       json_array_size(configs));
	}
	/* forkchain with depths 1 and 4, 2 reps + 1 warm-up: 3 * (1 + 4) forks via clone(2) */
	bpf = json_object_get(json_object_get(wl, "forkchain"), "bpf");
	if (btf) {
		json_t *h = json_object_get(json_object_get(bpf, "histograms"), "fork.clone");
		long long c = json_integer_value(json_object_get(h, "count"));

		tap_ok(!strcmp(json_string_value(json_object_get(bpf, "status")) ?: "", "ok") && c == 15,
		       "probes around forkchain: %lld clone(2) calls seen (want 15: glibc fork)", c);
	} else {
		const char *why = json_string_value(json_object_get(bpf, "reason"));

		tap_ok(!strcmp(json_string_value(json_object_get(bpf, "status")) ?: "", "unavailable") &&
		       why && strstr(why, "BTF"), "probes around forkchain: unavailable, says why: %s",
		       why ?: "(nothing)");
	}
	bpf = json_object_get(json_object_get(wl, "traceoverhead"), "bpf");
	tap_ok(!strcmp(json_string_value(json_object_get(bpf, "status")) ?: "", "off"),
	       "traceoverhead attaches its own probes: none around it");
	json_decref(root);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	(void)!system(path);
	return tap_finish();
}
