// SPDX-License-Identifier: GPL-2.0
/* cowlab vm: hand over to the harness script vm/run (QEMU orchestration is shell work). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

int cmd_vm(int argc, char **argv)
{
	char path[PATH_MAX];

	if (getenv("COWLAB_GUEST")) {
		cl_err("vm: already inside the cowlab guest");
		return 2;
	}
	if (!cl_checkout()) {
		cl_err("vm: the VM harness (vm/run) is part of a cowlab source checkout, and this "
		       "cowlab is installed (under %s): clone the project and run its ./cowlab", cl_repo_root());
		return 2;
	}
	snprintf(path, sizeof(path), "%s/vm/run", cl_repo_root());
	argv[0] = path;
	execv(path, argv);
	cl_err("vm: cannot run %s: %s", path, strerror(errno));
	return 2;
}
