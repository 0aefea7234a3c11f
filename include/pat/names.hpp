// Validation and canonical forms of user names, project keys and repository
// slugs. Everything stored is canonical, so a lookup is a byte comparison.
//
//   user name   [A-Za-z0-9][A-Za-z0-9_.-]*, 1..64 chars, canonical lower case
//   project key [A-Za-z][A-Za-z0-9_-]*, 1..128 chars, canonical upper case;
//               or a personal project "~" + user name, canonical "~" + UPPER
//   repo slug   [A-Za-z0-9][A-Za-z0-9_.-]*, 1..128 chars, canonical lower case,
//               and never ending in ".git" (that suffix names the same repo)
//   group name  [A-Za-z0-9][A-Za-z0-9_. -]*, 1..128 chars, not ending in a
//               space, canonical lower case (spaces: directory groups such as
//               "Domain Users" keep their names)
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "pat/status.hpp"

namespace pat {

inline constexpr std::size_t kMaxUserName = 64;
inline constexpr std::size_t kMaxProjectKey = 128;
inline constexpr std::size_t kMaxRepoSlug = 128;
inline constexpr std::size_t kMaxGroupName = 128;

bool is_valid_user_name(std::string_view name);
bool is_valid_project_key(std::string_view key);
bool is_valid_repo_slug(std::string_view slug);
bool is_valid_group_name(std::string_view name);

// Write the canonical form into out (which must hold at least the maximum
// length above); return its length, or 0 when the input is invalid. No
// allocation: used on the request path with stack buffers.
std::size_t canonical_user_name(std::string_view name, char* out);
std::size_t canonical_project_key(std::string_view key, char* out);
std::size_t canonical_repo_slug(std::string_view slug, char* out);

// Allocating variants for the CLI and the API; errors state the accepted form.
Expected<std::string> canonical_user_name(std::string_view name);
Expected<std::string> canonical_project_key(std::string_view key);
Expected<std::string> canonical_repo_slug(std::string_view slug);
Expected<std::string> canonical_group_name(std::string_view name);

// The owner of a personal project key "~NAME" (canonical), as a canonical
// user name; empty when the key is not personal.
std::string_view personal_project_owner(std::string_view canonical_key, char* out);

}  // namespace pat
