// SPDX-License-Identifier: GPL-2.0
/* A host-built static program for the harness test: writes a result file, prints, exits 7. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *out = getenv("COWLAB_OUT");
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/harness-result.txt", out ? out : ".");
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "argc=%d arg1=%s\n", argc, argc > 1 ? argv[1] : "");
		fclose(f);
	}
	printf("hello from the guest\n");
	return 7;
}
