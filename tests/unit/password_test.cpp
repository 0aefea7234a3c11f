// Password hashing with scrypt.
#include "pat/password.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <string>
#include <string_view>

namespace pat {
namespace {

// Computes scrypt straight through OpenSSL, to check that the stored hash is
// standard scrypt over the stored salt and parameters.
std::array<std::uint8_t, 32> reference_scrypt(std::string_view password, const PasswordHash& hash) {
    std::array<std::uint8_t, 32> key{};
    const std::uint64_t n = std::uint64_t{1} << hash.log2_n;
    const std::uint64_t max_memory = 2 * 128ULL * hash.r * n + 128ULL * hash.r * hash.p + (1U << 20);
    EXPECT_EQ(EVP_PBE_scrypt(password.data(), password.size(), hash.salt.data(), hash.salt.size(), n, hash.r, hash.p,
                             max_memory, key.data(), key.size()),
              1);
    return key;
}

// Hashing costs tens of milliseconds: share one hash between the tests.
class PasswordTest : public ::testing::Test {
   protected:
    static void SetUpTestSuite() {
        Expected<PasswordHash> hash = hash_password(kPassword);
        ASSERT_TRUE(hash.ok()) << hash.status().message();
        stored_ = new PasswordHash(*hash);
    }
    static void TearDownTestSuite() {
        delete stored_;
        stored_ = nullptr;
    }

    static constexpr std::string_view kPassword = "correct horse battery staple";
    static PasswordHash* stored_;
};
PasswordHash* PasswordTest::stored_ = nullptr;

TEST_F(PasswordTest, DefaultParameters) {
    EXPECT_EQ(stored_->log2_n, 15);
    EXPECT_EQ(stored_->r, 8);
    EXPECT_EQ(stored_->p, 1);
}

TEST_F(PasswordTest, KeyIsStandardScryptOverTheStoredSaltAndParameters) {
    EXPECT_EQ(stored_->key, reference_scrypt(kPassword, *stored_));
}

TEST_F(PasswordTest, RightPasswordVerifies) {
    EXPECT_TRUE(verify_password(kPassword, *stored_));
}

TEST_F(PasswordTest, WrongPasswordsDoNot) {
    for (std::string_view wrong :
         {"correct horse battery stapl", "correct horse battery staple\n", "Correct horse battery staple"}) {
        EXPECT_FALSE(verify_password(wrong, *stored_)) << wrong;
    }
}

TEST_F(PasswordTest, TrailingNulIsNotTheSamePassword) {
    // Plain scrypt would accept this: HMAC pads its key with zero bytes.
    using namespace std::string_view_literals;
    EXPECT_FALSE(verify_password("correct horse battery staple\0"sv, *stored_));
    EXPECT_FALSE(verify_password("correct horse battery staple\0\0"sv, *stored_));
    Expected<PasswordHash> with_nul = hash_password("pass\0word"sv);
    ASSERT_FALSE(with_nul.ok());
    EXPECT_EQ(with_nul.status().code(), StatusCode::invalid_argument);
}

TEST_F(PasswordTest, SaltIsRandom) {
    Expected<PasswordHash> again = hash_password(kPassword);
    ASSERT_TRUE(again.ok());
    EXPECT_NE(again->salt, stored_->salt);
    EXPECT_NE(again->key, stored_->key);
    EXPECT_TRUE(verify_password(kPassword, *again));
}

TEST_F(PasswordTest, TamperedSaltOrKeyIsRefused) {
    PasswordHash salt_changed = *stored_;
    salt_changed.salt[7] ^= 0x01;
    EXPECT_FALSE(verify_password(kPassword, salt_changed));

    PasswordHash key_changed = *stored_;
    key_changed.key[31] ^= 0x80;
    EXPECT_FALSE(verify_password(kPassword, key_changed));
}

TEST_F(PasswordTest, TamperedParametersAreRefused) {
    PasswordHash lower_n = *stored_;
    lower_n.log2_n = 14;
    EXPECT_FALSE(verify_password(kPassword, lower_n));

    PasswordHash other_r = *stored_;
    other_r.r = 7;
    EXPECT_FALSE(verify_password(kPassword, other_r));

    PasswordHash other_p = *stored_;
    other_p.p = 2;
    EXPECT_FALSE(verify_password(kPassword, other_p));
}

TEST(Password, StoredParametersAreHonoured) {
    // A record written with other (sane) parameters still verifies: they can
    // be raised later without invalidating existing hashes.
    PasswordHash custom;
    custom.log2_n = 10;
    custom.r = 4;
    custom.p = 2;
    for (std::size_t i = 0; i < custom.salt.size(); ++i) custom.salt[i] = static_cast<std::uint8_t>(i);
    custom.key = reference_scrypt("secret", custom);
    EXPECT_TRUE(verify_password("secret", custom));
    EXPECT_FALSE(verify_password("Secret", custom));
}

TEST(Password, EmptyAndTooLongAreRefused) {
    Expected<PasswordHash> empty = hash_password("");
    ASSERT_FALSE(empty.ok());
    EXPECT_EQ(empty.status().code(), StatusCode::invalid_argument);
    EXPECT_FALSE(empty.status().message().empty());

    std::string too_long(kMaxPasswordLength + 1, 'p');
    Expected<PasswordHash> long_hash = hash_password(too_long);
    ASSERT_FALSE(long_hash.ok());
    EXPECT_EQ(long_hash.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(long_hash.status().message().find("1024"), std::string::npos) << long_hash.status().message();
    // The message describes the password; it never contains it.
    EXPECT_EQ(long_hash.status().message().find("pppp"), std::string::npos);
}

TEST(Password, LongestAllowedPasswordWorks) {
    std::string longest(kMaxPasswordLength, 'q');
    Expected<PasswordHash> hash = hash_password(longest);
    ASSERT_TRUE(hash.ok());
    EXPECT_TRUE(verify_password(longest, *hash));

    // Neither empty nor over-long text can ever match, whatever is stored.
    std::string longer = longest + "q";
    EXPECT_FALSE(verify_password(longer, *hash));
    EXPECT_FALSE(verify_password("", *hash));
}

TEST(Password, AbsurdParametersReturnFalseQuickly) {
    PasswordHash base;  // parameters sane by default, key all zero
    struct Params {
        std::uint8_t log2_n, r, p;
    };
    const Params absurd[] = {
        {0, 8, 1},                                 // N = 1
        {21, 8, 1},                                // N above 2^20
        {63, 8, 1},                                // shift of a 64-bit value
        {64, 8, 1},      {255, 8, 1}, {15, 0, 1},  // r = 0
        {15, 33, 1},                               // r above 32
        {15, 255, 1},    {15, 8, 0},               // p = 0
        {15, 8, 17},                               // p above 16
        {15, 8, 255},    {15, 16, 8},              // r * p = 128
        {20, 8, 1},                                // 1 GiB of memory
        {20, 32, 2},                               // 4 GiB
        {255, 255, 255},
    };
    const auto start = std::chrono::steady_clock::now();
    for (const Params& params : absurd) {
        PasswordHash stored = base;
        stored.log2_n = params.log2_n;
        stored.r = params.r;
        stored.p = params.p;
        EXPECT_FALSE(verify_password("anything", stored))
            << int(params.log2_n) << "/" << int(params.r) << "/" << int(params.p);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // Refused before any work: far below the cost of even one real scrypt.
    EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), 20);
}

}  // namespace
}  // namespace pat
