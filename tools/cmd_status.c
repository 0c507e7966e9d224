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
#include "util.h"

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct cowlab_version v = {};
	struct utsname u;
	bool json = false, loaded;
	int c, fd;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h':
			printf("usage: cowlab status [-j]\n\nShow whether the cowlab module is loaded, "
			       "its ABI, version and features.\nExit status 0 when loaded, 1 when not.\n");
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
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return loaded ? 0 : 1;
	}
	printf("kernel:   %s%s\n", u.release, getenv("COWLAB_GUEST") ? " (cowlab vm guest)" : "");
	if (!loaded) {
		printf("module:   not loaded (%s missing)\n", COWLAB_DEVICE);
		return 1;
	}
	printf("module:   cowlab %s, ABI %u%s\n", v.module_version, v.abi_version,
	       v.abi_version == COWLAB_ABI_VERSION ? "" : " (MISMATCH with this tool)");
	printf("features: cowahead %s, refork %s\n",
	       v.features & COWLAB_FEAT_COWAHEAD ? "yes" : "no (see dmesg)",
	       v.features & COWLAB_FEAT_REFORK ? "yes" : "no");
	return 0;
}
