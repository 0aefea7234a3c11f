// Brute-force protection for password checks (the management API): a policy
// over failure counters keyed by user and by client address.
//
// Policy (ThrottlePolicy's defaults): a user name with 5 failed password
// checks in a 5-minute window, or a client address with 20, is blocked for 5
// minutes; while blocked, an attempt is refused before any password check
// (the API answers 429 with Retry-After). A correct password resets the
// user's counter. Token authentication never consults this: a throttled user
// still reaches git with their tokens.
//
// Attempts are counted pessimistically: begin_attempt() counts the attempt
// as a failure before the password is checked, and a success (or a request
// that ended before any check) takes it back. So concurrent attempts cannot
// slip past the limit between a check and its outcome, and a crash between
// the two fails closed.
//
// The counters live in a FailureThrottleTable: a fixed-size, trivially
// copyable table with no pointers, so that the nginx glue can put it in
// shared memory and lock around each call. All-zero bytes are an empty table.
// FailureThrottle itself does no locking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace pat {

struct ThrottlePolicy {
    std::uint32_t max_user_failures = 5;
    std::uint32_t max_address_failures = 20;
    std::int64_t window_ms = 5 * 60'000;  // failures older than this are forgotten
    std::int64_t block_ms = 5 * 60'000;   // how long a key stays blocked
};

inline constexpr std::size_t kThrottleKeyBytes = 64;  // longer addresses are truncated
inline constexpr std::size_t kThrottleSlots = 4096;

struct FailureThrottleTable {
    enum SlotKind : std::uint8_t { free_slot = 0, user_slot = 1, address_slot = 2 };
    struct Slot {
        std::int64_t window_start_ms;   // when the current window's first attempt was counted
        std::int64_t blocked_until_ms;  // 0: not blocked
        std::uint32_t failures;         // attempts counted in the window
        std::uint8_t kind;              // SlotKind
        std::uint8_t key_length;
        char key[kThrottleKeyBytes];  // canonical user name, or the address text
    };
    Slot slots[kThrottleSlots];
};
static_assert(std::is_trivially_copyable_v<FailureThrottleTable>);
static_assert(std::is_standard_layout_v<FailureThrottleTable>);

// What the management API consults before it checks a password. The nginx
// glue implements it over shared memory with a lock around each call; tests
// and single-process callers use FailureThrottle directly.
class PasswordAttemptLimiter {
   public:
    virtual ~PasswordAttemptLimiter() = default;

    // Called before a password check. 0: go ahead; the attempt is counted as
    // a failure until attempt_succeeded or attempt_abandoned says otherwise.
    // Otherwise the number of milliseconds until an attempt may be made.
    // user is the name as sent (canonicalised inside; a name that is not a
    // valid user name is counted by address only); address is the client's.
    virtual std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
    // The password was right: the user's counter resets and the address's
    // count of this attempt is taken back.
    virtual void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
    // No password was checked after all (the request failed before that,
    // e.g. on a bad body): the attempt is taken back from both counters.
    virtual void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
    // The password was wrong. A limiter that counts attempts pessimistically
    // (FailureThrottle: begin_attempt already counted the failure) has
    // nothing to do; one that keeps in-flight attempts apart from failures
    // (SignInLimiter) turns the pending attempt into a failure now.
    virtual void attempt_failed(std::string_view /*user*/, std::string_view /*address*/, std::int64_t /*now_ms*/) {}
};

// The policy over a table the caller owns (and locks, when it is shared).
//
// When every slot is taken, a slot whose window has passed is reused first,
// then the unblocked slot with the oldest window; when every slot holds an
// active block, begin_attempt refuses (fail closed) until one expires.
class FailureThrottle final : public PasswordAttemptLimiter {
   public:
    explicit FailureThrottle(FailureThrottleTable& table, ThrottlePolicy policy = {})
        : table_(table), policy_(policy) {}

    std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) override;

    // The current count for a key within its window (tests and diagnostics).
    std::uint32_t user_failures(std::string_view user, std::int64_t now_ms) const;
    std::uint32_t address_failures(std::string_view address, std::int64_t now_ms) const;

    const ThrottlePolicy& policy() const { return policy_; }

   private:
    FailureThrottleTable& table_;
    ThrottlePolicy policy_;
};

}  // namespace pat
