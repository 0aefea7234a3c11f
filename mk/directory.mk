# The organisation's directory (LDAP, Active Directory): `patctl directory`
# and the core's lists for a sync, against a real slapd that the tests start
# themselves (tests/directory/: their own CA, config, database, pid file and
# loopback ports; a system slapd is neither needed nor touched).
#
#   make test-directory   Debian's slapd + ldap-utils, openssl, patctl

DIRECTORY_LISTS := $(BUILD)/directory_lists

.PHONY: test-directory

# A test helper: prints DirectoryClient::list_users / list_groups_with_members.
$(DIRECTORY_LISTS): $(BUILD)/tests/directory/lists.o $(CORE_LIB)
	$(CXX) $(CXXFLAGS) -o $@ $< $(CORE_LIB) $(LDLIBS)

test-directory: $(PATCTL) $(PATD) $(DIRECTORY_LISTS)
	PATCTL=$(abspath $(PATCTL)) PATD=$(abspath $(PATD)) DIRECTORY_LISTS=$(abspath $(DIRECTORY_LISTS)) \
	    $(PYTHON) -m pytest -q tests/directory

TEST_TARGETS += test-directory

-include $(BUILD)/tests/directory/lists.d
