// Admission of token-API calls on the thread pool, per worker: calls for
// different users run at once, but at most one per user name, and at most
// kMaxConcurrentSignIns in all; the others wait on their pool thread.
//
// Why: the password throttle (pat::FailureThrottle) counts an attempt as a
// failure from its start until its outcome, so that parallel guesses cannot
// slip past the limit; five sign-ins of one user in flight at once would
// therefore block that user for five minutes, and twenty from one address
// (say, many users behind one proxy) would block the address. Keeping a
// user's sign-ins in sequence within a worker, and the worker's total low,
// bounds both counts by the number of workers, as when each worker answered
// one API call at a time, while different users' scrypt runs overlap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ngx.hpp"

namespace pat::ngx {

inline constexpr std::size_t kMaxConcurrentSignIns = 4;

// The gate's key for an API request: the canonical user name of its Basic
// credentials, or empty when the request carries none that could reach a
// password check (no header, a Bearer token, an invalid name). Event loop.
std::string sign_in_key(const ngx_str_t* authorization);

// Held while one API call runs; an empty key passes without waiting.
class SignInPass {
   public:
    explicit SignInPass(std::string_view key);  // may wait; thread-pool threads only
    ~SignInPass();
    SignInPass(const SignInPass&) = delete;
    SignInPass& operator=(const SignInPass&) = delete;

   private:
    std::string key_;
    bool counted_ = false;
};

}  // namespace pat::ngx
