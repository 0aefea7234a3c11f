// The store the store_file seeds hold, shared by the seed generator
// (tools/make_seeds.cpp) and the store_file target: the target asks about
// exactly these tokens, users and targets, so that a mutated seed reaches
// the token, user and grant records rather than stopping at "unknown token".
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "crc32.hpp"
#include "pat/permission.hpp"
#include "pat/token.hpp"

namespace fuzz_seed {

// Well-formed tokens with a correct checksum (built here, not drawn from the
// CSPRNG, so that the seeds and the target agree on them).
inline std::string token(int n) {
    constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string text(pat::kTokenPrefix);
    for (std::size_t i = 0; i < pat::kTokenSecretChars; ++i) text += kBase62[(n * 7 + i * 13) % 62];
    std::uint32_t crc = fuzz_reference::crc32_ieee(text);
    std::string digits(pat::kTokenChecksumChars, '0');
    for (std::size_t i = digits.size(); i-- > 0;) {
        digits[i] = kBase62[crc % 62];
        crc /= 62;
    }
    return text + digits;
}

struct SeedToken {
    const char* owner;
    pat::TokenPermissions permissions;
    bool revoked;
    bool expired;
};

// alice: project WORK write, repo WORK/my-repo admin; bob: sysadmin;
// carol: disabled; dave: no grants, a personal project.
inline constexpr std::array<SeedToken, 6> kSeedTokens{{
    {"alice", {pat::Level::read, pat::Level::write}, false, false},
    {"alice", {pat::Level::admin, pat::Level::admin}, false, false},
    {"alice", {pat::Level::read, pat::Level::read}, true, false},
    {"bob", {pat::Level::write, pat::Level::admin}, false, true},
    {"carol", {pat::Level::read, pat::Level::read}, false, false},
    {"dave", {pat::Level::admin, pat::Level::admin}, false, false},
}};

// The "now" of the seeds: expired tokens expired before it.
inline constexpr std::int64_t kSeedNowMs = 1'800'000'000'000;

}  // namespace fuzz_seed
