# nginx-pat — build, test and run.
#
#   make deps    install what is missing (Debian 12 packages, apt-get)
#   make         the core library, patctl and the nginx module
#   make test    deps + build + every test (unit, CLI, integration)
#
# Pieces that belong to one part of the project live in mk/*.mk.

CXX      ?= g++
BUILD    ?= build
CXXSTD   := -std=c++20
WARN     := -Wall -Wextra -Werror
CXXFLAGS ?= -O2 -g
CXXFLAGS += $(CXXSTD) $(WARN) -fPIC -fvisibility=hidden -Iinclude
LDLIBS   := -llmdb -lcrypto -lz -lldap
PYTHON   := /usr/bin/python3

# Source lists come from mk/sources.sh, the one list nginx's `config` uses too.
sources    = $(shell mk/sources.sh . $(1) $(2))
CORE_SRCS := $(call sources,cpp,src/core)
CORE_OBJS := $(CORE_SRCS:%.cpp=$(BUILD)/%.o)
CLI_SRCS  := $(call sources,cpp,src/cli)
CLI_OBJS  := $(CLI_SRCS:%.cpp=$(BUILD)/%.o)
UNIT_SRCS := $(call sources,cpp,tests/unit)
UNIT_OBJS := $(UNIT_SRCS:%.cpp=$(BUILD)/%.o)
# The permissions file (patctl apply / export) reads YAML with yaml-cpp. Its
# code is outside src/core, which nginx's `config` compiles whole into the
# module: only patctl and the unit tests link it and -lyaml-cpp (the module,
# patd and the benchmarks keep their dependencies).
PERMFILE_SRCS := $(call sources,cpp,src/permissions_file)
PERMFILE_OBJS := $(PERMFILE_SRCS:%.cpp=$(BUILD)/%.o)
PERMFILE_LIBS := -lyaml-cpp
# Fleet mode's PostgreSQL engine, follower and fleet commands (libpq) are
# outside src/core for the same reason: nginx workers never hold database
# credentials, and the module does not even link libpq. patctl, patd and the
# unit tests link them.
FLEET_SRCS := $(call sources,cpp,src/fleet)
FLEET_OBJS := $(FLEET_SRCS:%.cpp=$(BUILD)/%.o)
FLEET_LIBS := -lpq

CORE_LIB  := $(BUILD)/libpatcore.a
PATCTL    := $(BUILD)/patctl
UNIT_BIN  := $(BUILD)/unit_tests

.PHONY: all deps test test-unit test-cli clean
all: $(CORE_LIB) $(PATCTL)

# Fast suites first; mk/*.mk append theirs.
TEST_TARGETS := test-unit test-cli

# Debian 12 packages the build and the tests use. Idempotent and quiet when
# everything is there already.
DEB_PACKAGES := g++ make liblmdb-dev lmdb-utils libssl-dev libgtest-dev \
                nginx nginx-dev libpcre2-dev zlib1g-dev fcgiwrap git curl \
                python3 python3-pytest faketime clang-format git-lfs \
                libmicrohttpd-dev spawn-fcgi sudo libldap-dev slapd ldap-utils \
                libyaml-cpp-dev libpq-dev postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(PATCTL): $(CLI_OBJS) $(PERMFILE_OBJS) $(FLEET_OBJS) $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $(CLI_OBJS) $(PERMFILE_OBJS) $(FLEET_OBJS) $(CORE_LIB) $(PERMFILE_LIBS) $(FLEET_LIBS) \
	    $(LDLIBS)

$(UNIT_BIN): $(UNIT_OBJS) $(PERMFILE_OBJS) $(FLEET_OBJS) $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $(UNIT_OBJS) $(PERMFILE_OBJS) $(FLEET_OBJS) $(CORE_LIB) -lgtest -lgtest_main -pthread \
	    $(PERMFILE_LIBS) $(FLEET_LIBS) $(LDLIBS)

# The gtests that start PostgreSQL and bound times (Fleet*) run alone, in
# test-fleet-unit (mk/fleet.mk). The others run as two shards at once: most
# of their time is waiting on fsync and on each other's scrypt, not the CPU.
# Each shard's output is kept and shown whole (failures in full, the rest
# one line each).
test-unit: $(UNIT_BIN)
	@GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=0 $(UNIT_BIN) --gtest_brief=1 --gtest_filter='-Fleet*' \
	    > $(BUILD)/unit-shard-0.log 2>&1 & first=$$!; \
	GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=1 $(UNIT_BIN) --gtest_brief=1 --gtest_filter='-Fleet*' \
	    > $(BUILD)/unit-shard-1.log 2>&1; second=$$?; \
	wait $$first; first=$$?; \
	cat $(BUILD)/unit-shard-0.log $(BUILD)/unit-shard-1.log; \
	[ $$first = 0 ] && [ $$second = 0 ] || { echo "unit tests: FAILED (above)"; exit 1; }

test-cli: $(PATCTL)
	PATCTL=$(abspath $(PATCTL)) $(PYTHON) -m pytest -q tests/cli

clean:
	rm -rf $(BUILD)

-include $(sort $(wildcard mk/*.mk))
-include $(CORE_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(PERMFILE_OBJS:.o=.d) $(FLEET_OBJS:.o=.d)

# The integration tests' token API goes through nginx to a real patd
# (PATD and its rule are in mk/patd.mk; the recipe in mk/module.mk).
test-integration: $(PATD)
test-integration: export PATD := $(abspath $(PATD))

# Suites that may run two at a time: nothing in them bounds a time, and
# none changes the machine (packages, system users, the system nginx,
# /var/lib/nginx-pat). The others run after them, one at a time: some
# assert latencies and need the machine quiet, and test-deb changes the
# machine (tests/cli reads the default store path it creates). A new suite
# runs alone unless it is named here. TEST_PREBUILD: builds the suites that
# run alone need (the Debian packages), made in the first part.
TEST_SIDE_BY_SIDE := test-unit test-cli test-asan-core test-fuzz-smoke format-check routes-check test-fleet-cli \
                     man-check

# The unit tests are built with the rest, in parallel (test-unit alone
# would build them one file at a time). Every suite runs even when an
# earlier one fails (-k); the exit status still reports any failure.
# Each part's time, and each suite's in the second part, is printed as it
# ends ("make test: ... s"), so a slow run says where its time went.
test: deps
	$(MAKE) -j$$(nproc) all $(UNIT_BIN)
	@fail=0; began=$$(date +%s); \
	$(MAKE) -k -j2 --output-sync=target $(filter $(TEST_SIDE_BY_SIDE),$(TEST_TARGETS)) $(TEST_PREBUILD) || fail=1; \
	echo "make test: the suites side by side took $$(( $$(date +%s) - began )) s"; \
	for suite in $(filter-out $(TEST_SIDE_BY_SIDE),$(TEST_TARGETS)); do \
	    started=$$(date +%s); \
	    $(MAKE) TEST_PREBUILT=yes $$suite || { fail=1; echo "make test: $$suite FAILED"; }; \
	    echo "make test: $$suite took $$(( $$(date +%s) - started )) s"; \
	done; \
	echo "make test: $$(( $$(date +%s) - began )) s after the build"; \
	exit $$fail
