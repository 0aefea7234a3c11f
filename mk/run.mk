# `make run`: the demo from the README's first command (see demo/run.sh);
# `make stop` stops it. State lives in build/demo.

.PHONY: run stop
run: deps
	$(MAKE) all
	PATCTL=$(abspath $(PATCTL)) PAT_MODULE=$(abspath $(MODULE_SO)) demo/run.sh start

stop:
	demo/run.sh stop
