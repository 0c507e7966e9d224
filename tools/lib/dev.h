/* SPDX-License-Identifier: GPL-2.0 */
/* /dev/cowlab: opening it with a helpful error, and the ioctl wrappers. */
#ifndef COWLAB_DEV_H
#define COWLAB_DEV_H

#include <stdbool.h>
#include <stddef.h>

#include <uapi/cowlab.h>

/* Open /dev/cowlab; on failure print why (module not loaded, ...) unless quiet; -1. */
int cl_dev_open(bool quiet);
/* The ioctl wrappers return 0 or -errno. */
int cl_dev_version(int fd, struct cowlab_version *v);
int cl_ca_set(int fd, const struct cowlab_cowahead_policy *p);
int cl_ca_get(int fd, struct cowlab_cowahead_policy *p);
int cl_ca_stats(int fd, struct cowlab_cowahead_stats *st);

/* "fixed 16 pages", "adaptive up to 64 pages, keep-exec" ... */
void cl_ca_describe(const struct cowlab_cowahead_policy *p, char *buf, size_t len);

#endif
