// Fuzz target: the token text format and checksum (pat::check_token_format).
//
// The verdict is recomputed from the README's definition alone: "npat_",
// 43 base62 characters of secret, then the CRC-32 (a bit-by-bit reference,
// support/crc32.hpp) of the first 48 characters as 6 base62 digits, most
// significant first. malformed, bad_checksum and valid must match exactly.
//
// The first input byte picks the mode: even, the rest is the text as sent;
// odd, the rest seeds a secret from which a correctly checksummed token is
// built and must be valid, and every single-character change of it (at a
// position and to a character taken from the input) must not be.
#include <cstdint>
#include <string>
#include <string_view>

#include "pat/token.hpp"
#include "support/check.hpp"
#include "support/crc32.hpp"

namespace {

constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool is_base62(char c) {
    return kBase62.find(c) != std::string_view::npos;
}

std::string checksum_of(std::string_view first48) {
    std::uint32_t crc = fuzz_reference::crc32_ieee(first48);
    std::string digits(pat::kTokenChecksumChars, '0');
    for (std::size_t i = digits.size(); i-- > 0;) {
        digits[i] = kBase62[crc % 62];
        crc /= 62;
    }
    FUZZ_CHECK(crc == 0, "a CRC-32 does not fit 6 base62 digits");
    return digits;
}

pat::TokenFormat reference_format(std::string_view text) {
    if (text.size() != 54 || text.substr(0, 5) != "npat_") return pat::TokenFormat::malformed;
    for (const char c : text.substr(5)) {
        if (!is_base62(c)) return pat::TokenFormat::malformed;
    }
    return checksum_of(text.substr(0, 48)) == text.substr(48) ? pat::TokenFormat::valid
                                                              : pat::TokenFormat::bad_checksum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

    if ((data[0] & 1) == 0) {
        const pat::TokenFormat verdict = pat::check_token_format(rest);
        FUZZ_CHECK(verdict == reference_format(rest), "check_token_format disagrees with the definition");
        if (verdict == pat::TokenFormat::valid) {
            FUZZ_CHECK(rest.size() == pat::kTokenLength && rest.substr(0, 5) == pat::kTokenPrefix,
                       "a valid token has the wrong length or prefix");
        }
        return 0;
    }

    // Build a token from the input: secret characters from its bytes.
    std::string token(pat::kTokenPrefix);
    for (std::size_t i = 0; i < pat::kTokenSecretChars; ++i) {
        const unsigned char byte = i < rest.size() ? static_cast<unsigned char>(rest[i]) : 0;
        token += kBase62[byte % 62];
    }
    token += checksum_of(token);
    FUZZ_CHECK(pat::check_token_format(token) == pat::TokenFormat::valid, "a correctly built token is not valid");

    // Single-character changes, driven by the bytes after the secret.
    for (std::size_t i = pat::kTokenSecretChars; i + 1 < rest.size(); i += 2) {
        const std::size_t at = static_cast<unsigned char>(rest[i]) % token.size();
        const char replacement = rest[i + 1];
        if (replacement == token[at]) continue;
        std::string changed = token;
        changed[at] = replacement;
        const pat::TokenFormat verdict = pat::check_token_format(changed);
        FUZZ_CHECK(verdict != pat::TokenFormat::valid, "a token with one character changed is still valid");
        FUZZ_CHECK(verdict == reference_format(changed), "check_token_format disagrees on a changed token");
    }
    return 0;
}
