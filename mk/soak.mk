# Soak (tests/soak/soak.py): authenticated git and REST load on the real nginx
# while patctl churns tokens and grants and nginx reloads every few seconds;
# it fails on any 5xx, wrongful accept or refusal, alert, or worker RSS that
# grows across reloads.
#
#   make soak         SOAK_SECONDS (default 600)
#   make soak-short   about a minute; part of `make test`

SOAK_SECONDS ?= 600
SOAK_ENV = PATCTL=$(abspath $(PATCTL)) PAT_MODULE=$(abspath $(MODULE_SO))

.PHONY: soak soak-short test-soak-short
soak: $(MODULE_SO) $(PATCTL)
	$(SOAK_ENV) $(PYTHON) tests/soak/soak.py --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

soak-short test-soak-short: $(MODULE_SO) $(PATCTL)
	$(SOAK_ENV) $(PYTHON) tests/soak/soak.py --seconds 60 --threads 4 --reload-every 3 $(SOAK_ARGS)

TEST_TARGETS += test-soak-short
