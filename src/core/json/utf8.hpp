// UTF-8 well-formedness, shared by the JSON parser (which refuses bad input)
// and the writer (which replaces it with U+FFFD).
#pragma once

#include <cstddef>
#include <string_view>

namespace pat::json::utf8 {

inline bool is_continuation(unsigned char byte, unsigned char low = 0x80, unsigned char high = 0xBF) {
    return byte >= low && byte <= high;
}

// Length of the well-formed UTF-8 sequence at text[i] (Unicode table 3-7),
// or 0: overlong forms, surrogates and code points above U+10FFFF are not
// well-formed, nor is a sequence cut short by the end of the text.
inline std::size_t sequence_length(std::string_view text, std::size_t i) {
    auto at = [&](std::size_t k) -> unsigned char {
        return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
    };
    const unsigned char lead = at(0);
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return is_continuation(at(1)) ? 2 : 0;
    if (lead >= 0xE0 && lead <= 0xEF) {
        const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
        const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
        return is_continuation(at(1), low, high) && is_continuation(at(2)) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
        const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
        return is_continuation(at(1), low, high) && is_continuation(at(2)) && is_continuation(at(3)) ? 4 : 0;
    }
    return 0;
}

}  // namespace pat::json::utf8
