# Fleet mode's tests (issue 15, docs/fleet.md, tests/fleet/): a real
# PostgreSQL 15 (initdb into a temporary directory, run as the `postgres`
# system user when the tests run as root), three nodes on loopback ports each
# with its own `patctl follow`, LMDB replica, nginx with the module and
# `patd --source`, and real git and curl.
#
#   make test-fleet        tests 1-10 of the issue; part of `make test`
#                          (about 5 minutes on 2 cores)
#   make test-fleet-large  a new node bootstrapping from a 1,000,000-token
#                          source (seeded by bench-seed, moved in with
#                          `patctl fleet import`) within 60 s; not in `make test`
#
# FLEET_WRITERS_SECONDS: how long test 7's 20 writers run (the issue's 60 s).

FLEET_ENV = PATCTL=$(abspath $(PATCTL)) PATD=$(abspath $(PATD)) PAT_MODULE=$(abspath $(MODULE_SO))
FLEET_PYTEST = $(PYTHON) -m pytest -q -p no:cacheprovider

.PHONY: test-fleet test-fleet-large
# The figures the issue asks to report (latencies, times) are printed after
# the run, pass or fail, and kept in build/fleet-figures.txt.
FLEET_FIGURES := $(BUILD)/fleet-figures.txt
test-fleet: $(PATCTL) $(PATD) $(MODULE_SO)
	@rm -f $(FLEET_FIGURES)
	$(FLEET_ENV) FLEET_FIGURES=$(abspath $(FLEET_FIGURES)) $(FLEET_PYTEST) -m "not large" tests/fleet; \
	    status=$$?; cat $(FLEET_FIGURES) 2>/dev/null; exit $$status

# The store of 1,000,000 tokens is make bench's (mk/bench.mk), seeded once.
test-fleet-large: $(PATCTL) $(PATD) $(MODULE_SO) $(BENCH_STORES)/credentials-1000000.txt
	$(FLEET_ENV) BENCH_STORE=$(abspath $(BENCH_STORES)/store-1000000.lmdb) \
	    BENCH_CREDENTIALS=$(abspath $(BENCH_STORES)/credentials-1000000.txt) \
	    FLEET_FIGURES=$(abspath $(FLEET_FIGURES)) $(FLEET_PYTEST) -s -m large tests/fleet

TEST_TARGETS += test-fleet
