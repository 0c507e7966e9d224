// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <uapi/cowlab.h>

#include "dev.h"
#include "jsonout.h"
#include "util.h"

json_t *cl_summary_json(const double *x, size_t n)
{
	struct cl_summary s;

	if (cl_summarize(x, n, &s))
		return json_null();
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I}",
			 "n", (json_int_t)s.n, "mean", s.mean, "stddev", s.stddev, "min", s.min,
			 "max", s.max, "median", s.median, "p90", s.p90, "p99", s.p99, "mad", s.mad,
			 "outliers", (json_int_t)s.outliers);
}

/* First line of @path with the trailing newline removed, or "" */
static const char *first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	return buf;
}

static const char *cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return buf;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(buf, len, "%s", c + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
	return buf;
}

/* The CPU says it runs under a hypervisor (a cloud VM, a cowlab guest...). */
static bool under_hypervisor(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[4096];
	bool yes = false;

	if (!f)
		return false;
	while (!yes && fgets(line, sizeof(line), f))
		yes = !strncmp(line, "flags", 5) && strstr(line, " hypervisor");
	fclose(f);
	return yes;
}

static json_int_t swap_total_kb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long long kb = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SwapTotal: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * The Debian packages the guest kernel came from, as vm/fetch-kernels resolved them
 * (/etc/cowlab/kernel in the guest is the cache's VERSION file): the pin and what was used,
 * which can differ when the archive has moved. Null outside a cowlab guest.
 */
static json_t *kernel_packages_json(void)
{
	static const char *const keys[] = { "name", "series", "layout", "abi", "package_version",
					    "pinned", "resolved", "packages", "fetched" };
	FILE *f = fopen("/etc/cowlab/kernel", "r");
	char line[2048];
	json_t *o;

	if (!f)
		return json_null();
	o = json_object();
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *v;
		size_t i, n;

		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		v[strcspn(v, "\n")] = '\0';
		n = strlen(v);
		if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
			v[n - 1] = '\0';
			v++;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strcmp(line, keys[i]))
				json_object_set_new(o, keys[i], json_string(v));
	}
	fclose(f);
	return o;
}

/*
 * What the times of a run count: "icount" (a guest whose clock follows executed
 * instructions: `cowlab vm --icount`), "emulated" (QEMU TCG wall time), or "wall" (real
 * time: the host, or a KVM guest). Reports never mix them.
 */
const char *cl_clock_kind(void)
{
	const char *c = getenv("COWLAB_CLOCK"), *a = getenv("COWLAB_ACCEL");

	if (c && !strcmp(c, "icount"))
		return "icount";
	if (a && !strcmp(a, "tcg"))
		return "emulated";
	return "wall";
}

/* The clock of a loaded results.json (runs from before "clock" existed: from "accel"). */
const char *cl_clock_of(json_t *root)
{
	json_t *env = json_object_get(root, "environment");
	const char *c = json_string_value(json_object_get(env, "clock"));
	const char *a = json_string_value(json_object_get(env, "accel"));

	if (c)
		return c;
	return a && !strcmp(a, "tcg") ? "emulated" : "wall";
}

json_t *cl_environment_json(void)
{
	char thp[128], cpu[256], buf[64];
	struct cowlab_version v = {};
	struct utsname u;
	json_t *env;
	int fd;

	uname(&u);
	env = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:I}",
			"kernel", u.release, "machine", u.machine,
			"cpu", cpu_model(cpu, sizeof(cpu)), "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
			"mem_bytes", (json_int_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE),
			"thp", first_line("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp)),
			"swap_kb", swap_total_kb());
	json_object_set_new(env, "cowlab_vm", json_boolean(getenv("COWLAB_GUEST") != NULL));
	json_object_set_new(env, "hypervisor", json_boolean(under_hypervisor()));
	json_object_set_new(env, "accel", getenv("COWLAB_ACCEL") ? json_string(getenv("COWLAB_ACCEL"))
								 : json_null());
	json_object_set_new(env, "clock", json_string(cl_clock_kind()));
	if (getenv("COWLAB_INJECT_PCT"))	/* a timing lane's injected slowdown: never a real run */
		json_object_set_new(env, "inject_pct", json_real(atof(getenv("COWLAB_INJECT_PCT"))));
	json_object_set_new(env, "kernel_name", getenv("COWLAB_KERNEL") ?
			    json_string(getenv("COWLAB_KERNEL")) : json_null());
	json_object_set_new(env, "kernel_packages", kernel_packages_json());
	fd = cl_dev_open(true);
	if (fd >= 0 && cl_dev_version(fd, &v) == 0) {
		snprintf(buf, sizeof(buf), "%s", v.module_version);
		json_object_set_new(env, "module", json_pack("{s:s, s:i, s:I}", "version", buf,
				    "abi", v.abi_version, "features", (json_int_t)v.features));
	} else {
		json_object_set_new(env, "module", json_null());
	}
	if (fd >= 0)
		close(fd);
	json_object_set_new(env, "tool_abi", json_integer(COWLAB_ABI_VERSION));
	return env;
}

int cl_json_write(json_t *o, const char *path)
{
	int ret;

	if (!strcmp(path, "-")) {
		ret = json_dumpf(o, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
		putchar('\n');
	} else {
		ret = json_dump_file(o, path, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	}
	if (ret)
		cl_err("cannot write %s: %s", path, strerror(errno));
	return ret ? -1 : 0;
}
