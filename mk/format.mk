# Formatting that checks itself: every C++ file of the project against
# .clang-format (Debian 12's clang-format 14). `make format-check` is part of
# `make test`; `make format` rewrites the files in place.

FORMAT_DIRS  := src include bench tests/unit tests/fuzz
FORMAT_FILES  = $(call sources,cpp,$(FORMAT_DIRS)) $(call sources,hpp,$(FORMAT_DIRS))
CLANG_FORMAT := clang-format

.PHONY: format format-check test-format
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

# --dry-run --Werror prints each difference as an error and fails on the
# first file that differs; every file is checked before the result.
format-check test-format:
	@command -v $(CLANG_FORMAT) >/dev/null || { echo "clang-format is missing: run make deps" >&2; exit 1; }
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files match .clang-format"

TEST_TARGETS += format-check
