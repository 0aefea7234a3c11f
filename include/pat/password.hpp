// User passwords, hashed with scrypt (OpenSSL's EVP_PBE_scrypt).
//
// Parameters: N = 2^15, r = 8, p = 1 (32 MiB, tens of milliseconds), a 16-byte
// random salt and a 32-byte key. They are stored with each hash so they can be
// raised later without invalidating existing passwords.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "pat/status.hpp"

namespace pat {

struct PasswordHash {
    std::uint8_t log2_n = 15;
    std::uint8_t r = 8;
    std::uint8_t p = 1;
    std::array<std::uint8_t, 16> salt{};
    std::array<std::uint8_t, 32> key{};

    friend bool operator==(const PasswordHash&, const PasswordHash&) = default;
};

inline constexpr std::size_t kMaxPasswordLength = 1024;

// Refuses an empty password, one longer than kMaxPasswordLength, or one with
// a NUL byte (HMAC would make "pw" and "pw\0" the same password).
Expected<PasswordHash> hash_password(std::string_view password);

// Constant-time comparison of the derived key. False for absurd stored
// parameters (a corrupt record) rather than burning unbounded memory.
bool verify_password(std::string_view password, const PasswordHash& stored);

}  // namespace pat
