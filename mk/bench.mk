# Benchmarks (bench/): `make bench` installs what it needs, builds, seeds
# stores of 1k, 100k and 1M tokens, runs the Google Benchmark of the core
# decision and then the nginx comparison (bench/run_bench.py), and writes
# build/bench/RESULTS.md. Not part of `make test`: it takes about 10-15
# minutes and its numbers are reported, not asserted.
#
# `make bench-groups` measures only the decision for users in 0, 1 and 50
# groups (issue 14) on the 1k and 1M stores: instructions per decision
# under callgrind and CPU ns (Google Benchmark, five repetitions in one
# run), as ratios to 0 groups (bench/groups_cost.py; a minute or two once
# the stores are seeded).

BENCH_DIR      := $(BUILD)/bench
BENCH_STORES   := $(BENCH_DIR)/stores
BENCH_SIZES    := 1000 100000 1000000
BENCH_SEED     := $(BENCH_DIR)/bench-seed
BENCH_DECISION := $(BENCH_DIR)/decision_bench
BENCH_CHECKER  := $(BENCH_DIR)/bench-token-checker
BENCH_CREDENTIALS := $(BENCH_SIZES:%=$(BENCH_STORES)/credentials-%.txt)
BENCH_OBJS     := $(addprefix $(BUILD)/bench/,bench_store.o seed.o decision_bench.o token_checker.o)
BENCH_PACKAGES := wrk libbenchmark-dev libnginx-mod-http-lua lua-nginx-string

.PHONY: bench bench-deps bench-build bench-decision bench-nginx bench-groups
bench: bench-deps
	$(MAKE) bench-build
	$(MAKE) bench-decision
	$(MAKE) bench-nginx
	$(MAKE) bench-fleet

# The bench's own Debian packages, on top of `make deps`; idempotent.
bench-deps: deps
	@missing=$$(for p in $(BENCH_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

bench-build: $(MODULE_SO) $(BENCH_SEED) $(BENCH_DECISION) $(BENCH_CHECKER) $(BENCH_CREDENTIALS)

$(BENCH_SEED): $(BUILD)/bench/seed.o $(BUILD)/bench/bench_store.o $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

$(BENCH_DECISION): $(BUILD)/bench/decision_bench.o $(BUILD)/bench/bench_store.o $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ -lbenchmark -pthread $(LDLIBS)

$(BENCH_CHECKER): $(BUILD)/bench/token_checker.o $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

# A store is seeded again whenever the seeder (and so the core) changes.
$(BENCH_STORES)/credentials-%.txt: $(BENCH_SEED)
	@mkdir -p $(dir $@)
	rm -f $(BENCH_STORES)/store-$*.lmdb $(BENCH_STORES)/store-$*.lmdb-lock $@
	$(BENCH_SEED) --db $(BENCH_STORES)/store-$*.lmdb --credentials $@ --tokens $*

bench-decision: $(BENCH_DECISION) $(BENCH_CREDENTIALS)
	$(BENCH_DECISION) --stores $(BENCH_STORES) --sizes 1000,1000000 --benchmark_min_time=0.5 \
	    --benchmark_out=$(BENCH_DIR)/decision.json --benchmark_out_format=json

bench-groups: $(BENCH_DECISION) $(BENCH_STORES)/credentials-1000.txt $(BENCH_STORES)/credentials-1000000.txt
	$(PYTHON) bench/groups_cost.py $(BENCH_DECISION) $(BENCH_STORES) --sizes 1000,1000000

bench-nginx: $(MODULE_SO) $(BENCH_CHECKER) $(BENCH_CREDENTIALS)
	$(PYTHON) bench/run_bench.py --module $(abspath $(MODULE_SO)) --checker $(abspath $(BENCH_CHECKER)) \
	    --decision-json $(BENCH_DIR)/decision.json $(BENCH_ARGS)

-include $(BENCH_OBJS:.o=.d)
