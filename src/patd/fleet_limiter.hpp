// Fleet mode's password-failure throttle (docs/patd.md#the-throttle-in-fleet-mode).
//
// A throttle kept in each patd's memory would give an attacker each node's
// budget: with five nodes behind a load balancer, five times the guesses.
// So in fleet mode the limits on guesses (per user name and per client
// address) are counted in the fleet's source, in one table every patd
// shares (pat_sign_in_attempts: key, time, pending; made by `patctl fleet
// init`), with the same rules as pat::SignInLimiter: a sliding log, attempts
// counted before the password check (pending), a correct password taking
// back only its own attempt, a pending attempt never resolved counting as a
// failure after 10 s. Times are the source's clock, so nodes whose clocks
// differ count alike.
//
// The process's own SignInLimiter is asked first and still bounds what is
// this node's alone: the fair share of its password-check places, and the
// size of what it tracks for unknown names and addresses (so the table in
// the source cannot be grown without bound through one node either).
//
// begin_attempt is one short transaction (advisory locks on the keys, so
// two nodes cannot both admit the fifth guess): it commits before the
// password is checked; no transaction is open during the check. When the
// source cannot be asked, the attempt is refused (a short wait: fail
// closed) and the reason logged.
//
// Thread contract: every member may be called from any thread; one
// connection, used under a mutex (a few milliseconds per sign-in).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pat/password_attempt_limiter.hpp"
#include "pat/sign_in_limiter.hpp"
#include "pat/status.hpp"

namespace pat::fleet {
class Connection;
}

namespace patd {

class FleetSignInLimiter final : public pat::PasswordAttemptLimiter {
   public:
    FleetSignInLimiter(pat::SignInLimiter& local, std::string connfile);
    ~FleetSignInLimiter() override;

    // Connects and checks that the source has the throttle's table; a
    // message when it does not (patd does not start: no silent per-node
    // throttle).
    bool open(std::string& error);

    std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) override;
    void attempt_failed(std::string_view user, std::string_view address, std::int64_t now_ms) override;

    // Deletes the rows older than the window (every patd does, now and then:
    // the main thread calls it about once a minute).
    void sweep();

    // Attempts in the window for a user name (pending included), as the
    // source counts them: for tests and diagnostics.
    pat::Expected<std::uint32_t> user_attempts(std::string_view user);

   private:
    struct Keys {
        std::string user;     // "u" + canonical name, or empty (not a valid name)
        std::string address;  // SignInLimiter::address_key, or empty
    };
    static Keys keys_of(std::string_view user, std::string_view address);
    pat::Status connect_locked();
    // The source's verdict: 0 and the new rows' ids, or the wait.
    pat::Expected<std::int64_t> begin_locked(const Keys& keys, std::vector<std::int64_t>& ids);
    void resolve(std::string_view user, std::string_view address, bool keep_as_failure);

    pat::SignInLimiter& local_;
    const pat::SignInLimits limits_;
    const std::string connfile_;
    std::mutex mutex_;
    std::unique_ptr<pat::fleet::Connection> connection_;
    // The rows of attempts begun here and not yet resolved, by their keys:
    // a resolution takes the oldest of its keys.
    std::multimap<std::string, std::vector<std::int64_t>> pending_;
    std::string last_failure_;
};

}  // namespace patd
