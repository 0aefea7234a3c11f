# The built-in REST route table and the route docs, generated from Atlassian's
# OpenAPI description of the Bitbucket REST API (docs/rest-routes.md says why a
# reduced copy of it is checked in). The outputs are checked in: the build
# needs neither the script nor the network.
#
#   make routes                        regenerate from tools/rest_routes/bitbucket-operations.json
#   make routes SPEC=swagger.v3.json   first reduce a new copy of the full description

.PHONY: routes
routes:
	$(if $(SPEC),$(PYTHON) tools/rest_routes/extract.py $(SPEC) > tools/rest_routes/bitbucket-operations.json)
	$(PYTHON) tools/rest_routes/generate.py

# The classifiers alone, per request (Google Benchmark; `make bench-deps`
# installs it). Reported in docs/rest-routes.md, not asserted.
BENCH_ROUTES := $(BUILD)/bench/route_bench
.PHONY: bench-routes
bench-routes: $(BENCH_ROUTES)
	$(BENCH_ROUTES) --benchmark_min_time=0.5

$(BENCH_ROUTES): bench/route_bench.cpp $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DPAT_ROUTE_BENCH_RULES -o $@ $< $(CORE_LIB) -lbenchmark -pthread $(LDLIBS)
