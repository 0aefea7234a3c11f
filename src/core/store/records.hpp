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
// Format 2 (issue 16, rotation): format 1's fields, then the token's family.
// Written only for a token that has a family (made by or retired by a
// rotation); every other token keeps format 1's bytes (see encode_token).
inline constexpr std::uint8_t kTokenFormatFamily = 2;

// The password of a user who has none (log2 N of 0 is outside the sane
// range, so verify_password never accepts anything against it).
inline constexpr PasswordHash kNoPassword{0, 0, 0, {}, {}};

struct UserView {
    bool active = false;
    bool sysadmin = false;
    // Made by the directory (first sign-in or `directory sync`): a flag bit
    // of format 1, so that local users' records keep their bytes.
    bool from_directory = false;
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
    // Rotation (format 2): rotated is set on a token a rotation replaced
    // (refused with Reason::rotated; rotating it again revokes the family);
    // family is the id of the first token of the rotation chain, on every
    // token of the chain. Empty (format 1): never rotated, nor made by one.
    bool rotated = false;
    std::string_view family;
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

// Keys of the schema-2 tables: NAME "\0" TARGET, where TARGET is KEY or
// KEY "/" slug (the grants keys are the same with a user as NAME).
std::string target_key(std::string_view key, std::string_view slug);   // KEY or KEY/slug
std::string pair_key(std::string_view name, std::string_view second);  // name "\0" second
// Splits a pair key; false when it has no separator.
bool split_pair_key(std::string_view pair, std::string_view& name, std::string_view& second);
// Splits a target into KEY and slug (empty for a project).
void split_target(std::string_view target, std::string_view& key, std::string_view& slug);
// Allocation-free target key for the request path; out holds kMaxGrantKey.
std::size_t target_key(std::string_view key, std::string_view slug, char* out);

// group: format | source (0: made here; 1: the directory)
inline constexpr std::uint8_t kGroupFormat = 1;
struct GroupView {
    std::uint8_t source = 0;
};
std::string encode_group(const GroupView& group);
std::optional<GroupView> decode_group(std::string_view bytes);

// everyone (a project's or repository's defaults): all-users level (0 for
// none) | flags (1: public). Never both empty: such a row is deleted.
struct EveryoneView {
    Level all_users = Level::none;
    bool is_public = false;
};
std::string encode_everyone(const EveryoneView& everyone);
std::optional<EveryoneView> decode_everyone(std::string_view bytes);

// A grant's value: one level byte; anything else is corrupt.
std::optional<Level> decode_level(std::string_view bytes);

}  // namespace pat::records
