// The Authorization header parser (pat/authorization.hpp): every accepted
// form, every refusal, and random input that must never be accepted in a
// form that disagrees with a strict re-encoding.
#include "pat/authorization.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <random>
#include <string>

namespace pat {
namespace {

using Scratch = std::array<unsigned char, kCredentialsScratchSize>;

std::string base64(std::string_view raw) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < raw.size(); i += 3) {
        const unsigned v = static_cast<unsigned char>(raw[i]) << 16 | static_cast<unsigned char>(raw[i + 1]) << 8 |
                           static_cast<unsigned char>(raw[i + 2]);
        for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
    }
    if (raw.size() - i == 1) {
        const unsigned v = static_cast<unsigned char>(raw[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += "==";
    } else if (raw.size() - i == 2) {
        const unsigned v = static_cast<unsigned char>(raw[i]) << 16 | static_cast<unsigned char>(raw[i + 1]) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

AuthorizationError parse(std::string_view header, AuthorizationCredentials& out, Scratch& scratch) {
    return parse_authorization(header, scratch, out);
}

TEST(AuthorizationHeader, BearerToken) {
    Scratch scratch;
    AuthorizationCredentials c;
    ASSERT_EQ(parse("Bearer npat_abc", c, scratch), AuthorizationError::none);
    EXPECT_EQ(c.scheme, AuthScheme::bearer);
    EXPECT_EQ(c.token, "npat_abc");
    EXPECT_TRUE(c.user.empty());
}

TEST(AuthorizationHeader, BasicUserAndToken) {
    Scratch scratch;
    AuthorizationCredentials c;
    ASSERT_EQ(parse("Basic " + base64("alice:npat_x"), c, scratch), AuthorizationError::none);
    EXPECT_EQ(c.scheme, AuthScheme::basic);
    EXPECT_EQ(c.user, "alice");
    EXPECT_EQ(c.token, "npat_x");
}

// "<token>:" (curl -u TOKEN:, git's https://TOKEN@host/): the user name is
// the token. It comes out as the token, never as a user name, and any
// token-looking user name with a password is refused without handing it out.
TEST(AuthorizationHeader, TokenAsUserName) {
    const std::string token = "npat_" + std::string(43, 'A') + "123456";
    Scratch scratch;
    AuthorizationCredentials c;
    ASSERT_EQ(parse("Basic " + base64(token + ":"), c, scratch), AuthorizationError::none);
    EXPECT_EQ(c.scheme, AuthScheme::basic);
    EXPECT_TRUE(c.token_as_user);
    EXPECT_EQ(c.token, token);
    EXPECT_TRUE(c.user.empty());

    std::string lowered = token;
    for (char& ch : lowered) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const std::string& user : {token, lowered, "NPAT_" + token.substr(5), "x" + token}) {
        ASSERT_EQ(parse("Basic " + base64(user + ":"), c, scratch), AuthorizationError::none) << user;
        EXPECT_TRUE(c.token_as_user);
        EXPECT_EQ(c.token, user);
        EXPECT_TRUE(c.user.empty());
        for (const std::string& password : {std::string("x-oauth-basic"), token, std::string("pw")}) {
            EXPECT_EQ(parse("Basic " + base64(user + ":" + password), c, scratch),
                      AuthorizationError::token_as_user_with_password);
            EXPECT_TRUE(c.user.empty());
            EXPECT_TRUE(c.token.empty());
        }
    }
    // Too short or without the prefix: an ordinary user name.
    for (const std::string& user : {std::string("npat_alice"), std::string(54, 'a'), token.substr(1)}) {
        ASSERT_EQ(parse("Basic " + base64(user + ":pw"), c, scratch), AuthorizationError::none) << user;
        EXPECT_FALSE(c.token_as_user);
        EXPECT_EQ(c.user, user);
    }
    const std::string_view why = authorization_error_name(AuthorizationError::token_as_user_with_password);
    EXPECT_NE(why.find("a token was sent as the user name"), std::string_view::npos);
}

TEST(AuthorizationHeader, EveryPaddingLength) {
    for (std::string user : {"a", "ab", "abc"}) {
        Scratch scratch;
        AuthorizationCredentials c;
        ASSERT_EQ(parse("Basic " + base64(user + ":t"), c, scratch), AuthorizationError::none) << user;
        EXPECT_EQ(c.user, user);
        EXPECT_EQ(c.token, "t");
    }
}

TEST(AuthorizationHeader, TokenMayContainColons) {
    Scratch scratch;
    AuthorizationCredentials c;
    ASSERT_EQ(parse("Basic " + base64("alice:a:b"), c, scratch), AuthorizationError::none);
    EXPECT_EQ(c.user, "alice");
    EXPECT_EQ(c.token, "a:b");
}

TEST(AuthorizationHeader, SchemeIsCaseInsensitiveAndSpacesMayRepeat) {
    Scratch scratch;
    AuthorizationCredentials c;
    EXPECT_EQ(parse("bEaReR   tok", c, scratch), AuthorizationError::none);
    EXPECT_EQ(c.token, "tok");
    EXPECT_EQ(parse("BASIC " + base64("u:t"), c, scratch), AuthorizationError::none);
}

TEST(AuthorizationHeader, Refusals) {
    const std::string good = base64("alice:tok");
    const std::pair<std::string, AuthorizationError> cases[] = {
        {"", AuthorizationError::unknown_scheme},
        {"Basic", AuthorizationError::missing_credentials},
        {"Bearer ", AuthorizationError::missing_credentials},
        {"Token abc", AuthorizationError::unknown_scheme},
        {"Basicx " + good, AuthorizationError::unknown_scheme},
        {" Basic " + good, AuthorizationError::unknown_scheme},
        {"Bearer a b", AuthorizationError::extra_words},
        {"Bearer a\tb", AuthorizationError::extra_words},
        {"Basic " + good + " x", AuthorizationError::extra_words},
        {std::string("Bearer a\0b", 10), AuthorizationError::nul_byte},
        {"Basic !!!!", AuthorizationError::bad_base64},
        {"Basic " + good.substr(0, good.size() - 1), AuthorizationError::bad_base64},
        {"Basic " + good + "====", AuthorizationError::bad_base64},
        {"Basic " + base64("a:b").substr(0, 3) + "=", AuthorizationError::bad_base64},
        {"Basic QQ=A", AuthorizationError::bad_base64},
        {"Basic QR==", AuthorizationError::bad_base64},  // non-zero unused bits
        {"Basic QUI=", AuthorizationError::no_colon},    // "AB"
        {"Basic QUJ=", AuthorizationError::bad_base64},  // non-zero unused bits
        {"Basic " + base64("alicetok"), AuthorizationError::no_colon},
        {"Basic " + base64(":tok"), AuthorizationError::empty_user},
        {"Basic " + base64(std::string("al\0ice:tok", 10)), AuthorizationError::nul_byte},
        {"Bearer " + std::string(kMaxAuthorizationLength, 'a'), AuthorizationError::too_long},
    };
    for (const auto& [header, expected] : cases) {
        Scratch scratch;
        AuthorizationCredentials c;
        EXPECT_EQ(parse(header, c, scratch), expected) << header;
    }
}

TEST(AuthorizationHeader, LongestAcceptedBasicFitsTheScratch) {
    // The longest header: "Basic " and 4090 characters, 4088 of them base64.
    const std::size_t raw_length = (kMaxAuthorizationLength - 6) / 4 * 3;
    const std::string raw = "u:" + std::string(raw_length - 2, 't');
    const std::string header = "Basic " + base64(raw);
    ASSERT_LE(header.size(), kMaxAuthorizationLength);
    ASSERT_LE(raw.size(), kCredentialsScratchSize);
    Scratch scratch;
    AuthorizationCredentials c;
    ASSERT_EQ(parse(header, c, scratch), AuthorizationError::none);
    EXPECT_EQ(c.token.size(), raw.size() - 2);
}

// Random headers: never a crash, and whatever is accepted as Basic
// re-encodes to exactly what was sent (one accepted encoding per value).
TEST(AuthorizationHeader, RandomInputIsAcceptedOnlyInCanonicalForm) {
    std::mt19937 random(12345);
    static constexpr char kBytes[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= :\t\0\x80\xff";
    const std::string alphabet(kBytes, sizeof kBytes - 1);
    int accepted_basic = 0;
    for (int round = 0; round < 200000; ++round) {
        std::string header;
        if (round % 2 == 0) {
            // A valid encoding of random bytes with one character changed.
            std::string raw;
            const std::size_t length = 1 + random() % 12;
            for (std::size_t i = 0; i < length; ++i) raw += static_cast<char>(random() % 256);
            std::string encoded = base64(raw);
            encoded[random() % encoded.size()] = alphabet[random() % alphabet.size()];
            header = "Basic " + encoded;
        } else {
            header = (round % 4 == 1) ? "Basic " : "Bearer ";
            const std::size_t length = random() % 24;
            for (std::size_t i = 0; i < length; ++i) header += alphabet[random() % alphabet.size()];
        }
        Scratch scratch;
        AuthorizationCredentials c;
        if (parse(header, c, scratch) != AuthorizationError::none) continue;
        if (c.scheme == AuthScheme::basic) {
            ++accepted_basic;
            const std::string decoded =
                c.token_as_user ? std::string(c.token) + ":" : std::string(c.user) + ":" + std::string(c.token);
            const std::string sent = header.substr(header.find_first_not_of(' ', 5));
            EXPECT_EQ(base64(decoded), sent);
            EXPECT_EQ(c.user.empty(), c.token_as_user);
            EXPECT_EQ(decoded.find('\0'), std::string::npos);
        } else {
            EXPECT_EQ(c.token.find_first_of(std::string(" \t\0", 3)), std::string_view::npos);
        }
    }
    EXPECT_GT(accepted_basic, 100);  // the invariants above were really exercised
}

}  // namespace
}  // namespace pat
