# Man pages patctl(8) and patd(8), made from docs/patctl.md and docs/patd.md
# (the one source) by tools/man/man_page.py and Debian's go-md2man (in
# `make deps`); docs/install.md says why that tool.
#
#   make man    build/man/patctl.8 and build/man/patd.8

MAN_DIR     := $(BUILD)/man
MAN_PAGES   := $(MAN_DIR)/patctl.8 $(MAN_DIR)/patd.8
PAT_VERSION := $(shell sed -n 's/.*kVersion = "\([^"]*\)".*/\1/p' include/pat/version.hpp)
MAN_SUMMARY_patctl := manage nginx-pat's token store: users, groups, grants, public access, tokens, the audit trail
MAN_SUMMARY_patd   := nginx-pat's token API daemon, the writer of the token store

.PHONY: man
man: $(MAN_PAGES)

$(MAN_DIR)/%.8: docs/%.md tools/man/man_page.py include/pat/version.hpp
	@mkdir -p $(dir $@)
	@command -v go-md2man >/dev/null || { echo "go-md2man is missing: run make deps" >&2; exit 1; }
	$(PYTHON) tools/man/man_page.py $< $* 8 $(PAT_VERSION) "$(MAN_SUMMARY_$*)" > $@.md
	go-md2man -in $@.md -out $@.tmp
	mv -f $@.tmp $@

# make man-check: the pages render with no warning from man at 200 columns
# (a table wider than that is the usual one: go-md2man wraps a cell only
# when its first run of plain text is longer than 30 characters). The same
# check runs on the installed pages in test-deb; this one fails minutes
# earlier and needs no package.
DEB_PACKAGES += man-db
.PHONY: man-check
man-check: $(MAN_PAGES)
	@for page in $(MAN_PAGES); do \
	    warnings=$$(MANWIDTH=200 LC_ALL=C.UTF-8 man --warnings=w -l $$page 2>&1 >/dev/null); \
	    if [ -n "$$warnings" ]; then echo "$$page: man warns: $$warnings" >&2; exit 1; fi; \
	done; echo "man pages render without warnings"
TEST_TARGETS += man-check
