// The token policy: what an administrator allows at token creation
// (Bitbucket Data Center's "expiry required" / "maximum days until expiry",
// GitLab's instance limits). One record in the store's meta table, under
// kTokenPolicyKey (src/core/store/policy.cpp); no record means no limit, as
// before the policy existed. It is checked inside the creation's own write
// transaction, so patctl, the management API and the account page obey the
// same rule; tokens that exist already are left as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pat/status.hpp"

namespace pat {

// The meta table's key of the policy record.
inline constexpr std::string_view kTokenPolicyKey = "token_policy";

// The ranges policy set accepts.
inline constexpr int kMaxPolicyExpiryDays = 3650;  // a token's own limit (check_token_request)
inline constexpr int kMaxPolicyTokensPerUser = 1'000'000;

struct TokenPolicy {
    // A token must have an expiry ("never" is refused).
    bool require_expiry = false;
    // At most this many days until expiry (1..3650); only with require_expiry.
    std::optional<int> max_expiry_days;
    // At most this many live tokens (neither revoked nor expired) per user.
    std::optional<int> max_tokens_per_user;
    // false: nobody creates a token (403); the others keep working.
    bool creation_enabled = true;

    bool operator==(const TokenPolicy&) const = default;
};

// invalid_argument when the values are out of range, or a maximum of days
// is set without require_expiry (a maximum is a kind of required expiry:
// say both, so that what policy show prints is what applies).
Status validate_token_policy(const TokenPolicy& policy);

// The policy's rules for one creation, without the count of live tokens
// (the store counts those in the creation's transaction): forbidden when
// creation is disabled, invalid_argument when the expiry is missing but
// required, or beyond the maximum.
Status check_token_policy(const TokenPolicy& policy, std::optional<int> expiry_days);
// The refusal when the user already has max_tokens_per_user live tokens.
Status token_limit_reached(const TokenPolicy& policy);

// "require-expiry:yes max-expiry-days:90 max-tokens-per-user:none creation:enabled"
std::string describe_token_policy(const TokenPolicy& policy);
// What changed, for the audit trail and policy set's output:
// "max-expiry-days:none->90, creation:enabled->disabled"; empty when equal.
std::string describe_token_policy_change(const TokenPolicy& before, const TokenPolicy& after);

// The record: a format byte (1), a flags byte (1: expiry required, 2:
// creation disabled), then the two maxima, 4 bytes big-endian each (0: none).
std::string encode_token_policy(const TokenPolicy& policy);
// nullopt when the bytes are not such a record (the store then fails closed).
std::optional<TokenPolicy> decode_token_policy(std::string_view bytes);

// A change of some of the policy's settings (patctl policy set): what is
// not given stays as it is; a maximum given as nullopt inside is cleared.
struct TokenPolicyUpdate {
    std::optional<bool> require_expiry;
    std::optional<std::optional<int>> max_expiry_days;
    std::optional<std::optional<int>> max_tokens_per_user;
    std::optional<bool> creation_enabled;
};

// What a policy change finds among the tokens that exist (Store::set_token_policy).
struct TokenPolicyChange {
    TokenPolicy before;
    TokenPolicy after;
    bool changed = false;
    // Live tokens beyond a maximum that is new or lower than before
    // (counted only then): that never expire while an expiry is now
    // required; that expire later than max_expiry_days from now (or never);
    // a user's live tokens beyond max_tokens_per_user, summed over users.
    std::size_t never_expiring = 0;
    std::size_t beyond_expiry_maximum = 0;
    std::size_t beyond_count_maximum = 0;
};

}  // namespace pat
