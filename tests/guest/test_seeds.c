// SPDX-License-Identifier: GPL-2.0
/*
 * The seeds' workloads (issue 17): lazyfork and swapfrag, checked against what the
 * kernel says rather than what they report of themselves.
 *   lazyfork: the tables the child wrote into, counted from its pagemap (private) or
 *   its VmPTE growth (shared), equal the K the workload meant to touch; the probes
 *   saw one copy_page_range per fork and the region's tables in the child; a child
 *   stopped before execve wrote into a handful of tables; bad input, exact errors.
 *   swapfrag (guest: zram): its own device fills to each level, every batch swapped
 *   out about its own size, the allocator probe ran, the device is gone afterwards.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tap.h"

static bool guest;
static bool btf;	/* BPF tracing possible: the debug lane's kernel has no BTF */

/* Run @cmd with stderr in @err; exit status, or -1. */
static int run(const char *cmd, char *err, size_t len)
{
	char full[1024];
	FILE *f;
	int st;

	snprintf(full, sizeof(full), "%s 2>/tmp/seeds.err >/dev/null", cmd);
	st = system(full);
	err[0] = 0;
	f = fopen("/tmp/seeds.err", "r");
	if (f) {
		size_t n = fread(err, 1, len - 1, f);

		err[n] = 0;
		fclose(f);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static void test_lazyfork(void)
{
	char err[4096];
	int rc = run("lazyfork --sizes 16M,64M --fractions 0.125,1 --reps 2 -j /tmp/lf.json",
		     err, sizeof(err));
	json_t *root = rc == 0 ? json_load_file("/tmp/lf.json", 0, NULL) : NULL, *c, *s;
	json_t *cs = json_object_get(root, "configs"), *model = json_object_get(root, "model");
	long priv = 0, priv_ok = 0, shr = 0, shr_ok = 0, ex = 0, ex_ok = 0, cpr = 0, cpr_ok = 0;
	long pgt_bad = 0;
	size_t i, j;
	bool bpf = false;

	tap_ok(root && json_array_size(cs) >= 8, "lazyfork: exit %d, %zu configurations (want >= 8) %s",
	       rc, json_array_size(cs), rc ? err : "");
	json_array_foreach(cs, i, c) {
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const char *map = json_string_value(json_object_get(c, "mapping"));
		long k = (long)num(c, "tables_touched");

		if (kind && !strcmp(kind, "fork_exec")) {
			json_array_foreach(json_object_get(c, "samples"), j, s) {
				ex++;
				ex_ok += num(s, "tables_written") >= 1 && num(s, "tables_written") <= 16 &&
					 num(s, "tables_with_entries") >= num(c, "size_bytes") / (2 << 20);
			}
			continue;
		}
		json_array_foreach(json_object_get(c, "samples"), j, s) {
			long seen = (long)num(s, "tables_touched_seen");

			if (!strcmp(map, "private")) {
				priv++;
				priv_ok += seen == k;
				if (json_is_number(json_object_get(s, "cpr_us"))) {
					bpf = true;
					cpr++;
					cpr_ok += num(s, "cpr_us") > 0 && num(s, "cpr_us") < num(s, "fork_us");
				}
			} else {
				shr++;
				/* K PTE tables, plus the PMD table above them (and a PUD one) */
				shr_ok += seen >= k && seen <= k + 2;
			}
		}
		if (!strcmp(map, "private") && json_is_number(json_object_get(c, "pgtable_kb")))
			pgt_bad += num(c, "pgtable_kb") < num(c, "tables") * 4;
	}
	tap_ok(priv >= 8 && priv_ok == priv, "lazyfork private: in %ld of %ld forks the child's "
	       "pagemap shows exactly the K tables it wrote into", priv_ok, priv);
	tap_ok(shr >= 8 && shr_ok == shr, "lazyfork shared: in %ld of %ld forks the child's VmPTE "
	       "grew by K tables (+ at most 2 upper-level ones)", shr_ok, shr);
	tap_ok(ex >= 4 && ex_ok == ex, "lazyfork fork_exec: in %ld of %ld forks the child wrote into "
	       "1..16 tables before execve, of at least the region's", ex_ok, ex);
	if ((guest && btf) || bpf)
		tap_ok(bpf && cpr_ok == cpr && cpr >= 8 && !pgt_bad &&
		       json_array_size(json_object_get(model, "validation")) >= 2,
		       "lazyfork BPF: copy_page_range time in %ld of %ld private forks, below the fork's "
		       "latency; the child got the region's tables; %zu validation points", cpr_ok, cpr,
		       json_array_size(json_object_get(model, "validation")));
	else
		tap_skip("lazyfork BPF: copy_page_range not attachable on this %s",
			 btf ? "host" : "kernel (no BTF)");
	tap_ok(json_is_number(json_object_get(model, "c_copy_us_per_table")) &&
	       num(model, "c_copy_us_per_table") > 0 &&
	       json_array_size(json_object_get(model, "predictions")) == 5 * 2,
	       "lazyfork model: %.3f us per table copied, %zu predictions (want 10: the 4 model "
	       "sizes and 16M, x 2 fractions)",
	       num(model, "c_copy_us_per_table"),
	       json_array_size(json_object_get(model, "predictions")));
	json_decref(root);
	rc = run("lazyfork --fractions 2", err, sizeof(err));
	tap_ok(rc == 2 && strstr(err, "bad fraction '2' (in (0, 1])"), "lazyfork --fractions 2: "
	       "exit %d, %s", rc, err);
	rc = run("lazyfork --sizes 3M", err, sizeof(err));
	tap_ok(rc == 2 && strstr(err, "bad size '3M' (a multiple of 2M)"), "lazyfork --sizes 3M: "
	       "exit %d, %s", rc, err);
}

static void test_swapfrag(void)
{
	char err[4096], line[256];
	int rc, bad = 0, n = 0, calls = 0;
	json_t *root, *c, *s;
	const char *fn;
	bool ok;
	size_t i, j;
	FILE *f;

	rc = run("swapfrag --frag 1", err, sizeof(err));
	tap_ok(rc == 2 && strstr(err, "bad --frag '1' (0, k >= 2 or random)"), "swapfrag --frag 1: "
	       "exit %d, %s", rc, err);
	if (!guest) {
		tap_skip("swapfrag makes a zram swap device: in the guest");
		tap_skip("swapfrag: in the guest");
		tap_skip("swapfrag: in the guest");
		return;
	}
	rc = run("swapfrag --size 96M --fills 20,60 --frag 0,2 --batch 4M --reps 2 "
		 "-j /tmp/sf.json", err, sizeof(err));
	root = rc == 0 ? json_load_file("/tmp/sf.json", 0, NULL) : NULL;
	fn = json_string_value(json_object_get(json_object_get(root, "params"), "alloc_function"));
	json_array_foreach(json_object_get(root, "configs"), i, c)
		json_array_foreach(json_object_get(c, "samples"), j, s) {
			n++;
			/*
			 * 1024 new pages in a cgroup at its limit make reclaim free about as many
			 * (pgsteal: half required); some of them swapped out now, not all (clean
			 * swap-cache pages and file pages go without a write: 192 of 1024 seen on
			 * 6.12); it starts at its level (1% below allowed: slots freed by reclaim
			 * of swap-cache pages between the fill and the batch)
			 */
			ok = num(s, "reclaimed_pages") >= 512 && num(s, "pswpout") >= 1 &&
			     num(s, "used_pct_before") >= num(c, "fill_pct") - 1;
			bad += !ok;
			tap_diag("frag %s fill %.0f%%: %.0f pages reclaimed, %.0f swapped out, "
				 "%.1f%% used before%s", json_string_value(json_object_get(c, "frag")),
				 num(c, "fill_pct"), num(s, "reclaimed_pages"), num(s, "pswpout"),
				 num(s, "used_pct_before"), ok ? "" : ": BAD");
			calls += num(s, "alloc_calls") > 0;
		}
	tap_ok(root && n == 8 && !bad, "swapfrag: exit %d, %d batches, %d of them with < 512 pages "
	       "reclaimed, none swapped out or below their fill level %s", rc, n, bad, rc ? err : "");
	if (btf)
		tap_ok(fn && (!strcmp(fn, "folio_alloc_swap") || !strcmp(fn, "get_swap_pages")) &&
		       calls == n, "swapfrag: the allocator probe (%s) ran in %d of %d batches",
		       fn ? fn : "-", calls, n);
	else
		tap_skip("swapfrag: no allocator probe on a kernel without BTF (it says '%s')",
			 fn ? fn : "-");
	json_decref(root);
	bad = 0;
	f = fopen("/proc/swaps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "32767")) {
			bad++;
			tap_diag("still on: %s", line);
		}
	if (f)
		fclose(f);
	tap_ok(f && !bad, "swapfrag: its swap device is gone afterwards (/proc/swaps) %s", err);
}

int main(void)
{
	char self[4096], *slash, path[8192];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	/* the workloads sit next to this program (build/bin/ on the host, PATH in the guest) */
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof(path), "%s:%s", self, getenv("PATH") ?: "/usr/bin:/bin");
			setenv("PATH", path, 1);
		}
	}
	guest = getenv("COWLAB_GUEST") != NULL;
	btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	tap_plan(8 + 4);
	test_lazyfork();
	test_swapfrag();
	return tap_finish();
}
