// The permission model: see include/pat/permission.hpp for the table.
#include "pat/permission.hpp"

#include <cstddef>
#include <string>

namespace pat {

namespace {

bool equals_ignoring_ascii_case(std::string_view text, std::string_view lower_word) {
    if (text.size() != lower_word.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != lower_word[i]) return false;
    }
    return true;
}

// The levels a token may carry; Level::none is not one of them.
bool is_token_level(Level level) {
    return level == Level::read || level == Level::write || level == Level::admin;
}

bool at_least(Level held, Level wanted) {
    return static_cast<std::uint8_t>(held) >= static_cast<std::uint8_t>(wanted);
}

}  // namespace

std::optional<Level> parse_level(std::string_view text) {
    if (equals_ignoring_ascii_case(text, "read")) return Level::read;
    if (equals_ignoring_ascii_case(text, "write")) return Level::write;
    if (equals_ignoring_ascii_case(text, "admin")) return Level::admin;
    return std::nullopt;
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::none: return "none";
        case Level::read: return "read";
        case Level::write: return "write";
        case Level::admin: return "admin";
    }
    return "none";
}

std::optional<Need> parse_need(std::string_view text) {
    // Every need but unrecognised_route, which a caller never asks for.
    for (Need need : kAllNeeds) {
        if (need == Need::unrecognised_route) continue;
        if (text == need_name(need)) return need;
    }
    return std::nullopt;
}

std::string_view need_name(Need need) {
    switch (need) {
        case Need::authenticated: return "authenticated";
        case Need::repo_read: return "repo-read";
        case Need::repo_write: return "repo-write";
        case Need::repo_admin: return "repo-admin";
        case Need::project_read: return "project-read";
        case Need::project_write: return "project-write";
        case Need::project_admin: return "project-admin";
        case Need::repo_fork: return "repo-fork";
        case Need::sysadmin: return "sysadmin";
        case Need::unrecognised_route: return "unrecognised-route";
    }
    return "unrecognised-route";
}

bool is_repo_need(Need need) {
    return need == Need::repo_read || need == Need::repo_write || need == Need::repo_admin || need == Need::repo_fork;
}

bool is_project_need(Need need) {
    return need == Need::project_read || need == Need::project_write || need == Need::project_admin;
}

Level user_level_required(Need need) {
    switch (need) {
        case Need::repo_read:
        case Need::project_read:
        // Forking reads the source; the target project is the git server's check.
        case Need::repo_fork: return Level::read;
        case Need::repo_write:
        case Need::project_write: return Level::write;
        case Need::repo_admin:
        case Need::project_admin:
        case Need::sysadmin: return Level::admin;
        // No target: nothing the user holds matters. unrecognised_route is
        // refused by token_allows whatever the user holds.
        case Need::authenticated:
        case Need::unrecognised_route: return Level::none;
    }
    return Level::admin;
}

Status validate_token_permissions(TokenPermissions permissions) {
    if (!is_token_level(permissions.project) || !is_token_level(permissions.repo)) {
        return {StatusCode::invalid_argument, "token permissions must be read, write or admin (project " +
                                                  std::string(level_name(permissions.project)) + ", repository " +
                                                  std::string(level_name(permissions.repo)) + ")"};
    }
    if (!at_least(permissions.repo, permissions.project)) {
        return {StatusCode::invalid_argument,
                "project " + std::string(level_name(permissions.project)) + " with repository " +
                    std::string(level_name(permissions.repo)) +
                    " is not allowed: a token's repository permission must be at least its "
                    "project permission"};
    }
    return Status::success();
}

bool token_allows(TokenPermissions permissions, Need need) {
    // A pair outside the table (a corrupt record) allows nothing: fail closed.
    if (!validate_token_permissions(permissions).ok()) return false;
    switch (need) {
        case Need::authenticated: return true;
        case Need::repo_read: return at_least(permissions.repo, Level::read);
        case Need::repo_write: return at_least(permissions.repo, Level::write);
        case Need::repo_admin: return at_least(permissions.repo, Level::admin);
        case Need::project_read: return at_least(permissions.project, Level::read);
        case Need::project_write: return at_least(permissions.project, Level::write);
        case Need::project_admin: return at_least(permissions.project, Level::admin);
        // Bitbucket grants "create and fork repositories" with project admin.
        case Need::repo_fork: return permissions.project == Level::admin;
        // The highest level the model has (project admin implies repo admin).
        case Need::sysadmin: return permissions.project == Level::admin && permissions.repo == Level::admin;
        case Need::unrecognised_route: return false;
    }
    return false;
}

std::string_view bitbucket_project_permission_name(Level level) {
    switch (level) {
        case Level::read: return "PROJECT_READ";
        case Level::write: return "PROJECT_WRITE";
        case Level::admin: return "PROJECT_ADMIN";
        case Level::none: return "";
    }
    return "";
}

std::string_view bitbucket_repo_permission_name(Level level) {
    switch (level) {
        case Level::read: return "REPO_READ";
        case Level::write: return "REPO_WRITE";
        case Level::admin: return "REPO_ADMIN";
        case Level::none: return "";
    }
    return "";
}

}  // namespace pat
