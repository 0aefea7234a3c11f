// The token policy (pat/token_policy.hpp): its record in the meta table,
// its rules at creation, and its changes, audited as policy-changed.
#include <map>
#include <string>

#include "impl.hpp"
#include "pat/token_policy.hpp"
#include "records.hpp"

namespace pat {
namespace {

constexpr std::uint8_t kPolicyFormat = 1;
constexpr std::uint8_t kFlagRequireExpiry = 1;
constexpr std::uint8_t kFlagCreationDisabled = 2;
constexpr std::size_t kPolicyRecordSize = 10;
constexpr std::int64_t kMsPerDay = 86'400'000;

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t take_u32(std::string_view in) {
    std::uint32_t v = 0;
    for (char c : in.substr(0, 4)) v = (v << 8) | static_cast<std::uint8_t>(c);
    return v;
}

std::string yes_no(bool on) {
    return on ? "yes" : "no";
}

std::string maximum(const std::optional<int>& value) {
    return value ? std::to_string(*value) : "none";
}

std::string plural(std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// A maximum that is new or lower than before: existing tokens may exceed it.
bool tightened(const std::optional<int>& before, const std::optional<int>& after) {
    return after && (!before || *after < *before);
}

}  // namespace

Status validate_token_policy(const TokenPolicy& policy) {
    if (policy.max_expiry_days && (*policy.max_expiry_days < 1 || *policy.max_expiry_days > kMaxPolicyExpiryDays)) {
        return {StatusCode::invalid_argument, "the maximum days until expiry is 1 to 3650 (or none)"};
    }
    if (policy.max_tokens_per_user &&
        (*policy.max_tokens_per_user < 1 || *policy.max_tokens_per_user > kMaxPolicyTokensPerUser)) {
        return {StatusCode::invalid_argument, "the maximum of live tokens per user is 1 to 1000000 (or none)"};
    }
    if (policy.max_expiry_days && !policy.require_expiry) {
        return {StatusCode::invalid_argument,
                "a maximum of days until expiry applies only when an expiry is required: require expiry too, "
                "or clear the maximum (none)"};
    }
    return Status::success();
}

Status check_token_policy(const TokenPolicy& policy, std::optional<int> expiry_days) {
    if (!policy.creation_enabled) {
        return {StatusCode::forbidden, "token creation is disabled by the administrator's token policy"};
    }
    if (policy.require_expiry && !expiry_days) {
        std::string message = "the token policy requires an expiry: give the token an expiry of 1 to " +
                              std::to_string(policy.max_expiry_days.value_or(kMaxPolicyExpiryDays)) + " days";
        return {StatusCode::invalid_argument, std::move(message)};
    }
    if (policy.max_expiry_days && expiry_days && *expiry_days > *policy.max_expiry_days) {
        return {StatusCode::invalid_argument,
                "the token policy allows at most " +
                    plural(static_cast<std::size_t>(*policy.max_expiry_days), "day", "days") +
                    " until expiry (asked: " + std::to_string(*expiry_days) + ")"};
    }
    return Status::success();
}

Status token_limit_reached(const TokenPolicy& policy) {
    const auto limit = static_cast<std::size_t>(policy.max_tokens_per_user.value_or(0));
    return {StatusCode::invalid_argument, "the token policy allows at most " +
                                              plural(limit, "live token", "live tokens") +
                                              " per user, and this user has that many: revoke one first"};
}

std::string describe_token_policy(const TokenPolicy& policy) {
    return "require-expiry:" + yes_no(policy.require_expiry) + " max-expiry-days:" + maximum(policy.max_expiry_days) +
           " max-tokens-per-user:" + maximum(policy.max_tokens_per_user) +
           " creation:" + (policy.creation_enabled ? "enabled" : "disabled");
}

std::string describe_token_policy_change(const TokenPolicy& before, const TokenPolicy& after) {
    std::string out;
    auto add = [&](std::string_view name, const std::string& old_value, const std::string& new_value) {
        if (old_value == new_value) return;
        if (!out.empty()) out += ", ";
        out += std::string(name) + ":" + old_value + "->" + new_value;
    };
    add("require-expiry", yes_no(before.require_expiry), yes_no(after.require_expiry));
    add("max-expiry-days", maximum(before.max_expiry_days), maximum(after.max_expiry_days));
    add("max-tokens-per-user", maximum(before.max_tokens_per_user), maximum(after.max_tokens_per_user));
    add("creation", before.creation_enabled ? "enabled" : "disabled", after.creation_enabled ? "enabled" : "disabled");
    return out;
}

std::string encode_token_policy(const TokenPolicy& policy) {
    std::string out;
    out.push_back(static_cast<char>(kPolicyFormat));
    std::uint8_t flags = 0;
    if (policy.require_expiry) flags |= kFlagRequireExpiry;
    if (!policy.creation_enabled) flags |= kFlagCreationDisabled;
    out.push_back(static_cast<char>(flags));
    put_u32(out, static_cast<std::uint32_t>(policy.max_expiry_days.value_or(0)));
    put_u32(out, static_cast<std::uint32_t>(policy.max_tokens_per_user.value_or(0)));
    return out;
}

std::optional<TokenPolicy> decode_token_policy(std::string_view bytes) {
    if (bytes.size() != kPolicyRecordSize || static_cast<std::uint8_t>(bytes[0]) != kPolicyFormat) return std::nullopt;
    const auto flags = static_cast<std::uint8_t>(bytes[1]);
    if ((flags & ~(kFlagRequireExpiry | kFlagCreationDisabled)) != 0) return std::nullopt;
    TokenPolicy policy;
    policy.require_expiry = (flags & kFlagRequireExpiry) != 0;
    policy.creation_enabled = (flags & kFlagCreationDisabled) == 0;
    const std::uint32_t days = take_u32(bytes.substr(2));
    const std::uint32_t count = take_u32(bytes.substr(6));
    if (days > static_cast<std::uint32_t>(kMaxPolicyExpiryDays) ||
        count > static_cast<std::uint32_t>(kMaxPolicyTokensPerUser))
        return std::nullopt;
    if (days != 0) policy.max_expiry_days = static_cast<int>(days);
    if (count != 0) policy.max_tokens_per_user = static_cast<int>(count);
    if (!validate_token_policy(policy).ok()) return std::nullopt;
    return policy;
}

Status read_token_policy(kv::Txn& txn, TokenPolicy& policy) {
    std::string_view bytes;
    const int rc = txn.get(kv::Table::meta, kTokenPolicyKey, bytes);
    if (rc == kv::kNotFound) {
        policy = TokenPolicy{};
        return Status::success();
    }
    if (rc != 0) return kv_error(txn, "read the token policy", rc);
    auto decoded = decode_token_policy(bytes);
    // Fail closed: a damaged policy refuses every creation, never allows all.
    if (!decoded) return {StatusCode::store_error, "store: the token policy record is corrupt"};
    policy = *decoded;
    return Status::success();
}

Status count_live_tokens(const Store::Impl& /*store*/, kv::Txn& txn, std::string_view owner, std::int64_t now,
                         std::size_t& live) {
    live = 0;
    Status failure;
    const int rc =
        txn.scan(kv::Table::user_tokens, records::user_prefix(owner), [&](std::string_view key, std::string_view) {
            const std::size_t sep = key.find('\0');
            std::string_view digest, record;
            int got = sep == std::string_view::npos ? kv::kNotFound
                                                    : txn.get(kv::Table::token_ids, key.substr(sep + 1), digest);
            if (got == 0) got = txn.get(kv::Table::tokens, digest, record);
            auto token = got == 0 ? records::decode_token(record) : std::nullopt;
            if (!token) {
                failure =
                    got != 0 && got != kv::kNotFound
                        ? kv_error(txn, "read token", got)
                        : Status{StatusCode::store_error, "store: a token of '" + std::string(owner) + "' is corrupt"};
                return false;
            }
            // A token a rotation retired is no longer live (rotate.cpp).
            if (!token->revoked && !token->rotated && (token->expires_ms == 0 || token->expires_ms > now)) ++live;
            return true;
        });
    if (rc != 0) return kv_error(txn, "read tokens", rc);
    return failure;
}

Status check_creation_policy(const Store::Impl& store, kv::Txn& txn, std::string_view owner,
                             std::optional<int> expiry_days, std::int64_t now) {
    TokenPolicy policy;
    if (Status s = read_token_policy(txn, policy); !s.ok()) return s;
    if (Status s = check_token_policy(policy, expiry_days); !s.ok()) return s;
    if (!policy.max_tokens_per_user) return Status::success();
    std::size_t live = 0;
    if (Status s = count_live_tokens(store, txn, owner, now, live); !s.ok()) return s;
    if (live >= static_cast<std::size_t>(*policy.max_tokens_per_user)) return token_limit_reached(policy);
    return Status::success();
}

Expected<TokenPolicy> Store::token_policy() {
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    TokenPolicy policy;
    if (Status s = read_token_policy(**reading, policy); !s.ok()) return s;
    return policy;
}

Expected<TokenPolicyChange> Store::set_token_policy(const TokenPolicyUpdate& update, std::int64_t now,
                                                    const AuditContext& audit) {
    TokenPolicyChange change;
    Status written = run_write(*impl_, [&](kv::Txn& txn) -> Status {
        if (Status s = read_token_policy(txn, change.before); !s.ok()) return s;
        TokenPolicy& after = change.after;
        after = change.before;
        if (update.require_expiry) after.require_expiry = *update.require_expiry;
        if (update.max_expiry_days) after.max_expiry_days = *update.max_expiry_days;
        if (update.max_tokens_per_user) after.max_tokens_per_user = *update.max_tokens_per_user;
        if (update.creation_enabled) after.creation_enabled = *update.creation_enabled;
        if (Status s = validate_token_policy(after); !s.ok()) return s;
        change.changed = after != change.before;
        if (!change.changed) return Status::success();

        // What the tokens that exist make of the new maxima (they stay as they are).
        const bool count_never = after.require_expiry && !change.before.require_expiry;
        const bool count_expiry = tightened(change.before.max_expiry_days, after.max_expiry_days);
        const bool count_number = tightened(change.before.max_tokens_per_user, after.max_tokens_per_user);
        if (count_never || count_expiry || count_number) {
            const std::int64_t latest = after.max_expiry_days ? now + *after.max_expiry_days * kMsPerDay : 0;
            std::map<std::string, std::size_t, std::less<>> live_per_user;
            bool corrupt = false;
            int rc = txn.scan(kv::Table::tokens, "", [&](std::string_view, std::string_view record) {
                auto token = records::decode_token(record);
                if (!token) {
                    corrupt = true;
                    return false;
                }
                if (token->revoked || (token->expires_ms != 0 && token->expires_ms <= now)) return true;
                if (count_never && token->expires_ms == 0) ++change.never_expiring;
                if (count_expiry && (token->expires_ms == 0 || token->expires_ms > latest))
                    ++change.beyond_expiry_maximum;
                if (count_number) ++live_per_user[std::string(token->owner)];
                return true;
            });
            if (rc != 0) return kv_error(txn, "read tokens", rc);
            if (corrupt) return {StatusCode::store_error, "store: a token record is corrupt"};
            for (const auto& [owner, live] : live_per_user) {
                const auto limit = static_cast<std::size_t>(*after.max_tokens_per_user);
                if (live > limit) change.beyond_count_maximum += live - limit;
            }
        }
        int rc = txn.put(kv::Table::meta, kTokenPolicyKey, encode_token_policy(after));
        if (rc != 0) return kv_error(txn, "write the token policy", rc);
        return append_audit(*impl_, txn, AuditAction::policy_changed, audit, {}, {},
                            describe_token_policy_change(change.before, after));
    });
    if (!written.ok()) return written;
    return change;
}

}  // namespace pat
