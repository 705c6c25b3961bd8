# vsd build. `make` builds build/vsd and build/vsctl; `make test` runs the
# unit tests (plain and sanitized) and the Bats integration tests.
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
PKGS    := libcap libseccomp libmnl libnftnl yajl libmicrohttpd libarchive gnutls nettle libxcrypt mount
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
           -Wshadow -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing \
           -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libwslay (WebSocket framing) ships no pkg-config file.
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwslay -lpthread

# Module sources: every .c in a module folder is part of the build.
LIB_SRC  := $(wildcard lib/*.c)
CORE_SRC := $(LIB_SRC) $(wildcard runtime/*.c cgroups/*.c netns/*.c fs-cow/*.c migrate/*.c)
VSD_SRC  := $(CORE_SRC) $(wildcard daemon/*.c)
CTL_SRC  := $(LIB_SRC) $(wildcard cli/*.c)

obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

.SECONDEXPANSION:
.SECONDARY:
.PHONY: fuzz all clean install test test-tools lint-openapi unit unit-asan integration format check-format check-includes check bench deps vm-test
all: $(BUILD)/vsd $(BUILD)/vsctl $(BUILD)/vsctl-tls.so $(BUILD)/vsd-helper

# Core code goes into static archives so unit tests pull only what they use.
LIBVSD_SRC  := $(CORE_SRC) $(filter-out daemon/main.c daemon/helper-main.c,$(wildcard daemon/*.c))
# vsctl's TLS for remotes: a module it loads on demand (cli/tls-module.h),
# so local commands do not load GnuTLS. Position-independent objects of
# their own; vsctl exports its symbols for the module (-rdynamic). Defined
# before the archive's list, which filters it out (:= expands at once).
VSCTL_TLS_SRC := cli/tls.c lib/vs_cert.c lib/vs_tls.c
LIBVSCTL_SRC := $(filter-out cli/main.c $(VSCTL_TLS_SRC),$(wildcard cli/*.c))

# The archives are rebuilt when the list of sources changes (a deleted file
# must not linger as a stale member).
SRCLIST := $(BUILD)/sources.list
$(shell mkdir -p $(BUILD); echo '$(LIBVSD_SRC) $(LIBVSCTL_SRC)' | cmp -s - $(SRCLIST) || \
	echo '$(LIBVSD_SRC) $(LIBVSCTL_SRC)' > $(SRCLIST))

$(BUILD)/%/libvsd.a: $$(call obj,$$*,$(LIBVSD_SRC)) $(SRCLIST)
	@rm -f $@; ar rcs $@ $(filter %.o,$^)
$(BUILD)/%/libvsctl.a: $$(call obj,$$*,$(LIBVSCTL_SRC)) $(SRCLIST)
	@rm -f $@; ar rcs $@ $(filter %.o,$^)

$(BUILD)/vsd: $(BUILD)/o/daemon/main.o $(BUILD)/o/libvsd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The monitor and exec helper: only the libraries the runtime uses.
$(BUILD)/vsd-helper: $(BUILD)/o/daemon/helper-main.o $(BUILD)/o/libvsd.a
	$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS)
# yajl and nettle go into vsctl itself where their static archives are
# installed: two libraries fewer for the dynamic loader at each of the
# three vsctl processes of a start, exec and stop (bench/lifecycle.sh).
# Not exported (--exclude-libs): the TLS module's GnuTLS keeps its own
# libnettle. libwslay is not needed at its start either: cli/wslay-load.c
# loads it for the first WebSocket stream (remotes), and --as-needed
# drops -lwslay from vsctl's link; its only library is then libc.
VSCTL_STATIC := $(foreach l,yajl_s nettle,$(if $(filter /%,$(shell $(CC) -print-file-name=lib$(l).a)),$(l)))
vsctl_comma := ,
vsctl_space := $() $()
VSCTL_STATIC_LDFLAGS := $(if $(VSCTL_STATIC),\
  -Wl$(vsctl_comma)--exclude-libs$(vsctl_comma)$(subst $(vsctl_space),:,$(VSCTL_STATIC:%=lib%.a)) \
  -Wl$(vsctl_comma)-Bstatic $(VSCTL_STATIC:%=-l%) -Wl$(vsctl_comma)-Bdynamic)
$(BUILD)/vsctl: $(BUILD)/o/cli/main.o $(BUILD)/o/libvsctl.a $(BUILD)/o/libvsd.a
	$(CC) $(LDFLAGS) -rdynamic -Wl,--as-needed -o $@ $^ $(VSCTL_STATIC_LDFLAGS) $(LDLIBS)
$(BUILD)/vsctl-tls.so: $(call obj,pic,$(VSCTL_TLS_SRC))
	$(CC) $(LDFLAGS) -shared -Wl,--as-needed -o $@ $^ $(shell pkg-config --libs gnutls)

# A test-only client of daemon/peer.c (tests/integration/peer.bats builds it).
$(BUILD)/test-peer: $(BUILD)/o/tests/integration/peer-client.o $(BUILD)/o/libvsd.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The daemon embeds the OpenAPI document (.incbin, unseen by -MMD).
$(BUILD)/o/daemon/openapi.o $(BUILD)/asan/daemon/openapi.o: docs/openapi.json

$(BUILD)/o/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c -o $@ $<

# Sanitizer objects live in their own tree so both builds coexist.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

# Unit tests: tests/unit/test_X.c links against all core code (not daemon/cli mains).
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
UNIT_ABINS := $(patsubst tests/unit/%.c,$(BUILD)/unit-asan/%,$(UNIT_SRC))

$(BUILD)/unit/%: $(BUILD)/o/tests/unit/%.o $(BUILD)/o/libvsctl.a $(BUILD)/o/libvsd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka
$(BUILD)/unit-asan/%: $(BUILD)/asan/tests/unit/%.o $(BUILD)/asan/libvsctl.a $(BUILD)/asan/libvsd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Every test binary runs; the lane fails at the end if any did.
unit: $(UNIT_BINS)
	@f=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || f=1; done; exit $$f
unit-asan: $(UNIT_ABINS)
	@f=0; for t in $(UNIT_ABINS); do echo "== $$t (asan+ubsan)"; \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t || f=1; done; exit $$f
# Programs only the integration tests run (never installed).
TEST_TOOLS := $(BUILD)/tests/vsd-test-idshift $(BUILD)/tests/vsd-test-memsum
# Static, on its own: it runs inside busybox guests (no libc there).
$(BUILD)/tests/vsd-test-memsum: tests/tools/vsd-test-memsum.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu11 -Wall -Wextra -Werror -static -o $@ $<
$(BUILD)/tests/%: $(BUILD)/o/tests/tools/%.o $(BUILD)/o/libvsd.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS)
test-tools: $(TEST_TOOLS)
integration: all $(TEST_TOOLS)
	bats --print-output-on-failure tests/integration
test: lint-openapi unit unit-asan integration vm-test

# The contract: docs/openapi.json is what scripts/gen-openapi.py makes from
# config-schemas/, and Redocly's linter (pinned, in .tools/) finds no error.
REDOCLY := .tools/node_modules/.bin/redocly
lint-openapi:
	scripts/install-dev-tools.sh
	scripts/gen-openapi.py --check
	scripts/check-api-doc.py
	$(REDOCLY) lint --config redocly.yaml docs/openapi.json

# Lane 3: the checks that need a pure cgroup v2 host, in qemu (TCG) on
# Debian's cloud kernel booted with cgroup_no_v1=all (about 40 s).
vm-test: all $(BUILD)/tests/vsd-test-memsum
	tests/vm/run.sh

bench: all
	bench/run.sh
	bench/lifecycle.sh
	bench/cr.sh
	bench/cr-phases.sh
	bench/migrate.sh
	bench/limits.sh
	bench/disk.sh
	bench/reclaim.sh
	bench/snapshot.sh
	bench/export.sh
	bench/net.sh
	bench/api.sh
	bench/density.sh

# libFuzzer harnesses (clang): parsers of untrusted bytes. Each links the
# project's whole library list: lib/ needs GnuTLS and nettle, and a shorter
# list per harness broke each time lib/ grew a dependency.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -I. \
	$(shell pkg-config --cflags yajl libarchive mount 2>/dev/null)
fuzz:
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_config.c $(LIB_SRC) \
	  $(LDLIBS) -o $(BUILD)/fuzz/fuzz_config
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_import.c $(wildcard fs-cow/*.c) $(LIB_SRC) \
	  $(LDLIBS) -o $(BUILD)/fuzz/fuzz_import
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_backup.c $(wildcard fs-cow/*.c) $(LIB_SRC) \
	  $(LDLIBS) -o $(BUILD)/fuzz/fuzz_backup
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_image.c migrate/pbuf.c migrate/imgcheck.c migrate/idshift.c \
	  $(LIB_SRC) $(LDLIBS) -o $(BUILD)/fuzz/fuzz_image
	@mkdir -p $(BUILD)/fuzz/corpus-image
	@(cd tests/unit/data/criu-image/good && cat inventory.img && printf VSDF && \
	  cat ids-1.img && printf VSDF && cat core-1.img && printf VSDF && \
	  cat userns-15.img && printf VSDF && cat mountpoints-14.img) \
	  >$(BUILD)/fuzz/corpus-image/seed-good
	clang $(FUZZ_CFLAGS) $(shell pkg-config --cflags $(PKGS)) tests/fuzz/fuzz_api.c \
	  $(filter-out daemon/main.c daemon/helper-main.c,$(wildcard daemon/*.c)) $(CORE_SRC) \
	  $(LDLIBS) -o $(BUILD)/fuzz/fuzz_api
	@# Each harness runs FUZZ_SECONDS from its committed seed corpus, if any
	@# (copied, so new inputs stay in build/); libFuzzer prints coverage
	@# ("cov:" edges, "ft:" features) as it goes and at the end.
	@for h in config import backup image api; do \
	  mkdir -p $(BUILD)/fuzz/corpus-$$h; \
	  if [ -d tests/fuzz/corpus/$$h ]; then cp -n tests/fuzz/corpus/$$h/* $(BUILD)/fuzz/corpus-$$h/; fi; \
	  echo "== fuzz_$$h ($(FUZZ_SECONDS) s)"; \
	  $(BUILD)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus-$$h 2>&1 | grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|stat::|ERROR|SUMMARY' || exit 1; \
	done

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
check-format:
	clang-format --dry-run --Werror $(FORMAT_SRC)

# Include graph: no cycles, lower layers never include upper ones.
check-includes:
	scripts/check-includes.py
check: check-format check-includes

deps:
	scripts/install-deps.sh

install: all
	install -D -m 0755 $(BUILD)/vsd $(DESTDIR)$(PREFIX)/sbin/vsd
	install -D -m 0755 $(BUILD)/vsctl $(DESTDIR)$(PREFIX)/bin/vsctl
	install -D -m 0755 $(BUILD)/vsd-helper $(DESTDIR)$(PREFIX)/libexec/vsd/vsd-helper
	install -D -m 0644 $(BUILD)/vsctl-tls.so $(DESTDIR)$(PREFIX)/libexec/vsd/vsctl-tls.so
	for m in man/*.[0-9]; do s=$${m##*.}; install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}; done
	install -D -m 0644 scripts/vsd.service $(DESTDIR)/lib/systemd/system/vsd.service
	sed -i 's|@SBINDIR@|$(PREFIX)/sbin|' $(DESTDIR)/lib/systemd/system/vsd.service
	install -d -m 0755 $(DESTDIR)$(PREFIX)/share/vsd/config-schemas
	install -m 0644 config-schemas/*.json $(DESTDIR)$(PREFIX)/share/vsd/config-schemas/
	install -D -m 0644 docs/openapi.json $(DESTDIR)$(PREFIX)/share/vsd/openapi.json

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
