# Fuzzing with libFuzzer (Debian's clang 14): one target per parser of
# untrusted bytes, in tests/fuzz/*.cpp, each checking invariants beyond "does
# not crash" (see docs/testing.md, "Fuzzing"; the last campaign's figures are
# in tests/fuzz/RESULTS.md).
#
#   make fuzz               every target for FUZZ_SECONDS (default 60) each, one after another
#   make fuzz-<target>      one target (e.g. make fuzz-routes FUZZ_SECONDS=600)
#   make test-fuzz-smoke    every target for FUZZ_SMOKE_SECONDS (3) over its seed corpus; part of make test
#   make fuzz-seeds         regenerate the binary seeds (records, store files) with the core's own encoders
#
# The targets and the core are compiled by clang with ASan, UBSan and the
# fuzzer's coverage instrumentation into build/fuzz/: never the g++ objects.
# Seeds live in tests/fuzz/corpus/<target>/ (read-only to the fuzzer); what a
# run discovers goes to build/fuzz/corpus/<target>/, crashes to
# build/fuzz/crashes/.

FUZZ_CXX      := clang++
FUZZ_BUILD    := $(BUILD)/fuzz
FUZZ_CXXFLAGS := -std=c++20 -g -O1 -fno-omit-frame-pointer \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                 -Wall -Wextra -Werror -Iinclude
FUZZ_LDLIBS   := -llmdb -lcrypto -lz  # -lz: the core may take its CRC-32 from zlib
FUZZ_PACKAGES := clang libclang-rt-14-dev zlib1g-dev
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 3
# Scratch files of the targets (store_file writes each input to a file);
# what a crash leaves behind stays under build/.
FUZZ_TMP      := $(abspath $(FUZZ_BUILD))/tmp

FUZZ_CORE_OBJS := $(CORE_SRCS:%.cpp=$(FUZZ_BUILD)/%.o)
FUZZ_CORE_LIB  := $(FUZZ_BUILD)/libpatcore.a
FUZZ_TARGETS   := $(sort $(basename $(notdir $(wildcard tests/fuzz/*.cpp))))
FUZZ_BINS      := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
FUZZ_SEEDER    := $(FUZZ_BUILD)/make_seeds

# Per-target libFuzzer options: longer inputs where the format needs them
# (a header over the 4 KiB limit, a whole store file), dictionaries where
# the grammar has keywords.
FUZZ_OPTS_authorization := -max_len=5000 -dict=tests/fuzz/dict/authorization.dict
FUZZ_OPTS_base64        := -max_len=5000
FUZZ_OPTS_token_format  := -max_len=128
FUZZ_OPTS_routes        := -max_len=1024 -dict=tests/fuzz/dict/routes.dict
FUZZ_OPTS_records       := -max_len=1024
FUZZ_OPTS_store_file    := -max_len=200000 -timeout=20
FUZZ_OPTS_json          := -max_len=70000 -dict=tests/fuzz/dict/json.dict
FUZZ_OPTS_permissions_file := -max_len=8192 -dict=tests/fuzz/dict/permissions_file.dict

# The smoke run of store_file replays its seeds without mutating them:
# mutated LMDB pages crash or hang liblmdb itself within seconds
# (tests/fuzz/crashes/README.md), which would make `make test` fail at
# random. `make fuzz` mutates it like every other target.
FUZZ_SMOKE_OPTS_store_file := -runs=0
# A long run of store_file keeps going past those crashes (each one is saved)
# in libFuzzer's fork mode, so one known LMDB crash does not end the search.
FUZZ_LONG_OPTS_store_file  := -fork=1 -ignore_crashes=1

.PHONY: fuzz fuzz-deps fuzz-build fuzz-seeds test-fuzz-smoke $(FUZZ_TARGETS:%=fuzz-%) $(FUZZ_TARGETS:%=fuzz-smoke-%)

# clang and its runtime libraries (libFuzzer, ASan, UBSan); idempotent.
fuzz-deps:
	@missing=$$(for p in $(FUZZ_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

fuzz-build: fuzz-deps
	$(MAKE) $(FUZZ_BINS) $(FUZZ_SEEDER)

$(FUZZ_BUILD)/src/core/%.o: src/core/%.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_BUILD)/%: tests/fuzz/%.cpp $(FUZZ_CORE_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -Isrc -MMD -MP -o $@ $< $(FUZZ_CORE_LIB) $(FUZZ_LDLIBS)

# The permissions file's reader lives outside the core (it needs yaml-cpp,
# which the module must not): its objects and -lyaml-cpp are linked into its
# target only, before a second mention of the core library, which they call.
# (Debian's yaml-cpp itself is not instrumented: coverage is of our code.)
FUZZ_PERMFILE_OBJS := $(PERMFILE_SRCS:%.cpp=$(FUZZ_BUILD)/%.o)
$(FUZZ_BUILD)/src/permissions_file/%.o: src/permissions_file/%.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/permissions_file: $(FUZZ_PERMFILE_OBJS)
$(FUZZ_BUILD)/permissions_file: FUZZ_LDLIBS := $(FUZZ_PERMFILE_OBJS) $(FUZZ_CORE_LIB) -lyaml-cpp $(FUZZ_LDLIBS)

# The seed generator is an ordinary program (no fuzzer main), built with the
# same sanitizers.
$(FUZZ_SEEDER): tests/fuzz/tools/make_seeds.cpp $(FUZZ_CORE_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(filter-out -fsanitize=fuzzer%,$(FUZZ_CXXFLAGS)) -fsanitize=fuzzer-no-link,address,undefined \
	    -Isrc -Itests/fuzz -MMD -MP -o $@ $< $(FUZZ_CORE_LIB) $(FUZZ_LDLIBS)

fuzz-seeds: fuzz-build
	$(FUZZ_SEEDER) tests/fuzz/corpus

# One target: new inputs go to build/fuzz/corpus/<target>, the repo's seeds
# are only read. A crash leaves build/fuzz/crashes/<target>-crash-<sha1>.
$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/crashes $(FUZZ_TMP)
	@rm -rf $(FUZZ_TMP)/pat-fuzz-store-*  # left behind by earlier crashes
	TMPDIR=$(FUZZ_TMP) $(FUZZ_BUILD)/$* $(FUZZ_OPTS_$*) $(FUZZ_LONG_OPTS_$*) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$*- $(FUZZ_BUILD)/corpus/$* tests/fuzz/corpus/$*

# Targets one at a time (the machine's cores are shared); every target runs
# even when one finds a crash.
fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-$$t || fail=1; done; exit $$fail

# The short run `make test` does: every seed is replayed, then a few seconds
# of mutation, so a regression in any parser shows up in CI. Every target
# runs even when one fails; the full log of a failure is printed.
test-fuzz-smoke: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	    $(MAKE) --no-print-directory -s fuzz-smoke-$$t || fail=1; done; exit $$fail

$(FUZZ_TARGETS:%=fuzz-smoke-%): fuzz-smoke-%:
	@rm -rf $(FUZZ_BUILD)/smoke/$* && mkdir -p $(FUZZ_BUILD)/smoke/$* $(FUZZ_BUILD)/crashes $(FUZZ_TMP)
	@log=$(FUZZ_BUILD)/smoke/$*.log; \
	if TMPDIR=$(FUZZ_TMP) $(FUZZ_BUILD)/$* $(FUZZ_OPTS_$*) $(FUZZ_SMOKE_OPTS_$*) -max_total_time=$(FUZZ_SMOKE_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/crashes/$*- $(FUZZ_BUILD)/smoke/$* tests/fuzz/corpus/$* >$$log 2>&1; then \
	    echo "fuzz smoke $*: ok, $$(grep -o 'number_of_executed_units: [0-9]*' $$log | grep -o '[0-9]*') runs, $$(grep -E '^#[0-9]+[[:space:]]+DONE' $$log | grep -oE 'cov: [0-9]+ ft: [0-9]+')"; \
	else \
	    echo "fuzz smoke $*: FAILED"; tail -n 40 $$log; exit 1; \
	fi

TEST_TARGETS += test-fuzz-smoke

-include $(FUZZ_CORE_OBJS:.o=.d) $(FUZZ_PERMFILE_OBJS:.o=.d) $(FUZZ_BINS:=.d) $(FUZZ_SEEDER).d
