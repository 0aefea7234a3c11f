# `make run`: the demo from the README's first command (see demo/run.sh):
# nginx with the module, patd serving the token API, the account page at
# /account/tokens/. `make stop` stops it. State lives in build/demo.

.PHONY: run stop
run: deps
	$(MAKE) all
	PATCTL=$(abspath $(PATCTL)) PAT_MODULE=$(abspath $(MODULE_SO)) PATD=$(abspath $(PATD)) \
	    demo/run.sh start

stop:
	demo/run.sh stop
