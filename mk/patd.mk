# patd: the daemon that serves the token management API over HTTP (a Unix
# socket or a loopback port) with the store opened read-write. Built on
# Debian's libmicrohttpd.
#
#   make patd        build/patd
#   make test-patd   real patd + real nginx + git + curl (tests/patd/)

PATD_SRCS := $(call sources,cpp,src/patd)
PATD_OBJS := $(PATD_SRCS:%.cpp=$(BUILD)/%.o)
PATD      := $(BUILD)/patd

.PHONY: patd test-patd
all: $(PATD)
patd: $(PATD)

$(PATD): $(PATD_OBJS) $(FLEET_OBJS) $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $(PATD_OBJS) $(FLEET_OBJS) $(CORE_LIB) -lmicrohttpd -pthread $(FLEET_LIBS) $(LDLIBS)

test-patd: $(PATD) $(PATCTL) $(MODULE_SO)
	PATD=$(abspath $(PATD)) PATCTL=$(abspath $(PATCTL)) PAT_MODULE=$(abspath $(MODULE_SO)) \
	    $(PYTHON) -m pytest -q tests/patd

TEST_TARGETS += test-patd

-include $(PATD_OBJS:.o=.d)
