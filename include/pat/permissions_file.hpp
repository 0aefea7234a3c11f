// The permissions file (patctl apply / export): users, groups, memberships,
// grants, all-users defaults and public access as one YAML document a
// sysadmin writes by hand. The format is described in
// docs/permissions-file.md.
//
// The code lives in src/permissions_file/, outside src/core: it needs
// yaml-cpp, which the nginx module (it compiles src/core whole) must not.
// patctl and the unit tests link it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "pat/status.hpp"
#include "pat/store.hpp"

namespace pat {

// The largest file parse_permissions_file reads, and the deepest nesting of
// collections (the format needs 6; yaml-cpp's own guard stops at 2000 and
// recurses that deep first, so the check is made on its events before a
// tree is built).
inline constexpr std::size_t kMaxPermissionsFileSize = std::size_t{16} << 20;
inline constexpr std::size_t kMaxPermissionsFileDepth = 16;

// Reads a permissions file. Names come back canonical, in the file's order,
// each entry with the line that names it (PermissionsState::User::line,
// Member::line, GrantInfo::line, PublicTarget::line, Group::line). Checks
// the form of everything (keys, types, names, levels, duplicates after
// canonicalisation); whether a member or grantee exists is Store::apply's
// to say. An error is one line, "line N: WHAT (WHAT IS ACCEPTED)", with
// status invalid_argument. Never throws.
Expected<PermissionsState> parse_permissions_file(std::string_view text);

// The state as a permissions file: canonical and sorted (the same state
// gives the same bytes, whatever its order), lines ignored. For a state of
// canonical names, parse_permissions_file(write_permissions_file(s)) is s,
// sorted. Allocation failure aside, never throws.
std::string write_permissions_file(const PermissionsState& state);

}  // namespace pat
