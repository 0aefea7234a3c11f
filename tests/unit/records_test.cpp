// The record decoders treat stored bytes as untrusted input.
#include "../../src/core/store/records.hpp"

#include <gtest/gtest.h>

#include <random>

namespace pat::records {
namespace {

TokenView sample_token() {
    TokenView token;
    token.permissions = {Level::read, Level::write};
    token.created_ms = 1'700'000'000'000;
    token.expires_ms = 1'800'000'000'000;
    token.last_authenticated_ms = 42;
    token.id = "123456789012";
    token.owner = "alice";
    token.name = "ci \xe2\x9c\x93";
    return token;
}

TEST(Records, TokenRoundTrips) {
    const std::string bytes = encode_token(sample_token());
    auto decoded = decode_token(bytes);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->permissions, (TokenPermissions{Level::read, Level::write}));
    EXPECT_EQ(decoded->created_ms, 1'700'000'000'000);
    EXPECT_EQ(decoded->expires_ms, 1'800'000'000'000);
    EXPECT_EQ(decoded->last_authenticated_ms, 42);
    EXPECT_EQ(decoded->id, "123456789012");
    EXPECT_EQ(decoded->owner, "alice");
    EXPECT_EQ(decoded->name, "ci \xe2\x9c\x93");
    EXPECT_FALSE(decoded->revoked);
}

TEST(Records, UserRoundTrips) {
    UserView user;
    user.active = true;
    user.sysadmin = true;
    user.password.salt.fill(7);
    user.password.key.fill(9);
    user.display_name = "Alice A.";
    const std::string bytes = encode_user(user);  // the decoded view borrows these bytes
    auto decoded = decode_user(bytes);
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(decoded->active);
    EXPECT_TRUE(decoded->sysadmin);
    EXPECT_EQ(decoded->password, user.password);
    EXPECT_EQ(decoded->display_name, "Alice A.");
}

TEST(Records, ADirectoryUserIsAFlagBitAndLocalUsersKeepTheirBytes) {
    UserView user;
    user.active = true;
    user.display_name = "Bob";
    const std::string local = encode_user(user);
    EXPECT_EQ(static_cast<unsigned char>(local[1]), 1u);  // format 1's flags: active only
    auto decoded = decode_user(local);
    ASSERT_TRUE(decoded);
    EXPECT_FALSE(decoded->from_directory);
    user.from_directory = true;
    const std::string directory = encode_user(user);
    EXPECT_EQ(static_cast<unsigned char>(directory[1]), 1u | 4u);
    decoded = decode_user(directory);
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(decoded->from_directory);
    EXPECT_EQ(encode_user(*decoded), directory);
    std::string unknown = directory;
    unknown[1] = static_cast<char>(8);
    EXPECT_FALSE(decode_user(unknown));
}

TEST(Records, EveryTruncationAndExtensionIsRejected) {
    const std::string token = encode_token(sample_token());
    for (std::size_t n = 0; n < token.size(); ++n) EXPECT_FALSE(decode_token(token.substr(0, n))) << n;
    EXPECT_FALSE(decode_token(token + "x"));
    UserView user;
    user.display_name = "x";
    const std::string bytes = encode_user(user);
    for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(decode_user(bytes.substr(0, n))) << n;
    EXPECT_FALSE(decode_user(bytes + "x"));
}

TEST(Records, UnknownFormatsFlagsAndLevelsAreRejected) {
    std::string token = encode_token(sample_token());
    for (std::size_t offset : {0u, 1u, 2u, 3u}) {
        for (int value : {0, 4, 0x80, 0xff}) {
            if (offset == 1 && value == 0) continue;  // flags 0 is valid
            std::string bad = token;
            bad[offset] = static_cast<char>(value);
            EXPECT_FALSE(decode_token(bad)) << offset << " " << value;
        }
    }
    EXPECT_FALSE(decode_level(""));
    EXPECT_FALSE(decode_level("\x00"));
    EXPECT_FALSE(decode_level("\x04"));
    EXPECT_FALSE(decode_level("\x01\x01"));
    EXPECT_EQ(decode_level("\x02"), Level::write);
}

TEST(Records, RandomBytesNeverCrashTheDecoders) {
    std::mt19937 rng(12345);
    for (int i = 0; i < 20000; ++i) {
        std::string bytes(rng() % 96, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        if (i % 2 == 0 && !bytes.empty()) bytes[0] = 1;  // get past the format byte
        auto token = decode_token(bytes);
        if (token) {
            // Anything accepted re-encodes to the same bytes: nothing is skipped.
            EXPECT_EQ(encode_token(*token), bytes);
        }
        auto user = decode_user(bytes);
        if (user) {
            EXPECT_EQ(encode_user(*user), bytes);
        }
    }
}

// Format 2 (rotation): the family, and the rotated flag, which format 1
// does not know; a token without a family keeps format 1's bytes.
TEST(Records, Format2CarriesTheFamilyAndTheRotatedFlag) {
    TokenView token = sample_token();
    const std::string plain = encode_token(token);
    EXPECT_EQ(plain[0], '\x01');
    token.family = "999999999999";
    const std::string successor = encode_token(token);
    EXPECT_EQ(successor[0], '\x02');
    EXPECT_EQ(successor.substr(1, plain.size() - 1), plain.substr(1));  // format 1's fields, then the family
    auto decoded = decode_token(successor);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->family, "999999999999");
    EXPECT_FALSE(decoded->rotated);
    token.rotated = true;
    const std::string retired = encode_token(token);
    decoded = decode_token(retired);
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(decoded->rotated);
    EXPECT_FALSE(decoded->revoked);
    EXPECT_EQ(encode_token(*decoded), retired);
    for (std::size_t n = 0; n < retired.size(); ++n) EXPECT_FALSE(decode_token(retired.substr(0, n))) << n;
    EXPECT_FALSE(decode_token(retired + "x"));

    // The rotated flag in format 1, format 2 without a family, an unknown
    // flag or format: corrupt (the request path fails closed on them).
    std::string bad = plain;
    bad[1] = '\x02';
    EXPECT_FALSE(decode_token(bad));
    bad = plain;
    bad[0] = '\x02';
    EXPECT_FALSE(decode_token(bad));
    bad.push_back('\0');  // a family of length 0
    EXPECT_FALSE(decode_token(bad));
    bad = retired;
    bad[1] = '\x04';
    EXPECT_FALSE(decode_token(bad));
    bad = retired;
    bad[0] = '\x03';
    EXPECT_FALSE(decode_token(bad));
}

}  // namespace
}  // namespace pat::records
