// Token text: format, checksum, generation, digest and ids.
#include "pat/token.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pat {
namespace {

constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Tokens whose checksums were computed outside this code base (Python's
// zlib.crc32 and hashlib.sha256), as known answers for the format and digest.
constexpr std::string_view kZeroSecretToken = "npat_00000000000000000000000000000000000000000001laDKA";
constexpr std::string_view kZeroSecretSha256 = "d4aa67d443b14f13ecd7610329cbed3b64b88d3aee388571cdf10af7bdd9a85c";
constexpr std::string_view kLetterSecretToken = "npat_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ4fmNwz";
constexpr std::string_view kLetterSecretSha256 = "3b581263e096a73e1e64063b3a1ada02e3fa0f8e9f636049e456781c56c00042";

// A bit-at-a-time CRC-32 (IEEE), independent of zlib's under test, to
// build tokens with chosen prefixes.
std::uint32_t reference_crc32(std::string_view bytes) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (char c : bytes) {
        crc ^= static_cast<unsigned char>(c);
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
    }
    return ~crc;
}

std::string with_checksum(std::string_view first_48) {
    std::string text(first_48);
    std::uint32_t crc = reference_crc32(first_48);
    char digits[6];
    for (int i = 5; i >= 0; --i) {
        digits[i] = kBase62[crc % 62];
        crc /= 62;
    }
    text.append(digits, 6);
    return text;
}

std::string hex(const TokenDigest& digest) {
    std::string out;
    char pair[3];
    for (std::uint8_t byte : digest) {
        std::snprintf(pair, sizeof pair, "%02x", byte);
        out += pair;
    }
    return out;
}

bool is_base62(char c) {
    return kBase62.find(c) != std::string_view::npos;
}

std::string generate() {
    Expected<std::string> token = generate_token();
    EXPECT_TRUE(token.ok());
    return token.ok() ? *token : std::string();
}

// What is treated as a secret wherever it appears: the prefix in any case
// within text at least a token long, whatever the checksum says.
TEST(TokenFormat, LooksLikeToken) {
    EXPECT_TRUE(looks_like_token(kZeroSecretToken));
    EXPECT_TRUE(looks_like_token(kLetterSecretToken));
    std::string lowered(kLetterSecretToken);
    for (char& c : lowered) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    EXPECT_TRUE(looks_like_token(lowered));
    std::string upper(kLetterSecretToken);
    for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    EXPECT_TRUE(looks_like_token(upper));
    EXPECT_TRUE(looks_like_token("user-" + std::string(kZeroSecretToken)));
    EXPECT_FALSE(looks_like_token(kZeroSecretToken.substr(1)));
    EXPECT_TRUE(looks_like_token(kZeroSecretToken.substr(0, kTokenLength - 1)));  // truncated: still a secret
    EXPECT_TRUE(looks_like_token(kZeroSecretToken.substr(0, kTokenPrefix.size() + 16)));
    EXPECT_FALSE(looks_like_token(kZeroSecretToken.substr(0, kTokenPrefix.size() + 15)));
    EXPECT_FALSE(looks_like_token(std::string(kTokenLength, 'a')));
    EXPECT_FALSE(looks_like_token("npat_alice"));
    EXPECT_FALSE(looks_like_token(""));
}

TEST(TokenFormat, LengthIsFiftyFour) {
    EXPECT_EQ(kTokenLength, 54U);
    EXPECT_EQ(kZeroSecretToken.size(), kTokenLength);
}

TEST(TokenFormat, ReferenceCrcMatchesTheStandardCheckValue) {
    EXPECT_EQ(reference_crc32("123456789"), 0xCBF43926U);
}

// The checksum path itself (zlib's CRC-32 inside check_token_format) against
// a value computed outside this code base: Python's zlib.crc32 of these 48
// characters is 0x690BD1FF. Any other CRC (another polynomial, no final XOR,
// a wrong length) gives another value, and the token is refused.
TEST(TokenFormat, ChecksumIsTheIeeeCrc32OfTheFirst48Characters) {
    const std::string first_48 =
        "npat_123456789123456789123456789123456789"
        "1234567";
    ASSERT_EQ(first_48.size(), 48U);
    ASSERT_EQ(reference_crc32(first_48), 0x690BD1FFU);
    auto encoded = [&](std::uint32_t crc) {
        char digits[6];
        for (int i = 5; i >= 0; --i) {
            digits[i] = kBase62[crc % 62];
            crc /= 62;
        }
        return first_48 + std::string(digits, 6);
    };
    EXPECT_EQ(check_token_format(encoded(0x690BD1FFU)), TokenFormat::valid);
    EXPECT_EQ(check_token_format(encoded(0x690BD1FFU ^ 1U)), TokenFormat::bad_checksum);
    EXPECT_EQ(check_token_format(encoded(~0x690BD1FFU)), TokenFormat::bad_checksum);  // no final XOR
}

TEST(TokenFormat, KnownAnswers) {
    EXPECT_EQ(check_token_format(kZeroSecretToken), TokenFormat::valid);
    EXPECT_EQ(check_token_format(kLetterSecretToken), TokenFormat::valid);
    EXPECT_EQ(check_token_format(with_checksum("npat_" + std::string(43, 'z'))), TokenFormat::valid);
}

TEST(TokenFormat, AgreesWithTheReferenceChecksumOnGeneratedSecrets) {
    for (int i = 0; i < 200; ++i) {
        std::string token = generate();
        EXPECT_EQ(token, with_checksum(std::string_view(token).substr(0, 48)));
    }
}

TEST(TokenFormat, EverySingleCharacterMutationIsRejected) {
    std::vector<std::string> tokens = {std::string(kZeroSecretToken), std::string(kLetterSecretToken)};
    for (int i = 0; i < 3; ++i) tokens.push_back(generate());

    for (const std::string& original : tokens) {
        ASSERT_EQ(check_token_format(original), TokenFormat::valid);
        for (std::size_t position = 0; position < original.size(); ++position) {
            // Every printable ASCII character, plus NUL, controls and high bytes.
            std::vector<char> replacements = {
                '\0', '\t', '\n', '\r', '\x7f', static_cast<char>(0x80), static_cast<char>(0xff)};
            for (char c = 0x20; c <= 0x7e; ++c) replacements.push_back(c);
            for (char replacement : replacements) {
                if (replacement == original[position]) continue;
                std::string mutated = original;
                mutated[position] = replacement;
                // In the prefix, or a character outside base62: malformed.
                // A base62 character in the secret or the checksum: the
                // checksum catches it.
                TokenFormat expected = (position < kTokenPrefix.size() || !is_base62(replacement))
                                           ? TokenFormat::malformed
                                           : TokenFormat::bad_checksum;
                ASSERT_EQ(check_token_format(mutated), expected)
                    << "position " << position << " replaced by byte "
                    << static_cast<int>(static_cast<unsigned char>(replacement));
            }
        }
    }
}

TEST(TokenFormat, AdjacentTranspositionsAreRejected) {
    std::string original(kLetterSecretToken);
    for (std::size_t i = kTokenPrefix.size(); i + 1 < original.size(); ++i) {
        if (original[i] == original[i + 1]) continue;
        std::string swapped = original;
        std::swap(swapped[i], swapped[i + 1]);
        EXPECT_EQ(check_token_format(swapped), TokenFormat::bad_checksum) << i;
    }
}

TEST(TokenFormat, TruncationsAndExtensionsAreMalformed) {
    std::string token(kLetterSecretToken);
    for (std::size_t length = 0; length < token.size(); ++length) {
        EXPECT_EQ(check_token_format(std::string_view(token).substr(0, length)), TokenFormat::malformed) << length;
        EXPECT_EQ(check_token_format(std::string_view(token).substr(token.size() - length)), TokenFormat::malformed)
            << length;
    }
    for (char extra : {'0', 'a', 'Z', '_', ' ', '\n', '\0'}) {
        EXPECT_EQ(check_token_format(token + extra), TokenFormat::malformed);
        EXPECT_EQ(check_token_format(extra + token), TokenFormat::malformed);
    }
    EXPECT_EQ(check_token_format(token + token), TokenFormat::malformed);
}

TEST(TokenFormat, OtherPrefixesAreMalformedEvenWithAGoodChecksum) {
    const std::string secret(kLetterSecretToken.substr(5, 43));
    for (std::string_view prefix : {"NPAT_", "Npat_", "npat-", "npat0", "xpat_", "npaT_", "ghp__", "bbdc_"}) {
        std::string token = with_checksum(std::string(prefix) + secret);
        ASSERT_EQ(token.size(), kTokenLength);
        EXPECT_EQ(check_token_format(token), TokenFormat::malformed) << token;
    }
    // A shorter or longer prefix with the length kept.
    EXPECT_EQ(check_token_format(with_checksum("npat" + secret + "a")), TokenFormat::malformed);
    EXPECT_EQ(check_token_format(with_checksum("npat__" + secret.substr(1))), TokenFormat::malformed);
}

TEST(TokenFormat, OverflowingChecksumDigitsAreABadChecksum) {
    // "zzzzzz" is 62^6 - 1, above any CRC-32 value.
    std::string token = std::string(kZeroSecretToken.substr(0, 48)) + "zzzzzz";
    EXPECT_EQ(check_token_format(token), TokenFormat::bad_checksum);
}

TEST(TokenGeneration, TokensAreValidAndUseASafeAlphabet) {
    for (int i = 0; i < 500; ++i) {
        std::string token = generate();
        ASSERT_EQ(token.size(), kTokenLength);
        EXPECT_EQ(token.substr(0, 5), "npat_");
        EXPECT_EQ(check_token_format(token), TokenFormat::valid);
        for (std::size_t j = kTokenPrefix.size(); j < token.size(); ++j) {
            ASSERT_TRUE(is_base62(token[j])) << token;
        }
        // Safe in a Basic password, a header and a URL's userinfo.
        EXPECT_EQ(token.find_first_of(":@/%?#+= \t\r\n"), std::string::npos) << token;
    }
}

TEST(TokenGeneration, TokensAreUnique) {
    std::set<std::string> seen;
    std::set<std::string> secrets;
    for (int i = 0; i < 3000; ++i) {
        std::string token = generate();
        EXPECT_TRUE(seen.insert(token).second);
        EXPECT_TRUE(secrets.insert(token.substr(5, 10)).second);  // no shared 60-bit prefix
    }
}

TEST(TokenGeneration, SecretCharactersAreUnbiased) {
    // 256 = 4 * 62 + 8: a plain "byte % 62" would make the first 8 digits
    // 25% likelier than the others. Compare their mean counts.
    std::array<long, 62> counts{};
    constexpr int kTokens = 3000;
    for (int i = 0; i < kTokens; ++i) {
        std::string token = generate();
        for (std::size_t j = kTokenPrefix.size(); j < kTokenPrefix.size() + kTokenSecretChars; ++j) {
            ++counts[kBase62.find(token[j])];
        }
    }
    double first_eight = 0, others = 0;
    for (std::size_t d = 0; d < 62; ++d) (d < 8 ? first_eight : others) += counts[d];
    first_eight /= 8;
    others /= 54;
    // Expected ~2081 each; the standard error of the difference is ~17; the
    // modulo bias would make it ~500.
    EXPECT_NEAR(first_eight, others, 150.0);
    for (std::size_t d = 0; d < 62; ++d) EXPECT_GT(counts[d], 1500) << kBase62[d];
}

TEST(TokenDigest, KnownAnswers) {
    TokenHasher hasher;
    ASSERT_TRUE(hasher.ready());
    TokenDigest digest{};
    ASSERT_TRUE(hasher.digest("abc", digest));
    EXPECT_EQ(hex(digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_TRUE(hasher.digest("", digest));
    EXPECT_EQ(hex(digest), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ASSERT_TRUE(hasher.digest(kZeroSecretToken, digest));
    EXPECT_EQ(hex(digest), kZeroSecretSha256);
    ASSERT_TRUE(hasher.digest(kLetterSecretToken, digest));
    EXPECT_EQ(hex(digest), kLetterSecretSha256);
}

TEST(TokenDigest, ReusedContextGivesTheSameAnswer) {
    TokenHasher hasher;
    TokenDigest first{}, other{}, again{};
    ASSERT_TRUE(hasher.digest(kZeroSecretToken, first));
    ASSERT_TRUE(hasher.digest(kLetterSecretToken, other));
    ASSERT_TRUE(hasher.digest(kZeroSecretToken, again));
    EXPECT_EQ(first, again);
    EXPECT_NE(first, other);

    TokenHasher second_hasher;
    TokenDigest from_second{};
    ASSERT_TRUE(second_hasher.digest(kZeroSecretToken, from_second));
    EXPECT_EQ(from_second, first);
}

TEST(TokenDigest, DiffersForEveryMutatedToken) {
    TokenHasher hasher;
    TokenDigest original{}, mutated{};
    ASSERT_TRUE(hasher.digest(kLetterSecretToken, original));
    std::string text(kLetterSecretToken);
    text.back() = text.back() == 'a' ? 'b' : 'a';
    ASSERT_TRUE(hasher.digest(text, mutated));
    EXPECT_NE(original, mutated);
}

TEST(TokenId, GeneratedIdsHaveTheFormat) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        Expected<std::string> id = generate_token_id();
        ASSERT_TRUE(id.ok());
        ASSERT_EQ(id->size(), kTokenIdLength);
        EXPECT_NE((*id)[0], '0');
        EXPECT_EQ(id->find_first_not_of("0123456789"), std::string::npos) << *id;
        EXPECT_TRUE(is_valid_token_id(*id)) << *id;
        seen.insert(*id);
    }
    EXPECT_EQ(seen.size(), 1000U);  // 9e11 ids: a collision here means a broken generator
}

TEST(TokenId, DigitsAreUnbiased) {
    // 256 % 10 = 6: a plain "byte % 10" would favour 0-5 by 4%. The first
    // digit is checked only for covering 1-9 evenly (its possible bias,
    // 3.6%, is too small to see in a quick test).
    std::array<long, 10> counts{};
    std::array<long, 10> first_counts{};
    constexpr int kIds = 20000;
    for (int i = 0; i < kIds; ++i) {
        Expected<std::string> id = generate_token_id();
        ASSERT_TRUE(id.ok());
        ++first_counts[(*id)[0] - '0'];
        for (std::size_t j = 1; j < id->size(); ++j) ++counts[(*id)[j] - '0'];
    }
    EXPECT_EQ(first_counts[0], 0);
    double low = 0, high = 0;
    for (int d = 0; d < 10; ++d) (d < 6 ? low : high) += counts[d];
    low /= 6;
    high /= 4;
    // Expected 22000 each; standard error of the difference ~96; bias ~860.
    EXPECT_NEAR(low, high, 430.0);
    for (int d = 1; d < 10; ++d) EXPECT_NEAR(first_counts[d], kIds / 9.0, 400.0) << d;
}

TEST(TokenId, Validation) {
    EXPECT_TRUE(is_valid_token_id("123456789012"));
    EXPECT_TRUE(is_valid_token_id("900000000000"));
    for (std::string_view id : {"", "012345678901", "12345678901", "1234567890123", "12345678901a", "1234 5678901",
                                " 23456789012", "123456789012 ", "-23456789012", "１23456789012"}) {
        EXPECT_FALSE(is_valid_token_id(id)) << id;
    }
    EXPECT_FALSE(is_valid_token_id(std::string_view("12345678901\0", 12)));
}

TEST(Wipe, ClearsABuffer) {
    std::array<unsigned char, 32> secret;
    secret.fill(0xA5);
    wipe(secret.data(), secret.size());
    for (unsigned char byte : secret) EXPECT_EQ(byte, 0);
    wipe(nullptr, 0);  // harmless
}

TEST(Wipe, ClearsAStringAndItsWholeStorage) {
    std::string secret = generate();
    secret.resize(10);  // the rest of the token lingers in the buffer
    const char* storage = secret.data();
    const std::size_t capacity = secret.capacity();
    ASSERT_GE(capacity, kTokenLength);
    wipe(secret);
    EXPECT_TRUE(secret.empty());
    ASSERT_EQ(secret.data(), storage);  // still owned by the string
    for (std::size_t i = 0; i < capacity; ++i) ASSERT_EQ(storage[i], '\0') << i;
}

}  // namespace
}  // namespace pat
