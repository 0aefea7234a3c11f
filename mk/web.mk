# The "Personal access tokens" page (web/) and its end-to-end test in a real
# headless browser: Debian's chromium driven by playwright-core from npm.
#
#   make test-e2e   sign in, create a token, git clone with it, revoke it;
#                   a directory user (a real slapd) does the same
#                   (nginx passes the token API to build/patd)
#
# Needs Node.js 20 or later with npm (playwright-core 1.65 requires it).

E2E_DIR      := tests/e2e
E2E_MODULES  := $(E2E_DIR)/node_modules/.installed
CHROMIUM_BIN := /usr/bin/chromium

.PHONY: test-e2e e2e-browser
test-e2e: $(MODULE_SO) $(PATCTL) $(PATD) e2e-browser $(E2E_MODULES)
	cd $(E2E_DIR) && PATCTL=$(abspath $(PATCTL)) PAT_MODULE=$(abspath $(MODULE_SO)) \
	    PATD=$(abspath $(PATD)) node --test --test-concurrency=1 tokens_page.test.mjs directory_sign_in.test.mjs

# Debian's chromium: playwright-core never downloads a browser of its own.
e2e-browser:
	@test -x $(CHROMIUM_BIN) || { \
	    echo "installing chromium"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	        -o DPkg::Lock::Timeout=300 chromium >/dev/null; }
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null || \
	    { echo "test-e2e needs Node.js 20 or later with npm (found: $$(node --version 2>&1))" >&2; exit 1; }

# npm ci only when the lock file changed; --ignore-scripts: nothing to build.
$(E2E_MODULES): $(E2E_DIR)/package-lock.json $(E2E_DIR)/package.json
	cd $(E2E_DIR) && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

TEST_TARGETS += test-e2e
