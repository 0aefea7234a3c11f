# Debian packages, built with the distribution's own tooling (debian/,
# debhelper, dh_nginx from nginx-dev): docs/install.md, "From Debian
# packages".
#
#   make deb        build/deb/libnginx-mod-http-auth-pat_VERSION_ARCH.deb,
#                   build/deb/nginx-pat_VERSION_ARCH.deb, their -dbgsym
#                   packages, .buildinfo and .changes
#   make lintian    lintian over them (debian/*.lintian-overrides say why
#                   each remaining tag is accepted)
#   make test-deb   installs, uses, removes and purges them on this machine
#                   (root; tests/package/), and checks make install/uninstall
#
# dpkg-buildpackage cleans the tree it builds in (make clean) and writes to
# its parent directory, so it runs on a copy of the source tree in
# build/deb/: the normal build in build/ is left alone.

DEB_OUT      := $(BUILD)/deb
DEB_TREE      = $(DEB_OUT)/nginx-pat-$(PAT_VERSION)
DEB_ARCH      = $(shell dpkg --print-architecture)
DEB_CHANGES   = $(DEB_OUT)/nginx-pat_$(PAT_VERSION)_$(DEB_ARCH).changes
# What building and checking the packages needs beyond the build's own
# packages (debian/control's Build-Depends are all in DEB_PACKAGES).
DEB_PACKAGES += debhelper dpkg-dev go-md2man lintian bash-completion

.PHONY: deb lintian test-deb
deb:
	@command -v dpkg-buildpackage >/dev/null || { echo "dpkg-dev is missing: run make deps" >&2; exit 1; }
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_TREE)
	tar -c --exclude=./build --exclude=./.git --exclude=node_modules --exclude=__pycache__ \
	    --exclude=.pytest_cache . | tar -x -C $(DEB_TREE)
	cd $(DEB_TREE) && dpkg-buildpackage -b -us -uc -j$$(nproc) > ../dpkg-buildpackage.log 2>&1 || \
	    { tail -n 60 $(DEB_OUT)/dpkg-buildpackage.log >&2; exit 1; }
	rm -rf $(DEB_TREE)
	@ls $(DEB_OUT)/*.deb

lintian:
	lintian --fail-on error,warning --display-info $(DEB_CHANGES)

# The test builds the packages itself once (make deb) and uses the normal
# build for make install. `make test` builds them beside the suites that
# change nothing (TEST_PREBUILD), then runs test-deb alone with
# TEST_PREBUILT=yes, which does not build them again.
test-deb: $(if $(filter yes,$(TEST_PREBUILT)),,deb) all man
	DEB_DIR=$(abspath $(DEB_OUT)) $(PYTHON) -m pytest -q tests/package

TEST_TARGETS += test-deb
TEST_PREBUILD += deb
