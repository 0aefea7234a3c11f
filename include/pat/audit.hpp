// The audit trail: every change to users, grants and tokens, and every
// failed password, recorded in the same write transaction as the change
// (so the trail never disagrees with the store). Never a secret: token ids,
// not tokens; the fact of a password failure, not the password.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pat {

enum class AuditAction : std::uint8_t {
    user_added = 1,
    user_deleted,
    user_disabled,
    user_enabled,
    password_changed,
    password_failed,
    grant_set,
    grant_removed,
    token_created,
    token_modified,
    token_revoked,
};
std::string_view audit_action_name(AuditAction action);  // "token-created", ...

// Who made a change and from where: "patctl" with the Unix user for the CLI,
// the signed-in user and the client address for the management API.
struct AuditContext {
    std::string actor;    // empty: "system"
    std::string address;  // empty: "local"
};

struct AuditEntry {
    std::int64_t time_ms = 0;
    AuditAction action = AuditAction::user_added;
    std::string actor;
    std::string address;
    std::string user;      // the user the change is about
    std::string token_id;  // empty unless a token is concerned
    std::string detail;    // e.g. "project WORK read", "repo:write project:read"
};

}  // namespace pat
