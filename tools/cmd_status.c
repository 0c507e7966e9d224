// SPDX-License-Identifier: GPL-2.0
/* cowlab status: is the module there, what does it offer, where are we running. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "commands.h"
#include "dev.h"
#include "probelib.h"
#include "util.h"

/* What the measuring probes can attach to here (needs root); NULL and @err when none. */
static struct cl_probes *probe_status(char *err, size_t len)
{
	struct cl_probe_opts o = { 0 };

	return cl_probes_open(&o, err, len);
}

static void print_probes(void)
{
	char err[1024], *nl;
	struct cl_probes *p = probe_status(err, sizeof(err));
	int i, n;

	if (!p) {
		nl = strchr(err, '\n');
		if (nl)
			*nl = 0;
		printf("probes:   none (%s)\n", err);
		return;
	}
	printf("probes:   ");
	for (i = 0, n = 0; i < CL_P_NR; i++) {
		if (!cl_probes_status(p, i)->method)
			continue;
		if (n && n % 4 == 0)
			printf("\n          ");
		printf("%s=%s ", cl_probe_name(i), cl_method_name(cl_probes_status(p, i)->method));
		n++;
	}
	printf("\n");
	for (i = 0, n = 0; i < CL_P_NR; i++)
		if (!cl_probes_status(p, i)->method)
			printf("%s %s", n++ ? "" : "          unavailable:", cl_probe_name(i));
	if (n)
		printf("\n          (cowlab trace --list says why)\n");
	cl_probes_close(p);
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "probes", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct cowlab_version v = {};
	struct utsname u;
	bool json = false, loaded, probes = false;
	int c, fd;

	while ((c = getopt_long(argc, argv, "jph", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'p': probes = true; break;
		case 'h':
			printf("usage: cowlab status [-j] [-p]\n\nShow whether the cowlab module is loaded, "
			       "its ABI, version and features.\n  -j, --json    JSON on standard output\n"
			       "  -p, --probes  also what each measuring "
			       "probe attaches to on this kernel\n                (root; attaches and detaches "
			       "each once)\nExit status 0 when loaded, 1 when not.\n");
			return 0;
		default: return 2;
		}
	}
	uname(&u);
	fd = cl_dev_open(true);
	loaded = fd >= 0 && cl_dev_version(fd, &v) == 0;
	if (fd >= 0)
		close(fd);

	if (json) {
		json_t *o = json_pack("{s:s, s:b, s:b}", "kernel", u.release, "module_loaded", loaded,
				      "in_cowlab_vm", getenv("COWLAB_GUEST") != NULL);
		if (loaded) {
			json_t *f = json_array();

			if (v.features & COWLAB_FEAT_COWAHEAD)
				json_array_append_new(f, json_string("cowahead"));
			if (v.features & COWLAB_FEAT_REFORK)
				json_array_append_new(f, json_string("refork"));
			json_object_set_new(o, "module", json_pack("{s:i, s:s, s:o}", "abi", v.abi_version,
				"version", v.module_version, "features", f));
		}
		if (probes) {
			char err[1024];
			struct cl_probes *p = probe_status(err, sizeof(err));

			json_object_set_new(o, "probes", p ? cl_probes_status_json(p) :
					    json_pack("{s:s}", "error", err));
			cl_probes_close(p);
		}
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return loaded ? 0 : 1;
	}
	printf("kernel:   %s%s\n", u.release, getenv("COWLAB_GUEST") ? " (cowlab vm guest)" : "");
	if (!loaded) {
		printf("module:   not loaded (%s missing)\n", COWLAB_DEVICE);
		if (probes)
			print_probes();
		return 1;
	}
	printf("module:   cowlab %s, ABI %u%s\n", v.module_version, v.abi_version,
	       v.abi_version == COWLAB_ABI_VERSION ? "" : " (MISMATCH with this tool)");
	printf("features: cowahead %s, refork %s\n",
	       v.features & COWLAB_FEAT_COWAHEAD ? "yes" : "no (see dmesg)",
	       v.features & COWLAB_FEAT_REFORK ? "yes" : "no");
	if (probes)
		print_probes();
	return 0;
}
