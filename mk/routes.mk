# The built-in REST route table and the route docs, generated from Atlassian's
# OpenAPI description of the Bitbucket REST API (docs/rest-routes.md says why a
# reduced copy of it is checked in). The outputs are checked in: the build
# needs neither the script nor the network.
#
#   make routes                        regenerate from tools/rest_routes/bitbucket-operations.json
#   make routes SPEC=swagger.v3.json   first reduce a new copy of the full description
#   make routes-check                  fail, with the diff, if the checked-in outputs are not
#                                      what the generator writes (part of `make test`)

.PHONY: routes routes-check
routes:
	$(if $(SPEC),$(PYTHON) tools/rest_routes/extract.py $(SPEC) > tools/rest_routes/bitbucket-operations.json)
	$(PYTHON) tools/rest_routes/generate.py

# Generates into a temporary directory and compares: a hand edit of the table
# or the doc, or a generator change without `make routes`, fails here.
ROUTES_OUTPUTS := src/core/request/rest_table.inc docs/rest-routes.md
routes-check:
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	$(PYTHON) tools/rest_routes/generate.py --out "$$dir" && \
	status=0 && for f in $(ROUTES_OUTPUTS); do \
	    diff -u "$$f" "$$dir/$$f" || status=1; \
	done && \
	if [ $$status = 0 ]; then echo "routes-check: $(ROUTES_OUTPUTS) are as generated"; \
	else echo "routes-check: the checked-in files differ from the generator's (above); run make routes" >&2; exit 1; fi

TEST_TARGETS += routes-check

# The classifiers alone, per request (Google Benchmark; `make bench-deps`
# installs it). Reported in docs/rest-routes.md, not asserted.
BENCH_ROUTES := $(BUILD)/bench/route_bench
.PHONY: bench-routes
bench-routes: $(BENCH_ROUTES)
	$(BENCH_ROUTES) --benchmark_min_time=0.5

# The same cases in instructions per call under callgrind (valgrind, a Debian
# package), the figure a shared machine's noise cannot move; and the way to
# set another build of the classifier beside this one (docs/rest-routes.md#cost).
.PHONY: bench-routes-ir
bench-routes-ir: $(BENCH_ROUTES)
	$(PYTHON) bench/route_compare.py $(BENCH_ROUTES)

$(BENCH_ROUTES): bench/route_bench.cpp $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DPAT_ROUTE_BENCH_RULES -o $@ $< $(CORE_LIB) -lbenchmark -pthread $(LDLIBS)
