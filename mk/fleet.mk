# Fleet mode (docs/fleet.md): src/fleet's PostgreSQL engine, follower and
# administration, linked by patctl, patd and the unit tests (FLEET_OBJS and
# FLEET_LIBS are in the Makefile). libpq's header lives in its own folder.
PG_INCLUDE := $(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
$(FLEET_OBJS) $(CLI_OBJS) $(UNIT_OBJS): CXXFLAGS += -I$(PG_INCLUDE)
# patd's fleet pieces use src/fleet's libpq helpers (mk/patd.mk comes later,
# so by pattern).
$(BUILD)/src/patd/%.o: CXXFLAGS += -I$(PG_INCLUDE)

# The fleet pieces' own tests against a real PostgreSQL 15 that each suite
# starts (initdb as the postgres user into a temporary directory, a
# loopback port): tests/unit/fleet_*_test.cpp (test-fleet-unit: the
# engine's codes and ordering, gapless seq under concurrent writers, the
# follower's apply and rebuild, import, verify, deadlines) and
# tests/fleet_unit (test-fleet-cli: the patctl fleet and follow commands end
# to end). test-fleet-unit bounds times (deadlines, a follower stopping
# within a second), so make test runs it alone, not beside the builds;
# test-unit leaves these gtests out.
.PHONY: test-fleet-unit test-fleet-cli
test-fleet-unit: $(UNIT_BIN)
	$(UNIT_BIN) --gtest_brief=1 --gtest_filter='Fleet*'

test-fleet-cli: $(PATCTL)
	PATCTL=$(abspath $(PATCTL)) $(PYTHON) -m pytest -q tests/fleet_unit

TEST_TARGETS += test-fleet-cli test-fleet-unit
