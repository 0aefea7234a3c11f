// ASCII case folding for protocol tokens (header names, auth schemes, path
// keywords). Locale-independent on purpose: HTTP names are ASCII, and a
// locale's rules (Turkish dotless i) must not change what matches.
#pragma once

#include <cstddef>
#include <string_view>

namespace pat::ascii {

inline char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace pat::ascii
