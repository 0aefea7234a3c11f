// The password-failure throttle: see include/pat/failure_throttle.hpp.
//
// The table is scanned linearly. It is consulted only before a password
// check, which costs a KDF run (tens of milliseconds) anyway; a scan of a few
// thousand slots is microseconds and keeps eviction simple to reason about.
#include "pat/failure_throttle.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "pat/names.hpp"

namespace pat {

namespace {

using Slot = FailureThrottleTable::Slot;

struct Key {
    std::uint8_t kind = FailureThrottleTable::free_slot;  // free_slot: nothing to count
    std::uint8_t length = 0;
    char bytes[kThrottleKeyBytes] = {};
};

static_assert(kMaxUserName <= kThrottleKeyBytes);

// A name that is not a valid user name cannot be anybody's account, so only
// its address is counted. "Alice" and "alice" are one user.
Key user_key(std::string_view user) {
    Key key;
    const std::size_t length = canonical_user_name(user, key.bytes);
    if (length == 0) return key;
    key.kind = FailureThrottleTable::user_slot;
    key.length = static_cast<std::uint8_t>(length);
    return key;
}

Key address_key(std::string_view address) {
    Key key;
    if (address.empty()) return key;
    const std::size_t length = std::min(address.size(), kThrottleKeyBytes);
    std::memcpy(key.bytes, address.data(), length);
    key.kind = FailureThrottleTable::address_slot;
    key.length = static_cast<std::uint8_t>(length);
    return key;
}

bool matches(const Slot& slot, const Key& key) {
    return slot.kind == key.kind && slot.key_length == key.length && std::memcmp(slot.key, key.bytes, key.length) == 0;
}

bool is_blocked(const Slot& slot, std::int64_t now) {
    return slot.blocked_until_ms > now;
}

// Nothing worth keeping: the window has passed and no block is active.
bool is_stale(const Slot& slot, const ThrottlePolicy& policy, std::int64_t now) {
    return !is_blocked(slot, now) &&
           (slot.failures == 0 || now - slot.window_start_ms >= policy.window_ms || now < slot.window_start_ms);
}

// Forget an expired block or a window that has passed. A clock that went
// backwards also starts a new window rather than extending an old one.
void roll_window(Slot& slot, const ThrottlePolicy& policy, std::int64_t now) {
    if (slot.blocked_until_ms != 0 && !is_blocked(slot, now)) {
        slot.blocked_until_ms = 0;
        slot.failures = 0;
    }
    if (slot.failures != 0 && (now - slot.window_start_ms >= policy.window_ms || now < slot.window_start_ms)) {
        slot.failures = 0;
    }
}

Slot* find(FailureThrottleTable& table, const Key& key) {
    if (key.kind == FailureThrottleTable::free_slot) return nullptr;
    for (Slot& slot : table.slots) {
        if (matches(slot, key)) return &slot;
    }
    return nullptr;
}

// The key's slot, or a new one for it: a free or stale slot first, then the
// unblocked slot with the oldest window, never `keep` (the other key of the
// same attempt, claimed a moment ago). nullptr when every slot holds an
// active block: the caller then refuses rather than forget a block.
Slot* find_or_claim(FailureThrottleTable& table, const Key& key, const ThrottlePolicy& policy, std::int64_t now,
                    const Slot* keep) {
    if (Slot* existing = find(table, key)) return existing;
    Slot* reusable = nullptr;
    Slot* oldest_unblocked = nullptr;
    for (Slot& slot : table.slots) {
        if (&slot == keep) continue;
        if (slot.kind == FailureThrottleTable::free_slot || is_stale(slot, policy, now)) {
            reusable = &slot;
            break;
        }
        if (!is_blocked(slot, now) &&
            (oldest_unblocked == nullptr || slot.window_start_ms < oldest_unblocked->window_start_ms)) {
            oldest_unblocked = &slot;
        }
    }
    Slot* chosen = reusable != nullptr ? reusable : oldest_unblocked;
    if (chosen == nullptr) return nullptr;
    std::memset(chosen, 0, sizeof *chosen);
    chosen->kind = key.kind;
    chosen->key_length = key.length;
    std::memcpy(chosen->key, key.bytes, key.length);
    chosen->window_start_ms = now;
    return chosen;
}

// Milliseconds until the soonest active block ends (every slot is blocked
// when this is asked), at least 1.
std::int64_t soonest_unblock(const FailureThrottleTable& table, std::int64_t now) {
    std::int64_t soonest = std::numeric_limits<std::int64_t>::max();
    for (const Slot& slot : table.slots) {
        if (is_blocked(slot, now)) soonest = std::min(soonest, slot.blocked_until_ms - now);
    }
    return soonest == std::numeric_limits<std::int64_t>::max() ? 1 : std::max<std::int64_t>(soonest, 1);
}

void take_back_one(Slot* slot) {
    if (slot != nullptr && slot->failures > 0) --slot->failures;
}

std::uint32_t failures_in_window(const Slot* slot, const ThrottlePolicy& policy, std::int64_t now) {
    if (slot == nullptr) return 0;
    Slot copy = *slot;
    roll_window(copy, policy, now);
    return copy.failures;
}

}  // namespace

std::int64_t FailureThrottle::begin_attempt(std::string_view user, std::string_view address, std::int64_t now) {
    const Key keys[] = {user_key(user), address_key(address)};
    const std::uint32_t limits[] = {policy_.max_user_failures, policy_.max_address_failures};
    Slot* slots[2] = {nullptr, nullptr};
    for (int i = 0; i < 2; ++i) {
        if (keys[i].kind == FailureThrottleTable::free_slot) continue;
        slots[i] = find_or_claim(table_, keys[i], policy_, now, slots[0]);
        // No room without forgetting an active block: fail closed.
        if (slots[i] == nullptr) return std::min(soonest_unblock(table_, now), policy_.block_ms);
        roll_window(*slots[i], policy_, now);
    }

    std::int64_t wait = 0;
    for (Slot* slot : slots) {
        if (slot != nullptr && is_blocked(*slot, now)) wait = std::max(wait, slot->blocked_until_ms - now);
    }
    if (wait == 0) {
        // The limit was reached by earlier failures: this attempt starts the block.
        for (int i = 0; i < 2; ++i) {
            if (slots[i] != nullptr && slots[i]->failures >= limits[i]) {
                slots[i]->blocked_until_ms = now + policy_.block_ms;
                wait = policy_.block_ms;
            }
        }
    }
    if (wait > 0) return std::min(wait, policy_.block_ms);

    for (Slot* slot : slots) {
        if (slot == nullptr) continue;
        if (slot->failures == 0) slot->window_start_ms = now;
        ++slot->failures;
    }
    return 0;
}

void FailureThrottle::attempt_succeeded(std::string_view user, std::string_view address, std::int64_t) {
    if (Slot* slot = find(table_, user_key(user))) std::memset(slot, 0, sizeof *slot);
    take_back_one(find(table_, address_key(address)));
}

void FailureThrottle::attempt_abandoned(std::string_view user, std::string_view address, std::int64_t) {
    take_back_one(find(table_, user_key(user)));
    take_back_one(find(table_, address_key(address)));
}

std::uint32_t FailureThrottle::user_failures(std::string_view user, std::int64_t now) const {
    return failures_in_window(find(table_, user_key(user)), policy_, now);
}

std::uint32_t FailureThrottle::address_failures(std::string_view address, std::int64_t now) const {
    return failures_in_window(find(table_, address_key(address)), policy_, now);
}

}  // namespace pat
