// Token inventory and expiry warnings: which tokens a listing, a bulk
// revocation or an expiry warning concerns. The rules live here once;
// patctl (token list/revoke/notify) and any other caller ask them.
//
// Expiry warnings remember what they sent in the store's meta table (no
// table of their own), one row per token that was warned:
//
//   meta   "expiry-notified\0" token id -> the smallest threshold sent, in
//          days, as decimal text ("7")
//
// A row is written only after the warning went out (record_expiry_notice),
// in the same transaction as its audit entry (token-expiry-warned). Rows of
// tokens that are no longer live (revoked, deleted, expired) are stale:
// revoke_selected_tokens deletes its tokens' rows, and expiry_notices_due
// reports the others so that the caller can drop them
// (forget_expiry_notices).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pat/status.hpp"
#include "pat/store.hpp"

namespace pat {

inline constexpr std::int64_t kDayMs = 86'400'000;
// The largest DAYS a selection or a threshold accepts (the longest expiry is 3650).
inline constexpr int kMaxSelectionDays = 36500;
// The meta table's key prefix of expiry-warning rows.
inline constexpr std::string_view kExpiryNotifiedPrefix{"expiry-notified\0", 16};

// What `token list` and `token revoke --unused-since` select; every given
// criterion must hold.
struct TokenSelection {
    std::optional<std::string> owner;         // one user's tokens (must exist)
    std::optional<int> expiring_within_days;  // not expired, expires within this many days
    bool expired = false;                     // expired (not revoked: revoked tokens list nowhere)
    std::optional<int> unused_since_days;     // no use (or, never used, no creation) in this many days
};

// A token is expired from its expiry on (as Store::decide refuses it).
bool token_expired(const TokenInfo& token, std::int64_t now_ms);
// Whole days until expiry, rounded up (a token expiring in 6 days and an
// hour has 7 days left); 0 or less when expired. Meaningless without expiry.
std::int64_t token_days_left(const TokenInfo& token, std::int64_t now_ms);
// The last use, or the creation when never used: "unused since".
std::int64_t token_last_activity(const TokenInfo& token);
bool token_selected(const TokenSelection& selection, const TokenInfo& token, std::int64_t now_ms);
// invalid_argument unless each DAYS is 0..kMaxSelectionDays and --expired
// and --expiring-within are not both given.
Status check_token_selection(const TokenSelection& selection);

// Thresholds, in days: "30,7,1". Each 1..kMaxSelectionDays, no duplicate;
// returned in ascending order.
Expected<std::vector<int>> parse_expiry_thresholds(std::string_view text);

// The threshold to warn about now, if any: the smallest threshold crossed
// (days_left <= threshold), unless a threshold at least as small was sent
// already (`sent`: the smallest sent so far). Several thresholds crossed at
// once give one warning, the smallest. thresholds: ascending.
std::optional<int> expiry_threshold_due(const std::vector<int>& thresholds, std::int64_t days_left,
                                        std::optional<int> sent);

// One warning to send.
struct ExpiryNotice {
    TokenInfo token;
    std::string display_name;  // the owner's
    std::int64_t days_left = 0;
    int threshold = 0;
};

struct ExpiryNoticesDue {
    std::vector<ExpiryNotice> due;
    // Warning rows whose token is no longer live (forget_expiry_notices).
    std::vector<std::string> stale;
};

}  // namespace pat
