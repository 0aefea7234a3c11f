// User passwords with scrypt: see include/pat/password.hpp.
#include "pat/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <string>

namespace pat {

namespace {

// Bounds on parameters read back from the store. Today's hashes use
// N = 2^15, r = 8, p = 1; these leave room to raise them, and refuse a
// corrupt record before it makes a worker allocate gigabytes or spin.
constexpr unsigned kMaxLog2N = 20;
constexpr unsigned kMaxR = 32;
constexpr unsigned kMaxP = 16;
constexpr unsigned kMaxRTimesP = 64;
constexpr std::uint64_t kMaxScryptMemory = std::uint64_t{256} << 20;  // 256 MiB

// scrypt's working memory: V is 128 * r * N bytes, B is 128 * r * p bytes.
std::uint64_t scrypt_memory(unsigned log2_n, unsigned r, unsigned p) {
    return 128ULL * r * ((std::uint64_t{1} << log2_n) + 2) + 128ULL * r * p;
}

bool parameters_are_sane(unsigned log2_n, unsigned r, unsigned p) {
    if (log2_n < 1 || log2_n > kMaxLog2N) return false;
    if (r < 1 || r > kMaxR || p < 1 || p > kMaxP || r * p > kMaxRTimesP) return false;
    return scrypt_memory(log2_n, r, p) <= kMaxScryptMemory;
}

// scrypt keys HMAC-SHA256 with the password, and HMAC pads a short key with
// zero bytes: "pw" and "pw\0" would be the same password. No client can send
// a NUL in a password anyway, so refuse it.
bool contains_nul(std::string_view password) {
    return password.find('\0') != std::string_view::npos;
}

bool is_acceptable(std::string_view password) {
    return !password.empty() && password.size() <= kMaxPasswordLength && !contains_nul(password);
}

// Derives the key for password with the parameters and salt in hash.
bool derive_key(std::string_view password, const PasswordHash& hash, std::array<std::uint8_t, 32>& key) {
    const std::uint64_t n = std::uint64_t{1} << hash.log2_n;
    // OpenSSL's default limit (32 MiB) is just below what N = 2^15, r = 8
    // needs; allow what these parameters need plus slack for its bookkeeping.
    const std::uint64_t max_memory = scrypt_memory(hash.log2_n, hash.r, hash.p) + (1U << 20);
    int ok = EVP_PBE_scrypt(password.data(), password.size(), hash.salt.data(), hash.salt.size(), n, hash.r, hash.p,
                            max_memory, key.data(), key.size());
    return ok == 1;
}

}  // namespace

Expected<PasswordHash> hash_password(std::string_view password) {
    if (password.empty()) {
        return Status(StatusCode::invalid_argument, "the password is empty");
    }
    if (password.size() > kMaxPasswordLength) {
        return Status(StatusCode::invalid_argument,
                      "the password is longer than " + std::to_string(kMaxPasswordLength) + " bytes");
    }
    if (contains_nul(password)) {
        return Status(StatusCode::invalid_argument, "the password contains a NUL byte");
    }
    PasswordHash hash;  // the default parameters
    if (RAND_bytes(hash.salt.data(), static_cast<int>(hash.salt.size())) != 1) {
        return Status(StatusCode::store_error, "the system random number generator failed");
    }
    if (!derive_key(password, hash, hash.key)) {
        OPENSSL_cleanse(hash.key.data(), hash.key.size());
        return Status(StatusCode::store_error, "scrypt failed (out of memory?)");
    }
    return hash;
}

bool verify_password(std::string_view password, const PasswordHash& stored) {
    // No stored hash can match a password hash_password would refuse.
    if (!is_acceptable(password)) return false;
    if (!parameters_are_sane(stored.log2_n, stored.r, stored.p)) return false;
    std::array<std::uint8_t, 32> derived{};
    bool matches =
        derive_key(password, stored, derived) && CRYPTO_memcmp(derived.data(), stored.key.data(), derived.size()) == 0;
    OPENSSL_cleanse(derived.data(), derived.size());
    return matches;
}

}  // namespace pat
