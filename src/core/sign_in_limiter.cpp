// The sign-in limiter of one process: see include/pat/sign_in_limiter.hpp.
//
// Each key keeps a short log of its attempts (at most its limit: 5 for a
// name, 20 for an address), oldest first. An attempt is admitted when the
// log, after forgetting what is older than the window, has room: a sliding
// log, so "at most N in any window-long interval" holds exactly.
#include "pat/sign_in_limiter.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "pat/names.hpp"

namespace pat {

namespace {

constexpr std::size_t kMaxAddressText = 64;  // longer text that is not an address is truncated

// The canonical name, or "" for a name that is not a valid user name (it is
// counted by address only, as it cannot be anybody's account).
std::string canonical_name(std::string_view user) {
    char bytes[kMaxUserName];
    const std::size_t length = canonical_user_name(user, bytes);
    return std::string(bytes, length);
}

std::string unknown_name_key(const std::string& name) {
    return "n" + name;
}

std::size_t count_pending(const SignInLimiter::Entry& entry) {
    return static_cast<std::size_t>(std::count_if(entry.attempts.begin(), entry.attempts.end(),
                                                  [](const SignInLimiter::Attempt& a) { return a.pending; }));
}

}  // namespace

SignInLimiter::SignInLimiter(KnownUser is_known_user, SignInLimits limits)
    : is_known_user_(std::move(is_known_user)), limits_(limits) {}

std::string SignInLimiter::address_key(std::string_view address) {
    if (address.empty()) return {};
    char text[INET6_ADDRSTRLEN] = {};
    if (address.size() < sizeof text) {
        std::memcpy(text, address.data(), address.size());
        unsigned char bytes[16];
        if (inet_pton(AF_INET, text, bytes) == 1) return "4" + std::string(reinterpret_cast<char*>(bytes), 4);
        if (inet_pton(AF_INET6, text, bytes) == 1) {
            static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (std::memcmp(bytes, kMapped, sizeof kMapped) == 0) {
                return "4" + std::string(reinterpret_cast<char*>(bytes) + 12, 4);
            }
            return "6" + std::string(reinterpret_cast<char*>(bytes), 8);  // the /64
        }
    }
    return "t" + std::string(address.substr(0, kMaxAddressText));
}

// Forget attempts older than the window; a pending attempt never resolved
// within pending_timeout_ms is a failure from then on.
void SignInLimiter::refresh(Entry& entry, std::int64_t now) const {
    auto& attempts = entry.attempts;
    attempts.erase(std::remove_if(attempts.begin(), attempts.end(),
                                  [&](const Attempt& a) { return now - a.at_ms >= limits_.window_ms; }),
                   attempts.end());
    for (Attempt& a : attempts) {
        if (a.pending && now - a.at_ms >= limits_.pending_timeout_ms) a.pending = false;
    }
}

// 0 when the key has room for one more attempt, else how long to wait. The
// entry has been refreshed.
std::int64_t SignInLimiter::wait_for(const Entry& entry, std::uint32_t limit, bool is_name, std::int64_t now) const {
    const std::size_t pending = count_pending(entry);
    if (is_name && pending >= limits_.user_in_flight) return std::max<std::int64_t>(limits_.busy_wait_ms, 1);
    const std::size_t count = entry.attempts.size();
    if (count < limit) return 0;
    const std::size_t failed = count - pending;
    // Only pending attempts stand in the way: they end soon, and a success leaves nothing behind.
    if (failed < limit) return std::clamp<std::int64_t>(limits_.busy_wait_ms, 1, limits_.window_ms);
    // Enough failures alone: wait until the one that makes room leaves the window.
    std::size_t to_skip = failed - limit;
    for (const Attempt& a : entry.attempts) {
        if (a.pending) continue;
        if (to_skip-- == 0) return std::clamp<std::int64_t>(a.at_ms + limits_.window_ms - now, 1, limits_.window_ms);
    }
    return limits_.window_ms;  // not reached
}

// Drop the entries of both tables that hold nothing any more. Skipped while
// no entry of the second table can have emptied (next_expiry_ms_). True when
// the second table has room for an entry.
bool SignInLimiter::make_room(std::int64_t now) {
    if (other_.size() < limits_.other_entries) return true;
    if (now < next_expiry_ms_) return false;
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    for (auto it = other_.begin(); it != other_.end();) {
        refresh(it->second, now);
        if (it->second.attempts.empty()) {
            it = other_.erase(it);
        } else {
            next = std::min(next, it->second.attempts.back().at_ms + limits_.window_ms);
            ++it;
        }
    }
    next_expiry_ms_ = next;
    for (auto it = known_.begin(); it != known_.end();) {
        refresh(it->second, now);
        it = it->second.attempts.empty() ? known_.erase(it) : std::next(it);
    }
    return other_.size() < limits_.other_entries;
}

std::int64_t SignInLimiter::until_room(std::int64_t now) const {
    return std::clamp<std::int64_t>(next_expiry_ms_ - now, 1, limits_.window_ms);
}

SignInLimiter::Entry* SignInLimiter::find_name(const std::string& name, bool known) {
    if (name.empty()) return nullptr;
    Table& table = known ? known_ : other_;
    const auto it = table.find(known ? name : unknown_name_key(name));
    return it == table.end() ? nullptr : &it->second;
}

std::int64_t SignInLimiter::begin_attempt(std::string_view user, std::string_view address, std::int64_t now) {
    const std::string name = canonical_name(user);
    const std::string akey = address_key(address);
    const std::lock_guard lock(mutex_);
    const bool known = !name.empty() && is_known_user_ && is_known_user_(name);
    // Sweep before taking pointers into the tables (a sweep erases entries).
    if (other_.size() >= limits_.other_entries) make_room(now);

    Entry* user_entry = find_name(name, known);
    const auto found = akey.empty() ? other_.end() : other_.find(akey);
    Entry* address_entry = found == other_.end() ? nullptr : &found->second;

    std::int64_t wait = 0;
    if (user_entry != nullptr) {
        refresh(*user_entry, now);
        wait = std::max(wait, wait_for(*user_entry, limits_.user_attempts, true, now));
    }
    if (address_entry != nullptr) {
        refresh(*address_entry, now);
        wait = std::max(wait, wait_for(*address_entry, limits_.address_attempts, false, now));
    }
    if (wait > 0) return wait;

    // New entries of the second table. When it is full of live entries, a
    // known user goes on without an address entry (their own limit holds);
    // keys nobody owns are refused until an entry ages out.
    const bool new_unknown_name = !known && !name.empty() && user_entry == nullptr;
    bool new_address = !akey.empty() && address_entry == nullptr;
    const std::size_t needed = (new_unknown_name ? 1 : 0) + (new_address ? 1 : 0);
    if (needed > 0 && other_.size() + needed > limits_.other_entries) {
        if (!known) return until_room(now);
        new_address = false;
    }
    if (other_.empty()) next_expiry_ms_ = now + limits_.window_ms;
    if (known && user_entry == nullptr) user_entry = &known_[name];
    if (new_unknown_name) user_entry = &other_[unknown_name_key(name)];
    if (new_address) address_entry = &other_[akey];

    for (Entry* entry : {user_entry, address_entry}) {
        if (entry != nullptr) entry->attempts.push_back({now, true});
    }
    return 0;
}

// Resolve the oldest pending attempt of the name and of the address: keep it
// as a failure, or take it back.
void SignInLimiter::resolve(std::string_view user, std::string_view address, std::int64_t now, bool keep_as_failure) {
    const std::string name = canonical_name(user);
    const std::string akey = address_key(address);
    const std::lock_guard lock(mutex_);
    const auto settle = [&](Table& table, const std::string& key) {
        if (key.empty()) return;
        const auto it = table.find(key);
        if (it == table.end()) return;
        auto& attempts = it->second.attempts;
        refresh(it->second, now);
        const auto pending = std::find_if(attempts.begin(), attempts.end(), [](const Attempt& a) { return a.pending; });
        if (pending != attempts.end()) {
            if (keep_as_failure) {
                pending->pending = false;
            } else {
                attempts.erase(pending);
            }
        }
        if (attempts.empty()) {
            table.erase(it);
        } else if (&table == &other_) {
            next_expiry_ms_ = std::min(next_expiry_ms_, attempts.back().at_ms + limits_.window_ms);
        }
    };
    if (!name.empty()) {
        if (known_.count(name) != 0) {
            settle(known_, name);
        } else {
            settle(other_, unknown_name_key(name));
        }
    }
    settle(other_, akey);
}

void SignInLimiter::attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now) {
    resolve(user, address, now, false);
}

void SignInLimiter::attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now) {
    resolve(user, address, now, false);
}

void SignInLimiter::attempt_failed(std::string_view user, std::string_view address, std::int64_t now) {
    resolve(user, address, now, true);
}

std::int64_t SignInLimiter::note_empty_password(std::string_view address, std::int64_t now) {
    const std::string akey = address_key(address);
    if (akey.empty()) return 0;
    const std::lock_guard lock(mutex_);
    auto it = other_.find(akey);
    if (it != other_.end()) {
        refresh(it->second, now);
        if (const std::int64_t wait = wait_for(it->second, limits_.address_attempts, false, now); wait > 0) {
            return wait;
        }
    } else {
        if (!make_room(now)) return until_room(now);
        if (other_.empty()) next_expiry_ms_ = now + limits_.window_ms;
        it = other_.try_emplace(akey).first;
    }
    it->second.attempts.push_back({now, false});
    return 0;
}

const SignInLimiter::Entry* SignInLimiter::find_user_locked(std::string_view user) const {
    const std::string name = canonical_name(user);
    if (name.empty()) return nullptr;
    if (const auto it = known_.find(name); it != known_.end()) return &it->second;
    if (const auto it = other_.find(unknown_name_key(name)); it != other_.end()) return &it->second;
    return nullptr;
}

std::uint32_t SignInLimiter::user_attempts(std::string_view user, std::int64_t now) const {
    const std::lock_guard lock(mutex_);
    const Entry* entry = find_user_locked(user);
    if (entry == nullptr) return 0;
    Entry copy = *entry;
    refresh(copy, now);
    return static_cast<std::uint32_t>(copy.attempts.size());
}

std::uint32_t SignInLimiter::user_pending(std::string_view user, std::int64_t now) const {
    const std::lock_guard lock(mutex_);
    const Entry* entry = find_user_locked(user);
    if (entry == nullptr) return 0;
    Entry copy = *entry;
    refresh(copy, now);
    return static_cast<std::uint32_t>(count_pending(copy));
}

std::uint32_t SignInLimiter::address_attempts(std::string_view address, std::int64_t now) const {
    const std::string akey = address_key(address);
    const std::lock_guard lock(mutex_);
    const auto it = other_.find(akey);
    if (akey.empty() || it == other_.end()) return 0;
    Entry copy = it->second;
    refresh(copy, now);
    return static_cast<std::uint32_t>(copy.attempts.size());
}

std::size_t SignInLimiter::known_entries() const {
    const std::lock_guard lock(mutex_);
    return known_.size();
}

std::size_t SignInLimiter::other_entries() const {
    const std::lock_guard lock(mutex_);
    return other_.size();
}

}  // namespace pat
