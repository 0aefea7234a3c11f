# The nginx module: ngx_http_auth_pat_module.so, built against Debian's
# nginx 1.22 headers (nginx-dev) so that /usr/sbin/nginx can load it.
#
#   make module            build/ngx_http_auth_pat_module.so
#   make install           the module to /usr/lib/nginx/modules, patctl to /usr/local/bin,
#                          the account page (web/) to /usr/share/nginx-pat/web
#   make test-integration  real nginx + git + curl against the built module

NGINX_DEV_SRC   := /usr/share/nginx/src
NGINX_BUILD     := $(BUILD)/nginx-src
MODULE_SO       := $(BUILD)/ngx_http_auth_pat_module.so
MODULE_SOURCES  := $(call sources,cpp,src/ngx src/core)
MODULE_HEADERS  := $(call sources,hpp,src/ngx src/core include/pat) $(call sources,inc,src/core)
MODULE_FILELIST := $(BUILD)/module-files.txt
# Debian's hardening flags (as in `nginx -V`); the ABI is fixed by
# --with-compat in conf_flags, these only harden our objects.
NGINX_CC_OPT    := -g -O2 -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2
NGINX_LD_OPT    := -Wl,-z,relro -Wl,-z,now

.PHONY: module install test-integration FORCE
all: module
module: $(MODULE_SO)

# Rewritten only when the set of files changes: nginx's configure bakes the
# source list into its Makefile, so it must rerun then (and only then).
$(MODULE_FILELIST): FORCE
	@mkdir -p $(dir $@)
	@echo '$(MODULE_SOURCES) $(MODULE_HEADERS)' | cmp -s - $@ || \
	    echo '$(MODULE_SOURCES) $(MODULE_HEADERS)' > $@

$(NGINX_BUILD)/configure:
	@test -f $(NGINX_DEV_SRC)/conf_flags || { echo "nginx-dev is missing: run make deps" >&2; exit 1; }
	rm -rf $(NGINX_BUILD) && mkdir -p $(dir $(NGINX_BUILD))
	cp -r $(NGINX_DEV_SRC) $(NGINX_BUILD)

$(NGINX_BUILD)/objs/Makefile: $(NGINX_BUILD)/configure config $(MODULE_FILELIST)
	cd $(NGINX_BUILD) && bash -c '. ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(NGINX_CC_OPT)" --with-ld-opt="$(NGINX_LD_OPT)" \
	    --add-dynamic-module="$(CURDIR)"' > configure.log || \
	    { tail -n 30 $(NGINX_BUILD)/configure.log >&2; exit 1; }

$(MODULE_SO): $(NGINX_BUILD)/objs/Makefile $(MODULE_SOURCES) $(MODULE_HEADERS) src/ngx/cxx20.specs
	$(MAKE) -C $(NGINX_BUILD) -f objs/Makefile modules
	@# A new file renamed over the old one, never a rewrite in place: a
	@# running nginx that mapped the old file keeps its (unlinked) copy.
	cp $(NGINX_BUILD)/objs/ngx_http_auth_pat_module.so $@.tmp
	mv -f $@.tmp $@

# DESTDIR stages the files elsewhere (packaging).
WEB_DIR := /usr/share/nginx-pat/web
install: all  # all: the module, patctl and patd (mk/patd.mk)
	install -d $(DESTDIR)/usr/lib/nginx/modules $(DESTDIR)/usr/local/bin $(DESTDIR)$(WEB_DIR)
	install -m 0644 $(MODULE_SO) $(DESTDIR)/usr/lib/nginx/modules/
	install -m 0755 $(PATCTL) $(PATD) $(DESTDIR)/usr/local/bin/
	cd web && find . -type f ! -name '.*' -exec install -D -m 0644 {} $(DESTDIR)$(WEB_DIR)/{} \;

# tests/integration/test_faults.py kills bench-seed (mk/bench.mk) in the
# middle of a bulk import, the only long writer there is.
test-integration: $(MODULE_SO) $(PATCTL) $(BENCH_SEED)
	PATCTL=$(abspath $(PATCTL)) PAT_MODULE=$(abspath $(MODULE_SO)) \
	    $(PYTHON) -m pytest -q tests/integration

TEST_TARGETS += test-integration

# The static build: `make test-static NGINX_FULL_SRC=DIR`, where DIR is a full
# nginx source tree (`apt-get source nginx`, a release tarball or a git
# checkout). Builds nginx with --add-module and checks that the result knows
# the directives. Not part of `make test`: a full nginx build takes minutes.
STATIC_BUILD := $(BUILD)/nginx-static
test-static:
	@test -n "$(NGINX_FULL_SRC)" || { echo "set NGINX_FULL_SRC to a full nginx source tree" >&2; exit 2; }
	rm -rf $(STATIC_BUILD) && mkdir -p $(dir $(STATIC_BUILD)) && cp -r $(NGINX_FULL_SRC) $(STATIC_BUILD)
	cd $(STATIC_BUILD) && { [ -x configure ] && c=./configure || c=auto/configure; } && \
	    $$c --with-http_ssl_module --with-http_v2_module --add-module="$(CURDIR)" > configure.log
	$(MAKE) -C $(STATIC_BUILD) -f objs/Makefile
	mkdir -p $(STATIC_BUILD)/check/logs
	printf '%s\n' 'error_log logs/error.log; pid nginx.pid; events {}' \
	    'http { server { listen 127.0.0.1:1; auth_pat_db pat.db; location / {' \
	    '  auth_pat "x"; auth_pat_route git; auth_pat_require repo-read;' \
	    '  auth_pat_project $$arg_p; auth_pat_repo $$arg_r; } } }' > $(STATIC_BUILD)/check/nginx.conf
	$(STATIC_BUILD)/objs/nginx -t -p $(abspath $(STATIC_BUILD))/check -c nginx.conf
