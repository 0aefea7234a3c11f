// Token text: generation, format check and digest.
//
// Format: "npat_" + 43 base62 characters of secret (256 bits from OpenSSL's
// CSPRNG) + 6 base62 characters of CRC-32 over the first 48 characters.
// 54 characters in all, only [A-Za-z0-9_]: safe as a Basic password, in a
// header and in a git URL. The checksum rejects a mistyped, truncated or
// invented token by arithmetic alone, before any lookup.
//
// Only the digest, SHA-256 over the whole token text, is ever stored.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pat/secret.hpp"
#include "pat/status.hpp"

// OpenSSL's EVP_MD and EVP_MD_CTX, declared at global scope so that the
// members below name OpenSSL's types whether or not <openssl/evp.h> came first.
struct evp_md_st;
struct evp_md_ctx_st;

namespace pat {

inline constexpr std::string_view kTokenPrefix = "npat_";
inline constexpr std::size_t kTokenSecretChars = 43;
inline constexpr std::size_t kTokenChecksumChars = 6;
inline constexpr std::size_t kTokenLength = kTokenPrefix.size() + kTokenSecretChars + kTokenChecksumChars;

enum class TokenFormat {
    valid,
    malformed,     // wrong length, prefix or characters
    bad_checksum,  // well-formed, but the checksum does not match
};

// Pure arithmetic; no allocation, no lookup.
TokenFormat check_token_format(std::string_view text) noexcept;

// True when text could be, or contain, a token or a truncated one: the
// prefix in any case followed by at least 16 more characters. Such text is a secret wherever it turns up (a
// Basic user name, an API user name or password, a header), even lower-cased
// or with a bad checksum: lower-casing leaves few enough candidates to try,
// and a typo's neighbours are close to the real one. Never log, audit or
// publish it; say "a token was sent as ..." instead.
bool looks_like_token(std::string_view text);

// A new token from the CSPRNG. The caller shows it once and wipes it.
Expected<std::string> generate_token();

// The stored form of a token.
inline constexpr std::size_t kDigestSize = 32;
using TokenDigest = std::array<std::uint8_t, kDigestSize>;

// Computes digests with an EVP_MD fetched once and a context reused for
// every call (the one-shot API fetches the algorithm each time). One per
// worker or per thread: not thread-safe.
class TokenHasher {
   public:
    TokenHasher();
    ~TokenHasher();
    TokenHasher(const TokenHasher&) = delete;
    TokenHasher& operator=(const TokenHasher&) = delete;

    // False only when OpenSSL could not provide SHA-256.
    bool ready() const { return md_ != nullptr && ctx_ != nullptr; }

    // False on an OpenSSL failure; out is then zeroed.
    bool digest(std::string_view token_text, TokenDigest& out);

   private:
    struct evp_md_st* md_ = nullptr;
    struct evp_md_ctx_st* ctx_ = nullptr;
};

// Public token ids: 12 decimal digits, random, shown in listings and logs.
inline constexpr std::size_t kTokenIdLength = 12;
Expected<std::string> generate_token_id();
bool is_valid_token_id(std::string_view id);

}  // namespace pat
