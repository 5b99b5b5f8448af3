# proctrail — one Makefile for every program, test and harness.
#
#   make                     build/proctrail-agent, build/proctrail-server, build/proctrail
#   make test                unit + integration tests, then the unit tests under ASan+UBSan,
#                            cppcheck, then every fuzz corpus replayed; ends with "N passed, N failed, N skipped"
#   make fuzz                libFuzzer harnesses into build/fuzz/
#   make reliability         the long fault/attack/fuzz/analysis suite (an hour or more)
#   make run                 local deployment under ./var: collector on SQLite + a local agent
#   make bench               proctrail against its peers (auditd, laurel, the bare-eBPF floor),
#                            every figure into docs/benchmarks.md (< 30 min; QUICK=1: < 5 min)
#   make bench-build         only the benchmark programs, into build/bench/
#   make install             programs, man pages, systemd units, example configuration
#                            (DESTDIR=, PREFIX=/usr/local, SYSCONFDIR=/etc, LOCALSTATEDIR=/var)
#   make deb                 build/proctrail_VERSION_ARCH.deb (PREFIX=/usr)
#   make SANITIZE=address,undefined   instrumented tree in build-san/
#   make V=1                 show the commands
#
# Sources are found by directory, so a new file needs no Makefile edit:
#   lib/*/*.c                  -> libproctrail.a (shared by every program)
#   agent|server|cli/*.c       -> one program each; main.c holds main(), the rest go into
#                                 an archive that unit tests may link
#   tests/unit/test_*.c        -> one cmocka binary each
#   tests/fuzz/fuzz_*.c        -> one libFuzzer harness each
#   bench/*.c                  -> one benchmark program each

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
SANITIZE  ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

ifneq ($(SANITIZE),)
BUILD     ?= build-san
SANFLAGS  := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD     ?= build
SANFLAGS  :=
endif

CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-missing-field-initializers -D_GNU_SOURCE -fno-strict-aliasing \
	-Iinclude -I$(BUILD)/bpf -Ibpf
CFLAGS    += $(CFLAGS_BASE) $(SANFLAGS) -MMD -MP
LDFLAGS   += $(SANFLAGS)
# Each program links what it uses: the CLI needs no libbpf or libevent, the collector no libbpf.
LIB_LIBS    := -lssl -lcrypto -lzstd -lpthread
AGENT_LIBS  := -lbpf -lelf -lz $(LIB_LIBS)
# libpq: the collector's PostgreSQL store and the database reads of the CLI and the API (their
# two files only)
PQ_CFLAGS   := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS     := -lpq
SERVER_LIBS := -levent_openssl -levent_core -levent_extra -levent_pthreads -lsqlite3 -lyaml -lpcre2-8 $(PQ_LIBS) $(LIB_LIBS)
CLI_LIBS    := -lsqlite3 $(PQ_LIBS) $(LIB_LIBS)
# tests, benchmarks and fuzzers may link any archive
LDLIBS      := -lbpf -lelf -lz -levent_openssl -levent_core -levent_extra -levent_pthreads \
	-lsqlite3 -lyaml -lpcre2-8 $(PQ_LIBS) $(LIB_LIBS) -lm

# The BPF target architecture is the build machine's (CO-RE's PT_REGS and syscall wrappers
# differ per architecture). bpf/vmlinux.h is that architecture's BTF: `make vmlinux` refreshes it.
BPF_ARCH  ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/i.86/x86/' -e 's/aarch64.*/arm64/' \
	-e 's/arm.*/arm/' -e 's/ppc64.*/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/' \
	-e 's/loongarch64/loongarch/')

LIB_SRC    := $(sort $(wildcard lib/*/*.c))
AGENT_SRC  := $(sort $(filter-out agent/main.c,$(wildcard agent/*.c)))
# The web console (web/) is built into the collector as a generated table (server/console.c).
CONSOLE_GEN := $(BUILD)/gen/console_files.c
SERVER_SRC := $(sort $(filter-out server/main.c,$(wildcard server/*.c))) $(CONSOLE_GEN)
CLI_SRC    := $(sort $(filter-out cli/main.c,$(wildcard cli/*.c)))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC  := $(sort $(wildcard bench/*.c))
BPF_SRC    := $(sort $(wildcard bpf/*.bpf.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_A    := $(BUILD)/libproctrail.a
AGENT_A  := $(BUILD)/libagent.a
SERVER_A := $(BUILD)/libserver.a
CLI_A    := $(BUILD)/libcli.a
SKELS    := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRC))

PROGRAMS := $(BUILD)/proctrail-agent $(BUILD)/proctrail-server $(BUILD)/proctrail
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZERS  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
ALL_ARCHIVES := $(AGENT_A) $(SERVER_A) $(CLI_A) $(LIB_A)

.PHONY: all test unit fuzz run bench bench-build clean deps vmlinux reliability install deb
.DEFAULT_GOAL := all

all: $(PROGRAMS) $(UNITS) $(BENCHES)

unit: $(UNITS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(call obj,server/store_pg.c lib/db/dbq_pg.c): CFLAGS += $(PQ_CFLAGS)

# Agent code includes the BPF skeleton, so it must exist before agent objects compile.
$(call obj,$(AGENT_SRC) agent/main.c): $(SKELS)

$(CONSOLE_GEN): scripts/embed-web.py $(shell find web -type f 2>/dev/null)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  EMBED   web/")
	$(Q)python3 scripts/embed-web.py web $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -Ibpf -Iinclude -c $< -o $@

# Kept: without it make deletes the object as an intermediate and rebuilds the skeleton and
# every agent object on each run.
.SECONDARY: $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRC))

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(LIB_A): $(call obj,$(LIB_SRC))
$(AGENT_A): $(call obj,$(AGENT_SRC))
$(SERVER_A): $(call obj,$(SERVER_SRC))
$(CLI_A): $(call obj,$(CLI_SRC))
$(BUILD)/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	$(Q)ar rcs $@ $^ $(if $^,,$(BUILD)/empty.o)

$(BUILD)/empty.o:
	@mkdir -p $(@D)
	$(Q)echo 'typedef int proctrail_empty_unit;' | $(CC) -x c -c - -o $@

# An archive of a directory with no sources yet still needs one member.
$(AGENT_A) $(SERVER_A) $(CLI_A) $(LIB_A): | $(BUILD)/empty.o

$(BUILD)/proctrail-agent: $(call obj,agent/main.c) $(AGENT_A) $(LIB_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)

$(BUILD)/proctrail-server: $(call obj,server/main.c) $(SERVER_A) $(LIB_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(SERVER_LIBS)

$(BUILD)/proctrail: $(call obj,cli/main.c) $(CLI_A) $(LIB_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(ALL_ARCHIVES)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/bench/%: $(call obj,bench/%.c) $(ALL_ARCHIVES)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Fuzz harnesses: clang, libFuzzer, ASan+UBSan, every library source compiled in.
FUZZ_CFLAGS := $(CFLAGS_BASE) -Ibuild/bpf -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: $(FUZZERS)
# The sensor's record decoding is pure (no skeleton, no kernel): it is fuzzed like the library.
FUZZ_AGENT_SRC := agent/sensor_decode.c agent/container.c agent/users.c agent/netmsg.c
# Every source is compiled once for all harnesses (instrumented, not linked with libFuzzer's
# main) into one archive; each harness takes from it only what it uses.
FUZZ_LIB_SRC := $(LIB_SRC) $(SERVER_SRC) $(FUZZ_AGENT_SRC)
FUZZ_A := build/fuzz/libfuzz.a
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(CLANG) $(CFLAGS_BASE) $(PQ_CFLAGS) -Ibuild/bpf -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=all -MMD -MP -c $< -o $@
$(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_AGENT_SRC)): $(SKELS)
$(FUZZ_A): $(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_LIB_SRC))
	@rm -f $@
	$(Q)ar rcs $@ $^
build/fuzz/%: tests/fuzz/%.c $(FUZZ_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_A) $(LDLIBS)

bench-build: $(BENCHES) $(PROGRAMS)

# Installs the peers, builds, then measures everything side by side (docs/benchmarks.md, the
# generated section; root). QUICK=1: the short form.
QUICK ?=
bench:
	$(Q)bash scripts/install-deps.sh bench
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) bench-build
	$(Q)QUICK=$(if $(QUICK),1,0) bash bench/compare.sh

deps:
	$(Q)bash scripts/install-deps.sh

# The BPF code is compiled against a pinned copy of the kernel's BTF (bpf/vmlinux.h); CO-RE
# relocates it on the running kernel. Refresh the copy with: make vmlinux
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

# Both README commands start with the dependency script, so a fresh Debian machine needs nothing else.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test:
	$(Q)bash scripts/install-deps.sh
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all fuzz
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) SANITIZE=address,undefined unit
	$(Q)bash tests/run.sh

# The long form of the fault, attack and analysis suite (docs/reliability.md): an hour or more.
reliability:
	$(Q)bash scripts/install-deps.sh reliability
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all fuzz
	$(Q)bash tests/reliability/run.sh

run:
	$(Q)bash scripts/install-deps.sh
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) all
	$(Q)bash scripts/run-local.sh

# ---- install (docs/operations.md, "Installed as a service") ----
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/proctrail
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
# systemd looks in /usr/local/lib/systemd/system too, so the default prefix works as is
UNITDIR       ?= $(PREFIX)/lib/systemd/system
INSTALL       ?= install
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g'
UNIT_IN := $(wildcard dist/systemd/*.service.in)

install: $(PROGRAMS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 0755 $(BUILD)/proctrail $(DESTDIR)$(BINDIR)/proctrail
	$(INSTALL) -m 0755 $(BUILD)/proctrail-server $(BUILD)/proctrail-agent $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	$(Q)for u in $(UNIT_IN); do n=$$(basename $$u .in); \
		$(SUBST) $$u > $(DESTDIR)$(UNITDIR)/$$n.tmp && chmod 0644 $(DESTDIR)$(UNITDIR)/$$n.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$$n.tmp $(DESTDIR)$(UNITDIR)/$$n || exit 1; done
	$(Q)for c in collector agent; do \
		$(SUBST) dist/$$c.conf.example > $(DESTDIR)$(DOCDIR)/examples/$$c.conf || exit 1; done
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/proctrail
	@# an operator's configuration is never overwritten
	$(Q)for c in collector agent; do f=$(DESTDIR)$(SYSCONFDIR)/proctrail/$$c.conf; \
		[ -e $$f ] || $(INSTALL) -m 0644 $(DESTDIR)$(DOCDIR)/examples/$$c.conf $$f || exit 1; done
	$(INSTALL) -d -m 0755 $(DESTDIR)$(LOCALSTATEDIR)/lib/proctrail
	$(INSTALL) -d -m 0700 $(DESTDIR)$(LOCALSTATEDIR)/lib/proctrail/spool
	$(INSTALL) -d -m 0700 $(DESTDIR)$(LOCALSTATEDIR)/lib/proctrail/db

deb:
	$(Q)bash scripts/make-deb.sh

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj build/fuzz/obj -name '*.d' 2>/dev/null)
