// The words of the permissions file, shared by its reader and its writer
// (docs/permissions-file.md describes the format).
#pragma once

#include <string_view>

namespace pat::permissions_file {

// The top-level sections.
inline constexpr std::string_view kUsers = "users";
inline constexpr std::string_view kGroups = "groups";
inline constexpr std::string_view kProjects = "projects";

// A user's settings.
inline constexpr std::string_view kDisplayName = "display-name";
inline constexpr std::string_view kSysadmin = "sysadmin";
inline constexpr std::string_view kDisabled = "disabled";

// A project's or a repository's settings (users and groups: the grants of
// users and groups, name: level).
inline constexpr std::string_view kAllUsers = "all-users";
inline constexpr std::string_view kPublic = "public";
inline constexpr std::string_view kRepos = "repos";

}  // namespace pat::permissions_file
