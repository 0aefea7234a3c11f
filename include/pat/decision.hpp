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
    malformed_token,      // not the token format at all
    bad_checksum,         // token format, wrong checksum: rejected before lookup
    unknown_token,        // no such digest in the store
    revoked,
    expired,
    wrong_user,           // Basic auth names someone other than the owner
    user_unknown,         // the owner no longer exists
    user_disabled,
    invalid_target,       // project key or repository slug is not a valid name
    token_level_too_low,  // the token's own permissions do not cover the need
    user_level_too_low,   // the owner cannot (any longer) do it
    route_not_allowed,    // authenticated, but the route is not one we allow
    store_error,          // the store could not be read: fail closed (HTTP 500)
};

std::string_view reason_name(Reason reason) noexcept;  // "allowed", "unknown token", ...

// How a caller must answer: the HTTP mapping lives here so that every caller
// maps the same way.
enum class Verdict : std::uint8_t {
    allow,          // pass
    unauthenticated,  // 401: identical response whatever the reason
    forbidden,      // 403: the credentials are good, the permission is missing
    fault,          // 500: the store failed; never overridable
};
Verdict verdict_of(Reason reason) noexcept;

struct AccessRequest {
    std::string_view token;        // the secret text, borrowed; never copied
    bool has_basic_user = false;   // true for Basic: basic_user must be the owner
    std::string_view basic_user;
    Need need = Need::authenticated;
    std::string_view project;      // as it appears in the URL; canonicalised inside
    std::string_view repo;         // likewise; empty for project needs
};

struct Decision {
    Reason reason = Reason::store_error;
    // Filled once the token is found (for logs and $pat_* variables);
    // NUL-terminated, empty otherwise. Never the token text.
    char token_id[kTokenIdLength + 1] = {};
    char user[kMaxUserName + 1] = {};

    bool allowed() const noexcept { return reason == Reason::allowed; }
};

}  // namespace pat
