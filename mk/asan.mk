# Sanitizers: `make test-asan` builds the core, patctl, the unit tests and
# the nginx module with AddressSanitizer and UBSan into build/asan/ (its own
# objects and its own nginx build tree: never mixed with the normal build),
# then runs the unit, CLI and integration suites against those binaries.
#
# The module is loaded into Debian's /usr/sbin/nginx through
# tests/sanitizers/nginx-asan (the sanitizer runtimes preloaded; why, and why
# nginx runs without leak detection, is written there). Any sanitizer report
# fails the run: a UBSan finding aborts (-fno-sanitize-recover), an ASan one
# too (abort_on_error), every report is also written to a file, and the run
# fails if any such file exists at the end (build/asan/logs/ for the unit
# tests and patctl, PREFIX/logs/sanitizer.* for nginx, which the harness
# checks with error.log).

ASAN_BUILD := $(BUILD)/asan
ASAN_LOGS  := $(ASAN_BUILD)/logs
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# _FORTIFY_SOURCE is dropped: ASan's own checks of the same calls are stricter.
ASAN_NGINX_CC_OPT = $(filter-out -O2 -D_FORTIFY_SOURCE=2,$(NGINX_CC_OPT)) -O1 $(ASAN_FLAGS)
ASAN_NGINX_LD_OPT = $(NGINX_LD_OPT) $(ASAN_FLAGS)

# The unit tests and patctl run with leak detection on: they are ours alone.
ASAN_RUN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:disable_coredump=1:strict_string_checks=1:log_path=$(abspath $(ASAN_LOGS))/report \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(abspath $(ASAN_LOGS))/report

.PHONY: asan-build test-asan
# The normal rules of the Makefile and mk/module.mk, rerun with another
# BUILD and the sanitizer flags. CXXFLAGS goes through the environment so
# that the Makefile's += (standard, warnings, includes) still applies.
# nginx's configure runs small test programs built with these flags:
# detect_leaks=0 keeps a leak in one of them from passing for a missing
# feature.
asan-build:
	env CXXFLAGS="-O1 -g $(ASAN_FLAGS)" ASAN_OPTIONS=detect_leaks=0 \
	    $(MAKE) BUILD=$(ASAN_BUILD) NGINX_CC_OPT="$(ASAN_NGINX_CC_OPT)" NGINX_LD_OPT="$(ASAN_NGINX_LD_OPT)" \
	    $(ASAN_BUILD)/patctl $(ASAN_BUILD)/patd $(ASAN_BUILD)/unit_tests $(ASAN_BUILD)/ngx_http_auth_pat_module.so \
	    $(ASAN_BUILD)/bench/bench-seed

# Every suite runs even when one fails; the report files are checked last.
# A sanitizer report ends its process, so the unit tests run one test suite
# per process: one finding does not hide the rest.
# Two integration files are left out (every other one runs the module under
# ASan): test_demo.py, because demo/run.sh starts /usr/sbin/nginx itself,
# which cannot load an instrumented module without the preload; and
# test_expiry.py, because nginx with both ASan and libfaketime preloaded
# hangs at startup (libfaketime's clock interposers run before ASan's
# runtime is initialised).
# The unit tests and the CLI tests under the sanitizers; sets fail=1 in the
# recipe's shell on any failure. FleetDeadline is left out: it freezes
# PostgreSQL for seconds at a time and asserts when the deadlines fire,
# which says nothing more under the sanitizers (its code runs in the other
# fleet gtests) and runs beside the builds here. The unit tests and the CLI
# tests run at the same time (both mostly wait on fsync and scrypt); the
# unit tests' output is kept in a file and shown after the CLI tests'.
ASAN_UNIT_LOG = $(ASAN_BUILD)/unit-tests.log
ASAN_UNIT_AND_CLI = fail=0; \
	( unit_fail=0; \
	  for suite in $$($(ASAN_BUILD)/unit_tests --gtest_list_tests | awk '!/^ / && $$1 ~ /\.$$/ && $$1 !~ /^FleetDeadline/ {print $$1}'); do \
	      $(ASAN_RUN_ENV) $(ASAN_BUILD)/unit_tests --gtest_brief=1 --gtest_filter="$$suite*" || \
	          { echo "unit tests $$suite: FAILED (see $(ASAN_LOGS))"; unit_fail=1; }; \
	  done; exit $$unit_fail ) > $(ASAN_UNIT_LOG) 2>&1 & unit=$$!; \
	$(ASAN_RUN_ENV) PATCTL=$(abspath $(ASAN_BUILD)/patctl) $(PYTHON) -m pytest -q tests/cli || fail=1; \
	wait $$unit || fail=1; \
	echo "unit tests under the sanitizers:"; cat $(ASAN_UNIT_LOG)
ASAN_CHECK_REPORTS = if [ -n "$$(ls -A $(ASAN_LOGS))" ]; then \
	    echo "sanitizer reports in $(ASAN_LOGS):"; cat $(ASAN_LOGS)/*; fail=1; fi; \
	exit $$fail

test-asan: asan-build
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@$(ASAN_UNIT_AND_CLI); \
	$(ASAN_RUN_ENV) PATCTL=$(abspath $(ASAN_BUILD)/patctl) PATD=$(abspath $(ASAN_BUILD)/patd) \
	    PAT_MODULE=$(abspath $(ASAN_BUILD)/ngx_http_auth_pat_module.so) PAT_NGINX=$(abspath tests/sanitizers/nginx-asan) PAT_SANITIZER_LOGS='sanitizer.*' \
	    $(PYTHON) -m pytest -q tests/integration --ignore=tests/integration/test_demo.py \
	    --ignore=tests/integration/test_expiry.py || fail=1; \
	$(ASAN_CHECK_REPORTS)

# The part of test-asan that CI runs on every submission (about 5 minutes
# rather than 12: no instrumented nginx build): the core and patctl under
# ASan and UBSan, through the unit tests and the CLI tests. `make test-asan`
# adds the module inside nginx.
.PHONY: asan-core-build test-asan-core
asan-core-build:
	env CXXFLAGS="-O1 -g $(ASAN_FLAGS)" $(MAKE) -j$$(nproc) BUILD=$(ASAN_BUILD) $(ASAN_BUILD)/patctl $(ASAN_BUILD)/unit_tests

test-asan-core: asan-core-build
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@$(ASAN_UNIT_AND_CLI); \
	$(ASAN_CHECK_REPORTS)

TEST_TARGETS += test-asan-core
