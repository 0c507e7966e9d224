# cowlab: one entry point. `make help` lists the targets.
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

# bpftool, depmod and modprobe live in sbin, which a non-login (CI) PATH may lack.
export PATH := $(PATH):/usr/sbin:/sbin

B        := build
KERNELS  := $(shell awk '!/^\#/ && NF { print $$1 }' vm/kernels.conf)
CACHE    := .cache

CC       := gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
CFLAGS   := -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE \
            -Iinclude -Itools/lib -Ibpf -I$(B)/bpf
# Everything that runs in the guest is static: the guest is busybox only.
LDSTATIC := -static
LIBS     := -lbpf -lelf -lz -ljansson -lgsl -lgslcblas -lm

# ---- sources -------------------------------------------------------------
LIB_SRC   := $(wildcard tools/lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(B)/%.o)
# An archive: a program links only the members it uses (the workloads do not
# get GSL or the BPF loader unless they call them).
LIB_A     := $(B)/libcowlab.a
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(B)/%.o)
BPF_SRC   := $(wildcard bpf/*.bpf.c)
BPF_SKEL  := $(BPF_SRC:bpf/%.bpf.c=$(B)/bpf/%.skel.h)
WL_SRC    := $(wildcard workloads/*.c)
WL_BIN    := $(WL_SRC:workloads/%.c=$(B)/bin/%)
GT_SRC    := $(wildcard tests/guest/*.c)
GT_BIN    := $(GT_SRC:tests/guest/%.c=$(B)/bin/%)
GT_SH     := $(wildcard tests/guest/*.sh)
# Seeded randomized stress programs and the ioctl fuzzer (run in the guest), sharing stresslib.
ST_LIB    := $(B)/tests/stress/stresslib.o
ST_SRC    := $(filter-out tests/stress/stresslib.c,$(wildcard tests/stress/*.c))
ST_BIN    := $(ST_SRC:tests/stress/%.c=$(B)/bin/%)
UT_SRC    := $(wildcard tests/unit/*.c)
UT_BIN    := $(UT_SRC:tests/unit/%.c=$(B)/unit/%)
# Man pages: one per command, from the markdown pages in docs/ (go-md2man).
MAN_SRC   := $(wildcard docs/cowlab*.md)
MAN_OUT   := $(MAN_SRC:docs/%.md=$(B)/man/%.1)
MOD_SRC   := $(wildcard module/*.c module/*.h) module/Kbuild include/uapi/cowlab.h
GUEST_BIN := $(B)/bin/cowlab $(WL_BIN) $(GT_BIN) $(GT_SH) $(ST_BIN)

DEBUG_K   := 6.12-debug
KOS       := $(KERNELS:%=$(B)/k/%/cowlab.ko)
KCPIO     := $(KERNELS:%=$(B)/k/%/initramfs-kernel.cpio)
HOST_KDIR := /lib/modules/$(shell uname -r)/build

.PHONY: icount-lane icount-baseline stress all help deps kernels kernel-debug modules module-host tools workloads bpf tests images \
        man check check-fast check-unit check-debug bench baseline clean distclean \
        install install-dkms-src deb check-deb

all: deps tools workloads tests modules images
	$(Q)ln -sfn $(B)/bin/cowlab cowlab

help:
	@echo "make            build everything (tools, BPF, workloads, tests, module per kernel, guest images)"
	@echo "make deps       install missing Debian packages (run automatically)"
	@echo "make kernels    fetch the pinned stock kernels (vm/kernels.conf) into $(CACHE)/"
	@echo "make modules    cowlab.ko for every pinned kernel; module-host for the running kernel"
	@echo "make check      all tests: host, VM harness, guest suite and stress on every pinned kernel and 6.12-debug"
	@echo "make check-fast the same without the debug-kernel lane"
	@echo "make check-debug  only the debug lane: guest suite on KASAN/lockdep 6.12, lane self-test"
	@echo "make bench      the main job: cowlab bench --suite quick (in the VM)"
	@echo "make man        man pages from docs/cowlab*.md into $(B)/man/ (man -l $(B)/man/cowlab-trace.1)"
	@echo "make check-unit host unit tests only (cmocka, and docs/ against --help)"
	@echo "make install    the command, workloads, man pages, docs (DESTDIR=, PREFIX=/usr/local)"
	@echo "make deb        Debian packages cowlab and cowlab-dkms into $(B)/deb/"
	@echo "make check-deb  install both in a clean chroot, DKMS-build the module, test it in the guest"
	@echo "make baseline   refresh results/baseline/ (what make check compares a small run with)"
	@echo "make icount-lane [KERNEL=6.12]   the instruction-counted timing lane (A/A, 1% injection, gate)"
	@echo "make icount-baseline            refresh results/baseline/icount-<kernel>.json"
	@echo "V=1             show commands"

# ---- dependencies and kernels -------------------------------------------
$(CACHE)/deps.stamp: tools/install-deps
	$(Q)tools/install-deps
	$(Q)mkdir -p $(CACHE) && touch $@

deps:
	$(Q)tools/install-deps
	$(Q)mkdir -p $(CACHE) && touch $(CACHE)/deps.stamp

kernels: $(KERNELS:%=$(CACHE)/kernels/%/.complete)

$(CACHE)/kernels/%/.complete: vm/kernels.conf vm/fetch-kernels | $(CACHE)/deps.stamp
	$(Q)vm/fetch-kernels $*

# The debug kernel is built from source, not fetched (vm/build-debug-kernel).
$(CACHE)/kernels/$(DEBUG_K)/.complete: vm/debug-kernel.config vm/build-debug-kernel | $(CACHE)/deps.stamp
	$(Q)vm/build-debug-kernel

kernel-debug: $(CACHE)/kernels/$(DEBUG_K)/.complete

# ---- BPF -----------------------------------------------------------------
# vmlinux.h: from the running kernel's BTF when it has one, else from the
# pinned 6.12 image. CO-RE relocates field offsets at load time on any kernel.
$(B)/bpf/vmlinux.h: | $(CACHE)/deps.stamp
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)tools/gen-vmlinux-h $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(B)/bpf/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(B)/bpf -Ibpf -Iinclude -c $< -o $@
	$(Q)llvm-strip -g $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

bpf: $(BPF_SKEL)

# ---- user space ------------------------------------------------------------
$(B)/%.o: %.c $(wildcard tools/lib/*.h bpf/*.h tests/stress/*.h tests/guest/*.h) include/uapi/cowlab.h | $(BPF_SKEL) $(CACHE)/deps.stamp
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/bin/cowlab: $(TOOL_OBJ) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDSTATIC) -o $@ $^ $(LIBS)

$(B)/bin/%: $(B)/workloads/%.o $(LIB_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDSTATIC) -o $@ $^ $(LIBS)

$(B)/bin/%: $(B)/tests/guest/%.o $(LIB_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDSTATIC) -o $@ $^ $(LIBS)

$(B)/bin/%: $(B)/tests/stress/%.o $(ST_LIB) $(LIB_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(LDSTATIC) -o $@ $^ $(LIBS)

# Host unit tests: cmocka (shared), linked with the library under test.
$(B)/unit/%: $(B)/tests/unit/%.o $(LIB_A)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LIBS) -lcmocka

tools: $(B)/bin/cowlab
	$(Q)ln -sfn $(B)/bin/cowlab cowlab
workloads: $(WL_BIN)
tests: $(GT_BIN) $(UT_BIN) $(ST_BIN)

# ---- man pages ---------------------------------------------------------------
$(B)/man/%.1: docs/%.md tools/md2man | $(CACHE)/deps.stamp
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)tools/md2man $< $@

man: $(MAN_OUT)

# ---- kernel module ----------------------------------------------------------
# Built out of tree per kernel in its own directory (Kbuild writes next to the sources).
$(B)/k/%/cowlab.ko: $(MOD_SRC) $(CACHE)/kernels/%/.complete
	$(call msg,KMOD,$@)
	$(Q)rm -rf $(B)/k/$*/module && mkdir -p $(B)/k/$*/module
	$(Q)cp module/*.c module/*.h module/Kbuild $(B)/k/$*/module/
	$(Q)ln -sfn $(CURDIR)/include $(B)/k/$*/include
	$(Q). $(CACHE)/kernels/$*/VERSION && \
	if [ "$${toolchain:-host}" = host ]; then run=; else run="vm/chroot $$toolchain --"; fi && \
	$$run $(MAKE) -s -C $$kdir M=$(CURDIR)/$(B)/k/$*/module modules \
		2>&1 | grep -v 'Skipping BTF generation' >&2; test -f $(B)/k/$*/module/cowlab.ko
	$(Q)cp $(B)/k/$*/module/cowlab.ko $@

modules: $(KOS)

# The debug lane's deliberately buggy self-test module: never part of cowlab.ko.
$(B)/k/$(DEBUG_K)/cowlab_buggy.ko: tests/debug/buggy.c tests/debug/Kbuild $(CACHE)/kernels/$(DEBUG_K)/.complete
	$(call msg,KMOD,$@)
	$(Q)rm -rf $(B)/k/$(DEBUG_K)/buggy && mkdir -p $(B)/k/$(DEBUG_K)/buggy
	$(Q)cp tests/debug/buggy.c tests/debug/Kbuild $(B)/k/$(DEBUG_K)/buggy/
	$(Q). $(CACHE)/kernels/$(DEBUG_K)/VERSION && $(MAKE) -s -C $$kdir M=$(CURDIR)/$(B)/k/$(DEBUG_K)/buggy modules
	$(Q)cp $(B)/k/$(DEBUG_K)/buggy/cowlab_buggy.ko $@

module-host:
	@if [ -d $(HOST_KDIR) ]; then $(MAKE) -C module KDIR=$(HOST_KDIR); \
	else echo "no headers for the running kernel at $(HOST_KDIR)"; exit 1; fi

# ---- guest images ---------------------------------------------------------------
$(B)/k/%/initramfs-kernel.cpio: $(B)/k/%/cowlab.ko vm/mkinitramfs
	$(call msg,CPIO,$@)
	$(Q)vm/mkinitramfs kernel $* $< $@

$(B)/initramfs-user.cpio: $(GUEST_BIN) vm/init vm/guest-modprobe vm/mkinitramfs
	$(call msg,CPIO,$@)
	$(Q)vm/mkinitramfs user $@ $(GUEST_BIN)

images: $(KCPIO) $(B)/initramfs-user.cpio

# ---- install and Debian packages ------------------------------------------------------
# make install [DESTDIR=] [PREFIX=/usr/local]: the command and the workloads it runs under
# PREFIX/lib/cowlab/bin (cowlab bench finds them next to itself), PREFIX/bin/cowlab a link,
# man pages and docs. The BPF programs are inside the cowlab binary (skeletons).
PREFIX   ?= /usr/local
DKMS_SRC ?= /usr/src/cowlab-$(VERSION)
VERSION  := $(shell sed -n 's/^\#define COWLAB_MODULE_VERSION[[:space:]]*"\(.*\)"/\1/p' module/cowlab.h)
install: tools workloads man
	install -d $(DESTDIR)$(PREFIX)/lib/cowlab/bin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/doc/cowlab/docs
	install -m 0755 $(B)/bin/cowlab $(WL_BIN) $(DESTDIR)$(PREFIX)/lib/cowlab/bin/
	ln -sfn ../lib/cowlab/bin/cowlab $(DESTDIR)$(PREFIX)/bin/cowlab
	install -m 0644 $(MAN_OUT) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/cowlab/
	install -m 0644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/cowlab/docs/

# The module's sources as DKMS wants them (dkms.conf: module/ builds against include/).
install-dkms-src:
	install -d $(DESTDIR)$(DKMS_SRC)/module $(DESTDIR)$(DKMS_SRC)/include/uapi
	install -m 0644 module/*.c module/*.h module/Kbuild module/Makefile $(DESTDIR)$(DKMS_SRC)/module/
	install -m 0644 include/uapi/cowlab.h $(DESTDIR)$(DKMS_SRC)/include/uapi/

# make deb: cowlab_VERSION_amd64.deb and cowlab-dkms_VERSION_all.deb in $(B)/deb/, built by
# dpkg-buildpackage from a copy of the source tree (the files git knows, committed or not).
deb: | $(CACHE)/deps.stamp
	$(call msg,DEB,$(B)/deb)
	$(Q)tools/make-deb $(B)/deb

# The package test (tests/pkg/test-deb builds the packages itself): install both into a clean Debian chroot with the pinned kernel's
# headers (DKMS builds cowlab.ko there), load that cowlab.ko in the guest and run the module
# suite, then purge and check that nothing is left.  make check-deb [KERNEL=6.12]
check-deb: images
	$(Q)tests/pkg/test-deb $(or $(KERNEL),6.12)

# ---- tests and benchmarks ------------------------------------------------------------
DEBUG_IMAGES := $(B)/k/$(DEBUG_K)/initramfs-kernel.cpio $(B)/k/$(DEBUG_K)/cowlab_buggy.ko

# The README's test command: host unit and BPF tests, the VM harness, the guest suite on every
# pinned kernel and on the debug kernel, and the debug lane's self-test.
# KERNEL=6.1 runs the guest suite on that kernel only; check-fast leaves out the debug lane.
check: all $(if $(KERNEL),,$(DEBUG_IMAGES))
	$(Q)tests/run-all $(if $(KERNEL),--kernel $(KERNEL),$(KERNELS:%=--kernel %) --kernel $(DEBUG_K) --lane-selftest)

# The icount timing lane (in make check; COWLAB_ICOUNT=0 leaves it out): three instruction-counted
# boots of `cowlab bench --suite icount` (A, A, 1% injected) and the gate, TAP.
#   make icount-lane [KERNEL=6.12]
icount-lane: all
	$(Q)tests/icount/lane $(or $(KERNEL),6.12)

# Refresh results/baseline/icount-<kernel>.json (what the icount lane gates on) for every
# pinned kernel, or KERNEL=; written only when that run's A/A and injection checks pass.
icount-baseline: all
	$(Q)for k in $(or $(KERNEL),$(KERNELS)); do ICOUNT_UPDATE=1 tests/icount/lane $$k || exit 1; done

# The long randomized stress, outside CI: fresh seeds for DURATION seconds per program (refork,
# cow-ahead, the ioctl fuzzer), then unload races, rmmod and (debug kernel) kmemleak.
#   make stress [KERNEL=6.12] [DURATION=600]
STRESS_K := $(or $(KERNEL),6.12)
STRESS_S := $(or $(DURATION),600)
stress: all $(if $(filter %-debug,$(STRESS_K)),$(DEBUG_IMAGES))
	$(Q)./cowlab vm --kernel $(STRESS_K) --mem 2G --cpus 2 --numa 2 \
		--timeout $$(( $(STRESS_S) * 3 + 1200 )) -o $(B)/stress-$(STRESS_K) \
		-- run-stress.sh --duration $(STRESS_S)

check-fast: all
	$(Q)tests/run-all

# The docs test (tests/unit/test_docs.sh) reads the tool's --help: it needs the tool.
check-unit: tests tools
	$(Q)tests/run-all --unit-only

# The debug-kernel lane: the guest suite on 6.12-debug (KASAN, lockdep, DEBUG_VM, PAGE_TABLE_CHECK,
# kmemleak), then the lane's self-test with a deliberately buggy module.
check-debug: all $(B)/k/$(DEBUG_K)/initramfs-kernel.cpio $(B)/k/$(DEBUG_K)/cowlab_buggy.ko
	$(Q)tests/run-all --no-host --kernel $(DEBUG_K) --lane-selftest

bench: all
	$(Q)./cowlab bench --suite quick

# The committed CI baseline (results/baseline/<kernel>.json), checked by make check.
# Refreshed only here, on purpose: review the diff before committing it.
baseline: all
	$(Q)rm -rf $(B)/baseline-run
	$(Q)./cowlab bench --suite baseline -o $(B)/baseline-run
	$(Q)for k in $(KERNELS); do ./cowlab baseline update $(B)/baseline-run/$$k || exit 1; done

clean:
	rm -rf $(B) cowlab vm-out

distclean: clean
	rm -rf $(CACHE)
