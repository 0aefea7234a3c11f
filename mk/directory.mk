# The organisation's directory (LDAP, Active Directory): `patctl directory`
# against a real slapd that the tests start themselves (tests/directory/:
# their own CA, config, database, pid file and loopback ports; a system
# slapd is neither needed nor touched).
#
#   make test-directory   Debian's slapd + ldap-utils, openssl, patctl

.PHONY: test-directory

test-directory: $(PATCTL)
	PATCTL=$(abspath $(PATCTL)) $(PYTHON) -m pytest -q tests/directory

TEST_TARGETS += test-directory
