// A reference base64 codec for the fuzz targets, written from RFC 4648
// alone and deliberately naive (a linear search of the alphabet, one
// character at a time) so that it shares no structure with the core's
// table-driven decoder.
//
// Strict: the text is non-empty, a multiple of 4 long, '=' appears only as
// the last one or two characters, and the bits that padding leaves unused
// are zero, so every byte string has exactly one accepted encoding.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fuzz_reference {

inline constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline std::string base64_encode(std::string_view bytes) {
    std::string out;
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned a = static_cast<unsigned char>(bytes[i]);
        const unsigned b = static_cast<unsigned char>(bytes[i + 1]);
        const unsigned c = static_cast<unsigned char>(bytes[i + 2]);
        out += kBase64Alphabet[a >> 2];
        out += kBase64Alphabet[((a & 3) << 4) | (b >> 4)];
        out += kBase64Alphabet[((b & 15) << 2) | (c >> 6)];
        out += kBase64Alphabet[c & 63];
    }
    if (bytes.size() - i == 1) {
        const unsigned a = static_cast<unsigned char>(bytes[i]);
        out += kBase64Alphabet[a >> 2];
        out += kBase64Alphabet[(a & 3) << 4];
        out += "==";
    } else if (bytes.size() - i == 2) {
        const unsigned a = static_cast<unsigned char>(bytes[i]);
        const unsigned b = static_cast<unsigned char>(bytes[i + 1]);
        out += kBase64Alphabet[a >> 2];
        out += kBase64Alphabet[((a & 3) << 4) | (b >> 4)];
        out += kBase64Alphabet[(b & 15) << 2];
        out += '=';
    }
    return out;
}

// The bytes, or nullopt when the text is not strict base64.
inline std::optional<std::string> base64_decode_strict(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    while (padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
    if (padding > 2) return std::nullopt;

    // Collect the sextets of the unpadded part; any other character refuses.
    std::string sextets;
    for (std::size_t i = 0; i < text.size() - padding; ++i) {
        const std::size_t value = kBase64Alphabet.find(text[i]);
        if (value == std::string_view::npos) return std::nullopt;
        sextets += static_cast<char>(value);
    }
    // Concatenate the bits; whole bytes are the output, the rest must be 0.
    std::string out;
    unsigned long bits = 0;
    int held = 0;
    for (const char sextet : sextets) {
        bits = (bits << 6) | static_cast<unsigned char>(sextet);
        held += 6;
        if (held >= 8) {
            held -= 8;
            out += static_cast<char>((bits >> held) & 0xff);
            bits &= (1UL << held) - 1;
        }
    }
    if (bits != 0) return std::nullopt;  // non-zero unused bits: a second spelling
    return out;
}

}  // namespace fuzz_reference
