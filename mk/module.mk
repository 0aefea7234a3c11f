# The nginx module: ngx_http_auth_pat_module.so, built against Debian's
# nginx 1.22 headers (nginx-dev) so that /usr/sbin/nginx can load it.
#
#   make module            build/ngx_http_auth_pat_module.so
#   make install           the module and its load_module snippet, patctl, patd, the
#                          account page, man pages, ... (below; PREFIX, DESTDIR)
#   make uninstall         removes them again
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

# `make install` / `make uninstall`: the files of the two Debian packages
# (debian/, mk/deb.mk), for systems without them. debian/rules stages the
# packages with this very rule, and tests/package/ checks that both install
# the same list. PREFIX places the programs and their documentation; the
# paths nginx configurations name (the module, its load_module snippet, the
# account page) are fixed, as Debian's nginx has them. DESTDIR stages the
# files elsewhere. Binaries are stripped (INSTALL_STRIP= keeps the symbols:
# debhelper strips into -dbgsym packages itself).
PREFIX                  ?= /usr/local
SBINDIR                 ?= $(PREFIX)/sbin
MANDIR                  ?= $(PREFIX)/share/man
DOCDIR                  ?= $(PREFIX)/share/doc/nginx-pat
BASH_COMPLETION_DIR     ?= $(PREFIX)/share/bash-completion/completions
SYSTEMD_UNIT_DIR        ?= $(PREFIX)/lib/systemd/system
# patctl and patd read /etc/nginx-pat/nginx-pat.conf whatever PREFIX is.
CONFIG_DIR              ?= /etc/nginx-pat
NGINX_MODULES_DIR       ?= /usr/lib/nginx/modules
NGINX_MODULES_AVAILABLE ?= /usr/share/nginx/modules-available
NGINX_MODULES_ENABLED   ?= /etc/nginx/modules-enabled
WEB_DIR                 ?= /usr/share/nginx-pat/web
# NGINX_ENABLE_MODULE=no: no modules-enabled link (the package's postinst
# makes it, as dh_nginx does for Debian's own modules).
NGINX_ENABLE_MODULE     ?= yes
INSTALL_STRIP           ?= -s

MODULE_CONF  := mod-http-auth-pat.conf
MODULE_LINK  := 50-$(MODULE_CONF)
# The account page without its screenshot (that is for the README).
WEB_FILES    := $(patsubst web/%,%,$(shell find web -type f ! -name '.*' ! -name screenshot.png | sort))
DOC_FILES    := $(notdir $(wildcard docs/*.md))
EXAMPLE_FILES := $(notdir $(wildcard nginx-conf-examples/*.conf))

.PHONY: uninstall
install: all man  # all: the module, patctl and patd (mk/patd.mk); man: mk/man.mk
	install -d $(DESTDIR)$(NGINX_MODULES_DIR) $(DESTDIR)$(NGINX_MODULES_AVAILABLE) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(BASH_COMPLETION_DIR) \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR) $(DESTDIR)$(WEB_DIR) $(DESTDIR)$(CONFIG_DIR)
	install -m 0644 $(INSTALL_STRIP) $(MODULE_SO) $(DESTDIR)$(NGINX_MODULES_DIR)/
	@# The configuration file (all comments) is the administrator's once
	@# installed: never written over (the package makes it a conffile).
	[ -e $(DESTDIR)$(CONFIG_DIR)/nginx-pat.conf ] || \
	    install -m 0644 contrib/etc/nginx-pat.conf $(DESTDIR)$(CONFIG_DIR)/nginx-pat.conf
	install -m 0644 nginx-conf-examples/$(MODULE_CONF) $(DESTDIR)$(NGINX_MODULES_AVAILABLE)/
	install -m 0755 $(INSTALL_STRIP) $(PATCTL) $(PATD) $(DESTDIR)$(SBINDIR)/
	for m in $(MAN_PAGES); do gzip -9n -c $$m > $(DESTDIR)$(MANDIR)/man8/$$(basename $$m).gz; done
	chmod 0644 $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(addsuffix .gz,$(notdir $(MAN_PAGES))))
	install -m 0644 $(addprefix docs/,$(DOC_FILES)) $(DESTDIR)$(DOCDIR)/
	install -m 0644 $(addprefix nginx-conf-examples/,$(EXAMPLE_FILES)) $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 contrib/bash-completion/patctl $(DESTDIR)$(BASH_COMPLETION_DIR)/patctl
	@# Expiry warnings (docs/token-lifecycle.md): examples to copy and edit, not
	@# units; the service names patctl where this install puts it.
	install -m 0644 contrib/systemd/nginx-pat-notify.timer contrib/notify/sendmail-expiry.sh \
	    $(DESTDIR)$(DOCDIR)/examples/
	sed 's|/usr/local/s\?bin/patctl|$(SBINDIR)/patctl|g' contrib/systemd/nginx-pat-notify.service \
	    > $(DESTDIR)$(DOCDIR)/examples/nginx-pat-notify.service
	chmod 0644 $(DESTDIR)$(DOCDIR)/examples/nginx-pat-notify.service
	@# The unit names patd where this install puts it.
	sed 's|/usr/local/s\?bin/patd|$(SBINDIR)/patd|g' contrib/systemd/patd.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/patd.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/patd.service
	@# The directory sync's service and timer (docs/directory.md) and the fleet
	@# follower (docs/fleet.md), not enabled.
	for u in nginx-pat-directory-sync.service nginx-pat-directory-sync.timer nginx-pat-follower.service; do \
	    sed 's|/usr/local/s\?bin/patctl|$(SBINDIR)/patctl|g' contrib/systemd/$$u > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$u && \
	    chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/$$u; done
	cd web && for f in $(WEB_FILES); do install -D -m 0644 $$f $(DESTDIR)$(WEB_DIR)/$$f; done
	if [ "$(NGINX_ENABLE_MODULE)" = yes ]; then install -d $(DESTDIR)$(NGINX_MODULES_ENABLED) && \
	    ln -sfn $(NGINX_MODULES_AVAILABLE)/$(MODULE_CONF) $(DESTDIR)$(NGINX_MODULES_ENABLED)/$(MODULE_LINK); fi

# Removes what install put there, and the directories that are nginx-pat's
# own; shared directories (sbin, man8, nginx's modules, ...) stay. The store
# (/var/lib/nginx-pat) is not install's and is never touched.
uninstall:
	rm -f $(DESTDIR)$(NGINX_MODULES_DIR)/$(notdir $(MODULE_SO)) \
	    $(DESTDIR)$(NGINX_MODULES_AVAILABLE)/$(MODULE_CONF) $(DESTDIR)$(NGINX_MODULES_ENABLED)/$(MODULE_LINK) \
	    $(DESTDIR)$(SBINDIR)/patctl $(DESTDIR)$(SBINDIR)/patd \
	    $(DESTDIR)$(MANDIR)/man8/patctl.8.gz $(DESTDIR)$(MANDIR)/man8/patd.8.gz \
	    $(DESTDIR)$(BASH_COMPLETION_DIR)/patctl $(DESTDIR)$(SYSTEMD_UNIT_DIR)/patd.service \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/nginx-pat-directory-sync.service \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/nginx-pat-directory-sync.timer \
	    $(DESTDIR)$(SYSTEMD_UNIT_DIR)/nginx-pat-follower.service
	@# The configuration file goes only as it came: edited, it stays.
	if cmp -s contrib/etc/nginx-pat.conf $(DESTDIR)$(CONFIG_DIR)/nginx-pat.conf; then \
	    rm -f $(DESTDIR)$(CONFIG_DIR)/nginx-pat.conf && rmdir $(DESTDIR)$(CONFIG_DIR) 2>/dev/null || true; fi
	@test -n "$(DOCDIR)" && test -n "$(WEB_DIR)"
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(WEB_DIR)
	rmdir $(DESTDIR)$(dir $(WEB_DIR)) 2>/dev/null || true

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
