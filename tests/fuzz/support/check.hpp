// The fuzz targets' assertion: a broken invariant is a crash, so libFuzzer
// saves the input that broke it. Never compiled out (unlike assert).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition, what)                                                                                \
    do {                                                                                                           \
        if (!(condition)) {                                                                                        \
            std::fprintf(stderr, "invariant broken at %s:%d: %s\n  (%s)\n", __FILE__, __LINE__, what, #condition); \
            std::abort();                                                                                          \
        }                                                                                                          \
    } while (0)
