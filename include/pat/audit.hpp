// The audit trail: every change to users, grants and tokens, recorded in the
// same write transaction as the change (so the trail never disagrees with
// the store), and the failed passwords, counted per user, actor, address and
// hour in a table of bounded size (a failure needs no sign-in, so it must
// not grow the store; see src/core/store/audit.cpp). Never a secret: token
// ids, not tokens; the fact of a password failure, not the password.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pat {

// The most rows the failed sign-ins table holds (one per user, actor,
// address and hour); a new row beyond it evicts the least recent of the
// oldest hour. At most about 230 bytes a row: under 300 KiB in all.
inline constexpr std::size_t kMaxSignInFailureRows = 1024;

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
    audit_pruned,
    // Schema 2: groups, public access, apply.
    user_changed,  // display name or sysadmin flag (patctl apply)
    group_added,
    group_deleted,
    member_added,
    member_removed,
    public_set,
    public_removed,
    store_upgraded,
    policy_changed,       // the token policy (pat/token_policy.hpp); detail: what changed, old->new
    token_expiry_warned,  // patctl token notify sent a warning (detail: the threshold and days left)
    // Rotation (issue 16): the replaced token, naming its successor; and
    // one entry per token a reused rotation revoked.
    token_rotated,
    token_family_revoked,
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
    std::string user;         // the user the change is about
    std::string token_id;     // empty unless a token is concerned
    std::string detail;       // e.g. "project WORK read", "repo:write project:read",
                              // "3 failures since 2026-12-01T06:12:03Z" (failures of one hour)
    std::uint32_t count = 1;  // how many times: above 1 only for failed sign-ins
};

}  // namespace pat
