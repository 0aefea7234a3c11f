// The one decision every caller makes: the nginx module for Basic and Bearer,
// on git and REST routes, and `patctl check`. There is no other path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pat/names.hpp"
#include "pat/permission.hpp"
#include "pat/token.hpp"

namespace pat {

enum class Reason : std::uint8_t {
    allowed,
    malformed_token,  // not the token format at all
    bad_checksum,     // token format, wrong checksum: rejected before lookup
    unknown_token,    // no such digest in the store
    revoked,
    expired,
    wrong_user,    // Basic auth names someone other than the owner
    user_unknown,  // the owner no longer exists
    user_disabled,
    invalid_target,       // project key or repository slug is not a valid name
    token_level_too_low,  // the token's own permissions do not cover the need
    user_level_too_low,   // the owner cannot (any longer) do it
    route_not_allowed,    // authenticated, but the route is not one we allow
    store_error,          // the store could not be read: fail closed (HTTP 500)
    no_credentials,       // no credentials, and not a read of a public repository (decide_public): 401
    rotated,              // replaced by a rotation (Store::rotate_token): 401 like any refusal
};

std::string_view reason_name(Reason reason) noexcept;  // "allowed", "unknown token", ...

// How a caller must answer: the HTTP mapping lives here so that every caller
// maps the same way.
enum class Verdict : std::uint8_t {
    allow,            // pass
    unauthenticated,  // 401: identical response whatever the reason
    forbidden,        // 403: the credentials are good, the permission is missing
    fault,            // 500: the store failed; never overridable
};
Verdict verdict_of(Reason reason) noexcept;

struct AccessRequest {
    std::string_view token;       // the secret text, borrowed; never copied
    bool has_basic_user = false;  // true for Basic: basic_user must be the owner
    std::string_view basic_user;
    Need need = Need::authenticated;
    std::string_view project;  // as it appears in the URL; canonicalised inside
    std::string_view repo;     // likewise; empty for project needs
};

class Store;

// The outcome of Store::decide. The identity it found (token id, owner) is
// handed out in two ways that cannot be confused: allowed_*() is what may be
// published ($pat_user, $pat_token_id, REMOTE_USER, X-Remote-User: anything
// an upstream trusts) and is empty unless the decision allows; logged_*()
// is for error.log and `patctl check` only, to say who was refused. A
// revoked, expired, wrong-user, disabled-user or too-weak token must never
// reach an upstream as an identity (`satisfy any` lets refused requests
// through on an allow rule).
class Decision {
   public:
    Reason reason = Reason::store_error;

    bool allowed() const noexcept { return reason == Reason::allowed; }

    // NUL-terminated; "" unless allowed(). Never the token text.
    const char* allowed_user() const noexcept { return allowed() ? user_ : ""; }
    const char* allowed_token_id() const noexcept { return allowed() ? token_id_ : ""; }

    // Whoever the token names, allowed or not ("" before the token was
    // found). For logs of refusals only: never publish these.
    const char* logged_user() const noexcept { return user_; }
    const char* logged_token_id() const noexcept { return token_id_; }

   private:
    friend class Store;  // Store::decide fills the identity once it finds the token
    char token_id_[kTokenIdLength + 1] = {};
    char user_[kMaxUserName + 1] = {};
};

}  // namespace pat
