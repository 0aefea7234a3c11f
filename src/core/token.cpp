// Token text: generation, format check and digest. See include/pat/token.hpp.
//
// Base62 digits are 0-9, A-Z, a-z in that order (digit values 0..61). The
// checksum is the CRC-32 (IEEE 802.3, as zlib and PNG compute it) of the
// first 48 characters, written as exactly 6 base62 digits, most significant
// first. 62^6 > 2^32, so every CRC value has exactly one encoding, and a CRC
// detects every change of a single character.
#include "pat/token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <array>
#include <limits>

#include "pat/ascii.hpp"

namespace pat {

namespace {

constexpr std::string_view kBase62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::uint8_t kNotBase62 = 0xFF;
constexpr std::size_t kChecksummedChars = kTokenPrefix.size() + kTokenSecretChars;

static_assert(kBase62Digits.size() == 62);
static_assert(kTokenLength == 54);

// Character -> digit value, kNotBase62 for everything else.
constexpr std::array<std::uint8_t, 256> make_base62_values() {
    std::array<std::uint8_t, 256> values{};
    for (auto& value : values) value = kNotBase62;
    for (std::size_t i = 0; i < kBase62Digits.size(); ++i) {
        values[static_cast<unsigned char>(kBase62Digits[i])] = static_cast<std::uint8_t>(i);
    }
    return values;
}
constexpr std::array<std::uint8_t, 256> kBase62Values = make_base62_values();

std::uint8_t base62_value(char c) {
    return kBase62Values[static_cast<unsigned char>(c)];
}

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) by zlib, whose
// sliced tables take a few nanoseconds for the 48 characters; it is the
// whole cost of rejecting a bad checksum. tests/unit/token_test.cpp checks
// the standard check value through check_token_format.
std::uint32_t token_crc32(std::string_view bytes) {
    static_assert(kChecksummedChars <= std::numeric_limits<uInt>::max());
    const uLong crc =
        ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
    return static_cast<std::uint32_t>(crc);
}

// Writes kTokenChecksumChars digits, most significant first.
void encode_checksum(std::uint32_t crc, char* out) {
    for (std::size_t i = kTokenChecksumChars; i-- > 0;) {
        out[i] = kBase62Digits[crc % 62];
        crc /= 62;
    }
}

Status random_failure() {
    // store_error is the code callers treat as a server fault (HTTP 500).
    return {StatusCode::store_error, "the system random number generator failed"};
}

// Fills out with uniformly random characters from alphabet. Each random byte
// below the largest multiple of the alphabet's size is used, the others are
// drawn again, so that no character is likelier than another (a plain modulo
// would favour the first 256 % size characters).
bool fill_uniform(char* out, std::size_t count, std::string_view alphabet) {
    const unsigned limit = 256U - (256U % alphabet.size());
    std::array<unsigned char, 64> random{};
    std::size_t filled = 0;
    bool ok = true;
    while (filled < count) {
        if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
            ok = false;
            break;
        }
        for (unsigned char byte : random) {
            if (filled == count) break;
            if (byte < limit) out[filled++] = alphabet[byte % alphabet.size()];
        }
    }
    OPENSSL_cleanse(random.data(), random.size());
    return ok;
}

}  // namespace

bool looks_like_token(std::string_view text) {
    // A truncated token is a token too: 16 of its 43 secret characters are
    // 95 bits, and the checksum of a full one can be recomputed.
    constexpr std::size_t kMinTail = 16;
    for (std::size_t at = 0; at + kTokenPrefix.size() + kMinTail <= text.size(); ++at) {
        if (ascii::equals_ignoring_case(text.substr(at, kTokenPrefix.size()), kTokenPrefix)) return true;
    }
    return false;
}

TokenFormat check_token_format(std::string_view text) noexcept {
    if (text.size() != kTokenLength) return TokenFormat::malformed;
    if (text.substr(0, kTokenPrefix.size()) != kTokenPrefix) return TokenFormat::malformed;
    std::uint64_t stated = 0;
    for (std::size_t i = kTokenPrefix.size(); i < kTokenLength; ++i) {
        std::uint8_t value = base62_value(text[i]);
        if (value == kNotBase62) return TokenFormat::malformed;
        // 62^6 < 2^36: the stated checksum cannot overflow 64 bits.
        if (i >= kChecksummedChars) stated = stated * 62 + value;
    }
    return stated == token_crc32(text.substr(0, kChecksummedChars)) ? TokenFormat::valid : TokenFormat::bad_checksum;
}

Expected<std::string> generate_token() {
    // Sized once: the secret is never reallocated, so no stray copy remains.
    std::string token(kTokenLength, '\0');
    token.replace(0, kTokenPrefix.size(), kTokenPrefix);
    if (!fill_uniform(token.data() + kTokenPrefix.size(), kTokenSecretChars, kBase62Digits)) {
        wipe(token);
        return random_failure();
    }
    encode_checksum(token_crc32(std::string_view(token).substr(0, kChecksummedChars)),
                    token.data() + kChecksummedChars);
    return token;
}

TokenHasher::TokenHasher() {
    md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    ctx_ = EVP_MD_CTX_new();
}

TokenHasher::~TokenHasher() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
}

bool TokenHasher::digest(std::string_view token_text, TokenDigest& out) {
    unsigned int length = 0;
    bool ok = ready() && EVP_DigestInit_ex2(ctx_, md_, nullptr) == 1 &&
              EVP_DigestUpdate(ctx_, token_text.data(), token_text.size()) == 1 &&
              EVP_DigestFinal_ex(ctx_, out.data(), &length) == 1 && length == out.size();
    if (!ok) out.fill(0);
    return ok;
}

Expected<std::string> generate_token_id() {
    constexpr std::string_view kDigits = "0123456789";
    std::string id(kTokenIdLength, '\0');
    // The first digit is never 0, so an id keeps its length as a number.
    if (!fill_uniform(id.data(), 1, kDigits.substr(1)) || !fill_uniform(id.data() + 1, kTokenIdLength - 1, kDigits)) {
        return random_failure();
    }
    return id;
}

bool is_valid_token_id(std::string_view id) {
    if (id.size() != kTokenIdLength || id[0] < '1' || id[0] > '9') return false;
    for (char c : id) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace pat
