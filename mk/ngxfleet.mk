# Fleet mode in the nginx glue (auth_pat_max_staleness, the status page's
# replica gauges): the integration tests' helper and the bench row.
#
#   build/tests/put-replica-state   writes a ReplicaState into a store, as the
#                                   follower does (tests/tools/put_replica_state.cpp);
#                                   test-only, never installed
#   make bench-fleet                callgrind instructions per request in the
#                                   access phase, fleet replica vs single-host
#                                   (bench/fleet_cost.py; part of `make bench`)

PUT_REPLICA_STATE := $(BUILD)/tests/put-replica-state

$(PUT_REPLICA_STATE): $(BUILD)/tests/tools/put_replica_state.o $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $^ $(LDLIBS)

test-integration: $(PUT_REPLICA_STATE)
test-integration: export PAT_PUT_REPLICA_STATE := $(abspath $(PUT_REPLICA_STATE))

.PHONY: bench-fleet
# `make bench` runs it last (mk/bench.mk); it reads the 1k store that
# bench-build seeds.
bench-fleet: $(MODULE_SO) $(PUT_REPLICA_STATE) $(BENCH_STORES)/credentials-1000.txt
	$(PYTHON) bench/fleet_cost.py --module $(abspath $(MODULE_SO)) \
	    --put-replica-state $(abspath $(PUT_REPLICA_STATE)) --stores $(BENCH_STORES) \
	    --out $(BENCH_DIR)/fleet.md

-include $(BUILD)/tests/tools/put_replica_state.d
