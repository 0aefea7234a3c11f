// Rotation with reuse detection (docs/token-lifecycle.md#rotation).
//
// rotate_token replaces a live token by a new one (new text, new id) with
// the same name and permissions and an expiry of the same number of days,
// in the one write transaction of a creation (write_new_token, so the
// creation's rules apply): the old record stays as a tombstone with the
// rotated flag (decide() refuses it with Reason::rotated from the next
// request on) and both records carry the family, the id of the first token
// of the chain (token record format 2, records.hpp).
//
// Rotating a token that was already rotated away means two parties hold
// the same token (a leak, or a stolen copy rotated by the thief). Every live token
// of the family is revoked (in a transaction that may use the reserve, as
// revocations do), each with a token-family-revoked audit entry, and the
// rotation is refused (invalid_argument: the API's 400). Only rotation
// detects reuse: a request with a rotated token is simply refused.
#include <algorithm>
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"
#include "pat/sign_in.hpp"
#include "pat/token.hpp"
#include "pat/token_policy.hpp"
#include "records.hpp"

namespace pat {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;
constexpr int kMaxRotatedExpiryDays = 3650;  // creation's bound (tokens.cpp)

// The family a token belongs to: its own id until a rotation gave it one.
std::string_view family_of(const records::TokenView& token) {
    return token.family.empty() ? token.id : token.family;
}

// Token id's record, whether live or rotated. not_found for an unknown or
// revoked token and for another owner's (no existence leak).
Expected<FoundToken> find_rotatable(kv::Txn& txn, std::string_view id, std::string_view owner) {
    auto found = find_token_record(txn, id);
    if (!found) return found.status();
    const records::TokenView view = found->view();
    if (view.revoked || (!owner.empty() && view.owner != owner)) return token_not_found(id);
    return found;
}

// The old token's expiry as a number of days for the new one: the span
// from its creation to its expiry, rounded up (creation makes whole days),
// within creation's bounds; nullopt when it never expired.
std::optional<int> same_span_days(const records::TokenView& token) {
    if (token.expires_ms == 0) return std::nullopt;
    const std::int64_t span = token.expires_ms - token.created_ms;
    const std::int64_t days = span <= 0 ? 1 : (span + kMsPerDay - 1) / kMsPerDay;
    return static_cast<int>(std::min<std::int64_t>(days, kMaxRotatedExpiryDays));
}

// Reuse: revokes every live token of family (the owner's tokens only: a
// family never leaves its owner) and audits each. Returns their ids.
Expected<std::vector<std::string>> revoke_family(Store::Impl& impl, const std::string& owner, std::string_view reused,
                                                 const std::string& family, std::int64_t now,
                                                 const AuditContext& audit) {
    std::vector<std::string> revoked;
    Status written = run_write(
        impl,
        [&](kv::Txn& txn) -> Status {
            revoked.clear();
            std::vector<std::string> ids;
            Status failure;
            int rc = txn.scan(kv::Table::user_tokens, records::user_prefix(owner),
                              [&](std::string_view key, std::string_view) {
                                  ids.emplace_back(key.substr(owner.size() + 1));
                                  return true;
                              });
            if (rc != 0) return kv_error(txn, "read tokens", rc);
            const std::string detail =
                "family " + family + ": rotated token " + std::string(reused) + " was rotated again";
            for (const std::string& id : ids) {
                auto found = find_rotatable(txn, id, owner);
                if (!found) {
                    if (found.status().code() == StatusCode::not_found) continue;
                    return found.status();
                }
                records::TokenView token = found->view();
                if (token.rotated || family_of(token) != family) continue;
                token.revoked = true;
                token.revoked_ms = now;
                rc = txn.put(kv::Table::tokens, found->digest, records::encode_token(token));
                if (rc != 0) return kv_error(txn, "write token", rc);
                if (Status s = append_audit(impl, txn, AuditAction::token_family_revoked, audit, owner, id, detail);
                    !s.ok())
                    return s;
                revoked.push_back(id);
            }
            if (revoked.empty()) {
                // Nothing left to revoke: the reuse is still on record.
                return append_audit(impl, txn, AuditAction::token_family_revoked, audit, owner, reused,
                                    detail + "; no live token left");
            }
            return Status::success();
        },
        Space::reserve);  // takes access away: works on a full store
    if (!written.ok()) return written;
    forget_usage(impl, revoked);
    return revoked;
}

// The old token's span, within the token policy: at most its maximum of
// days; "never" where an expiry is required becomes the longest allowed.
std::optional<int> expiry_within_policy(std::optional<int> span_days, const TokenPolicy& policy) {
    if (policy.max_expiry_days && (!span_days || *span_days > *policy.max_expiry_days)) return policy.max_expiry_days;
    if (policy.require_expiry && !span_days) return kMaxPolicyExpiryDays;
    return span_days;
}

Status reuse_refusal(std::string_view id, const std::vector<std::string>& revoked) {
    std::string message = "token " + std::string(id) +
                          " was already rotated: rotating it again means someone else may hold it, so every "
                          "token of its family is revoked";
    if (revoked.empty()) {
        message += " (none was left)";
    } else {
        message += " (";
        for (std::size_t i = 0; i < revoked.size(); ++i) message += (i == 0 ? "" : ", ") + revoked[i];
        message += ")";
    }
    return {StatusCode::invalid_argument, message};
}

Expected<CreatedToken> rotate(Store::Impl& impl, const std::string& owner, std::string_view id, std::int64_t now,
                              const AuditContext& audit) {
    std::string name, family;
    TokenPermissions permissions;
    std::optional<int> expiry_days;
    bool already_rotated = false;
    {
        auto reading = impl.engine->read();
        if (!reading) return reading.status();
        auto found = find_rotatable(**reading, id, owner);
        if (!found) return found.status();
        const records::TokenView old = found->view();
        name = old.name;
        family = family_of(old);
        permissions = old.permissions;
        already_rotated = old.rotated;
        TokenPolicy policy;
        if (Status s = read_token_policy(**reading, policy); !s.ok()) return s;
        expiry_days = expiry_within_policy(same_span_days(old), policy);
    }
    if (!already_rotated) {
        // write_new_token applies the creation rules, the policy's included
        // (creation disabled refuses a rotation too; the old token, retired
        // first, does not count against the maximum of live tokens).
        bool reused_meanwhile = false;
        const std::string old_id(id);
        auto created =
            write_new_token(impl, owner, name, permissions, expiry_days, now, audit,
                            [&](kv::Txn& txn, records::TokenView& successor) -> Status {
                                // Again inside the transaction: another rotation may have come first.
                                auto found = find_rotatable(txn, old_id, owner);
                                if (!found) return found.status();
                                records::TokenView old = found->view();
                                if (old.rotated) {
                                    reused_meanwhile = true;
                                    return {StatusCode::invalid_argument, "token " + old_id + " was rotated meanwhile"};
                                }
                                old.rotated = true;
                                old.revoked_ms = now;  // when it was retired
                                old.family = family;
                                successor.family = family;
                                int rc = txn.put(kv::Table::tokens, found->digest, records::encode_token(old));
                                if (rc != 0) return kv_error(txn, "write token", rc);
                                return append_audit(impl, txn, AuditAction::token_rotated, audit, owner, old_id,
                                                    "replaced by " + std::string(successor.id) + " family " + family);
                            });
        if (created) {
            forget_usage(impl, {old_id});
            return created;
        }
        if (!reused_meanwhile) return created.status();
    }
    auto revoked = revoke_family(impl, owner, id, family, now, audit);
    if (!revoked) return revoked.status();
    return reuse_refusal(id, *revoked);
}

}  // namespace

Expected<CreatedToken> Store::rotate_token(std::string_view raw_owner, std::string_view password, std::string_view id,
                                           std::int64_t now, const AuditContext& audit) {
    auto owner = canonical_user_name(raw_owner);
    if (!owner) return owner.status();
    // Only the owner's password rotates, as only it creates.
    if (Status s = authenticate_user(*owner, password, audit); !s.ok()) return s;
    return rotate(*impl_, *owner, id, now, audit);
}

Expected<CreatedToken> Store::rotate_token(const SignIn& signed_in, std::string_view id, std::int64_t now,
                                           const AuditContext& audit) {
    if (!signed_in.ok()) return Status{StatusCode::refused, "wrong user name or password"};
    return rotate(*impl_, signed_in.user().name, id, now, audit);
}

Expected<std::string> Store::rotation_owner(std::string_view id) {
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    auto found = find_rotatable(**reading, id, {});
    if (!found) return found.status();
    return std::string(found->view().owner);
}

}  // namespace pat
