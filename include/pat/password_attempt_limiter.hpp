// What the management API consults before it checks a password: the
// sign-in limits. patd implements it with SignInLimiter
// (pat/sign_in_limiter.hpp); the API itself knows only this interface, so
// its rules about when an attempt counts live in one place (ManagementApi)
// and the limits in another.
//
// Attempts are counted before the password is checked, so concurrent
// attempts cannot slip past a limit between a check and its outcome, and a
// crash between the two fails closed.
#pragma once

#include <cstdint>
#include <string_view>

namespace pat {

class PasswordAttemptLimiter {
   public:
    virtual ~PasswordAttemptLimiter() = default;

    // Called before a password check. 0: go ahead; the attempt is counted
    // until attempt_succeeded, attempt_abandoned or attempt_failed says what
    // became of it. Otherwise the number of milliseconds until an attempt
    // may be made. user is the name as sent (canonicalised inside; a name
    // that is not a valid user name is counted by address only); address is
    // the client's.
    virtual std::int64_t begin_attempt(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
    // The password was right: this attempt is taken back.
    virtual void attempt_succeeded(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
    // No password was checked after all (the request failed before that,
    // e.g. on a bad body): the attempt is taken back.
    virtual void attempt_abandoned(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
    // The password was wrong: the pending attempt is a failure from now on.
    virtual void attempt_failed(std::string_view user, std::string_view address, std::int64_t now_ms) = 0;
};

}  // namespace pat
