// The permission model: levels, the six needs a request can have, and the
// token permission table (Bitbucket Server's personal access tokens).
//
//   token: project / repository ->  repo read   repo write   repo admin
//   project read                     allowed     allowed      allowed
//   project write                    -           allowed      allowed
//   project admin                    -           -            allowed
//
// A token's repository level is never below its project level.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "pat/status.hpp"

namespace pat {

// Ordered: a higher level includes everything a lower one allows.
enum class Level : std::uint8_t { none = 0, read = 1, write = 2, admin = 3 };

// What a request needs, derived from its route.
enum class Need : std::uint8_t {
    authenticated,  // a valid token of the right user, nothing more
    repo_read,
    repo_write,
    repo_admin,
    project_read,
    project_write,
    project_admin,
    // Fork a repository: the token needs project admin (Bitbucket: "create
    // and fork repositories") and the user must be able to read the source.
    // The target project is named in the request body; the git server checks
    // the user's rights there.
    repo_fork,
    // A global administration resource (Bitbucket's ADMIN and SYS_ADMIN
    // permissions): the user must be a sysadmin and the token at its highest
    // level, project admin (hence repository admin). Personal access tokens
    // have no global scope of their own in Bitbucket; a token restricts its
    // user and never extends it, so a sysadmin's read or write token is
    // refused here.
    sysadmin,
    // A route no classifier recognises: the token is authenticated (so a bad
    // one still gets 401) and then refused with 403.
    unrecognised_route,
};

inline constexpr Need kAllNeeds[] = {
    Need::authenticated, Need::repo_read,     Need::repo_write, Need::repo_admin, Need::project_read,
    Need::project_write, Need::project_admin, Need::repo_fork,  Need::sysadmin,   Need::unrecognised_route};

struct TokenPermissions {
    Level project = Level::admin;
    Level repo = Level::admin;

    friend bool operator==(const TokenPermissions&, const TokenPermissions&) = default;
};

// "read" / "write" / "admin" (case-insensitive); nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);
std::string_view level_name(Level level);  // "none", "read", "write", "admin"

// "repo-read" ... "project-admin", "repo-fork", "sysadmin", "authenticated"; nullopt
// otherwise ("unrecognised-route" is never parsed: it is not a choice).
std::optional<Need> parse_need(std::string_view text);
std::string_view need_name(Need need);

bool is_repo_need(Need need);     // repo_read, repo_write, repo_admin, repo_fork
bool is_project_need(Need need);  // project_read, project_write, project_admin
// The level the user must hold on the target (none for authenticated; admin
// for sysadmin, which only the sysadmin flag gives: it has no target).
Level user_level_required(Need need);

// Ok when the pair is one of the six cells of the table; otherwise an
// invalid_argument Status whose message states the rule.
Status validate_token_permissions(TokenPermissions permissions);

// Does the token's own permission set allow this need? (Not capped by the user.)
bool token_allows(TokenPermissions permissions, Need need);

// Bitbucket's permission names: "PROJECT_READ", "REPO_ADMIN", ...
std::string_view bitbucket_project_permission_name(Level level);
std::string_view bitbucket_repo_permission_name(Level level);

}  // namespace pat
