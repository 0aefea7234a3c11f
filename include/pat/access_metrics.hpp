// What the module's auth_pat_status location reports: how each request the
// access phase decided ended (an AccessOutcome, counted once per decision),
// failed store opens, and the store files' size and age, in Prometheus's
// text format (docs/metrics.md). The counting is the module's (one atomic
// add per decision in shared memory); the names and the text are here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pat/decision.hpp"

namespace pat {

// How a decision ended: the core's Reasons first, in their order (so a
// Reason converts by value; no_credentials and rotated are Reasons too), then the refusals the module makes before the
// store is asked, then the other way a request is allowed.
enum class AccessOutcome : std::uint8_t {
    allowed,
    malformed_token,
    bad_checksum,
    unknown_token,
    revoked,
    expired,
    wrong_user,
    user_unknown,
    user_disabled,
    invalid_target,
    token_level_too_low,
    user_level_too_low,
    route_not_allowed,
    store_error,
    // The module's own:
    no_credentials,           // no Authorization header: 401
    rotated,                  // a Reason too (added after no_credentials): a token a rotation replaced
    malformed_authorization,  // not Basic/Bearer, bad base64, ...: 401
    bad_request,              // an unsafe request target or an ambiguous route: 400
    store_unavailable,        // the store could not be opened: 500
    internal_error,           // a configuration value could not be evaluated, no memory: 500
    subrequest_refused,       // a subrequest to a protected location without an allowed main request: 403
    // Allowed without credentials: a read of a public repository
    // (Store::decide_public). Counted apart from `allowed` (a token).
    public_read,
};
inline constexpr std::size_t kAccessOutcomeCount = static_cast<std::size_t>(AccessOutcome::public_read) + 1;

inline AccessOutcome outcome_of(Reason reason) noexcept {
    return static_cast<AccessOutcome>(reason);
}

// The label value: the enumerator's name ("unknown_token").
std::string_view outcome_label(AccessOutcome outcome) noexcept;
// The HTTP status the access phase answers with: 0 for allowed and public_read.
int outcome_status(AccessOutcome outcome) noexcept;

// A snapshot of the counters, summed over every worker.
struct AccessCounts {
    std::array<std::uint64_t, kAccessOutcomeCount> outcomes{};
    std::uint64_t store_open_failures = 0;
};

// One auth_pat_db path as the file system shows it.
struct StoreFileFacts {
    std::string path;
    bool exists = false;
    std::uint64_t size_bytes = 0;
    std::int64_t modified_ms = 0;  // the data file's mtime: LMDB writes it on every commit
};

// The whole text, families in a fixed order; every outcome appears, zero
// or not.
std::string format_access_metrics(const AccessCounts& counts, const std::vector<StoreFileFacts>& stores,
                                  std::int64_t now_ms, std::string_view version);

}  // namespace pat
