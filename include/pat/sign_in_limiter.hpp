// The sign-in limiter of a single process (patd): the password-failure
// throttle, the in-flight accounting and the fair share of password checks,
// in plain memory behind one mutex.
//
// Guarantees, with SignInLimits' defaults (see docs/sign-in-limits.md):
//
//  - Guesses per known user: at most 5 password checks that did not succeed
//    (wrong, or still running) in ANY 5-minute interval, whatever the number
//    of addresses the guesses come from and whatever other traffic the
//    limiter sees. That is at most 1,440 guesses a day per user. It is a
//    sliding log of attempt times, not a fixed window: two bursts cannot
//    straddle a window boundary. A correct password takes back only its own
//    attempt; it does not erase earlier failures (so the real user signing
//    in cannot renew an attacker's budget).
//  - A known user's state cannot be evicted: known users live in their own
//    table, which holds at most one entry per known user (the caller says who
//    is known: the is_known_user callback). No traffic for other names or
//    from other addresses touches it.
//  - Unknown names (valid names that are not users) and client addresses live
//    in a second table of at most 4,096 entries. Its pressure never releases
//    a known user's limit (nothing in it is one) and never blocks a known
//    user's sign-in from an address it holds nothing against: when it is
//    full, a new address is simply not tracked for a known user (the user's
//    own limit still applies), while a new unknown name, or a new address
//    with an unknown or invalid name, is refused until an entry ages out
//    (fail closed for keys nobody owns). Entries are never evicted while
//    they hold an attempt younger than the window.
//  - Per address: at most 20 attempts that did not succeed in any 5-minute
//    interval, empty passwords included. IPv4 addresses count one by one,
//    IPv6 addresses per /64 (one customer's prefix), IPv4-mapped IPv6
//    (::ffff:a.b.c.d) as the IPv4 address. Text that is not an address
//    counts as its own key.
//  - In-flight apart from failures: an attempt is "pending" from
//    begin_attempt until attempt_succeeded / attempt_abandoned (taken back)
//    or attempt_failed (kept, as a failure). Pending attempts use the budget
//    too, so concurrent wrong guesses cannot exceed 5; but while only pending
//    attempts fill it, the answer is a short wait (1 s), never a
//    window-long block, and nothing is left behind once they succeed: any
//    number of parallel CORRECT sign-ins never trips the limit.
//  - Fair share: at most 2 pending password checks per name at once; a
//    third is answered like a throttle, with a 1 s wait, so one user cannot
//    hold more than 2 of patd's password-check slots.
//  - A pending attempt that is never resolved (a caller that ends before
//    reporting the outcome; the core's ManagementApi calls attempt_failed on
//    a wrong password) turns into a failure after 10 s: it always counts against the budget, and
//    frees its fair-share slot then.
//  - Empty passwords: note_empty_password counts one failure against the
//    address (no user lookup, no user budget: an empty password guesses
//    nothing) and says whether to answer 429 instead of 401.
//
// Every wait returned is at least 1 ms and at most the window.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pat/password_attempt_limiter.hpp"

namespace pat {

struct SignInLimits {
    std::uint32_t user_attempts = 5;           // per name, in any window_ms interval
    std::uint32_t address_attempts = 20;       // per IPv4 address or IPv6 /64
    std::int64_t window_ms = 5 * 60'000;       // sliding
    std::uint32_t user_in_flight = 2;          // fair share: pending checks per name
    std::int64_t busy_wait_ms = 1'000;         // answer while only pending attempts fill a limit
    std::int64_t pending_timeout_ms = 10'000;  // an unresolved attempt becomes a failure
    std::size_t other_entries = 4'096;         // unknown names + addresses
};

class SignInLimiter final : public PasswordAttemptLimiter {
   public:
    // Told a canonical user name, says whether it is an existing user. Called
    // under the limiter's lock, once per begin_attempt with a valid name: it
    // must be quick and must not call back into the limiter.
    using KnownUser = std::function<bool(std::string_view canonical_user)>;

    explicit SignInLimiter(KnownUser is_known_user, SignInLimits limits = {});

    // PasswordAttemptLimiter: 0, or the milliseconds to wait.
    std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    // Takes back this attempt only (earlier failures stay).
    void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) override;

    // The password was wrong: the pending attempt becomes a failure at once
    // (without this it does so after pending_timeout_ms).
    void attempt_failed(std::string_view user, std::string_view address, std::int64_t now_ms) override;

    // An empty password, refused before any lookup: counted against the
    // address. 0: answer as for a wrong password; otherwise the milliseconds
    // to wait (the address is over its limit, or cannot be tracked).
    std::int64_t note_empty_password(std::string_view address, std::int64_t now_ms);

    // Diagnostics and tests: attempts in the window (pending included),
    // pending attempts, and the sizes of the two tables.
    std::uint32_t user_attempts(std::string_view user, std::int64_t now_ms) const;
    std::uint32_t user_pending(std::string_view user, std::int64_t now_ms) const;
    std::uint32_t address_attempts(std::string_view address, std::int64_t now_ms) const;
    std::size_t known_entries() const;
    std::size_t other_entries() const;

    const SignInLimits& limits() const { return limits_; }

    // The key an address is counted under: "4" + 4 bytes, "6" + the /64's
    // 8 bytes, or "t" + the text (at most 64 bytes); empty for no address.
    static std::string address_key(std::string_view address);

    struct Attempt {
        std::int64_t at_ms;
        bool pending;
    };
    struct Entry {
        std::vector<Attempt> attempts;  // oldest first; at most the key's limit
    };

   private:
    using Table = std::unordered_map<std::string, Entry>;

    std::int64_t wait_for(const Entry& entry, std::uint32_t limit, bool is_name, std::int64_t now) const;
    void refresh(Entry& entry, std::int64_t now) const;
    bool make_room(std::int64_t now);
    std::int64_t until_room(std::int64_t now) const;
    Entry* find_name(const std::string& name, bool known);
    const Entry* find_user_locked(std::string_view user) const;
    void resolve(std::string_view user, std::string_view address, std::int64_t now, bool keep_as_failure);

    KnownUser is_known_user_;
    SignInLimits limits_;
    mutable std::mutex mutex_;
    Table known_;                      // canonical user name -> entry; only existing users
    Table other_;                      // "n" + unknown canonical name, or an address_key -> entry
    std::int64_t next_expiry_ms_ = 0;  // no entry of other_ can empty before this
};

}  // namespace pat
