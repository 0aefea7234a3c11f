// Binary records of the store (schema 1), and the keys of the grant tables.
//
// Every record starts with a format byte. Decoders treat the bytes as
// untrusted input — the store file is input too — and check every length
// before reading; a record that does not decode exactly is an error, never
// undefined behaviour. Decoded views borrow the record's bytes (LMDB's
// memory map during a read transaction), so decoding allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pat/password.hpp"
#include "pat/permission.hpp"

namespace pat::records {

inline constexpr std::uint8_t kUserFormat = 1;
inline constexpr std::uint8_t kTokenFormat = 1;

struct UserView {
    bool active = false;
    bool sysadmin = false;
    PasswordHash password;
    std::string_view display_name;
};

struct TokenView {
    bool revoked = false;
    TokenPermissions permissions;
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;
    std::int64_t last_authenticated_ms = 0;
    std::int64_t revoked_ms = 0;
    std::string_view id;
    std::string_view owner;
    std::string_view name;
};

std::string encode_user(const UserView& user);
std::optional<UserView> decode_user(std::string_view bytes);

std::string encode_token(const TokenView& token);
std::optional<TokenView> decode_token(std::string_view bytes);

// Grant keys: user "\0" KEY and user "\0" KEY "/" slug. Names are canonical
// and NUL-free, so the separator is unambiguous and a user's grants form one
// contiguous key range starting at user "\0".
std::string project_grant_key(std::string_view user, std::string_view key);
std::string repo_grant_key(std::string_view user, std::string_view key, std::string_view slug);
// Allocation-free variants for the request path; out must hold
// kMaxGrantKey bytes. Return the key length.
inline constexpr std::size_t kMaxGrantKey = 64 + 1 + 128 + 1 + 128;
std::size_t project_grant_key(std::string_view user, std::string_view key, char* out);
std::size_t repo_grant_key(std::string_view user, std::string_view key, std::string_view slug, char* out);
std::string user_prefix(std::string_view user);  // user "\0"

// A grant's value: one level byte; anything else is corrupt.
std::optional<Level> decode_level(std::string_view bytes);

}  // namespace pat::records
