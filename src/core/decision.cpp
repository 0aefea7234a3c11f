#include "pat/decision.hpp"

namespace pat {

std::string_view reason_name(Reason reason) noexcept {
    switch (reason) {
        case Reason::allowed: return "allowed";
        case Reason::malformed_token: return "malformed token";
        case Reason::bad_checksum: return "bad checksum";
        case Reason::unknown_token: return "unknown token";
        case Reason::revoked: return "revoked";
        case Reason::expired: return "expired";
        case Reason::wrong_user: return "wrong user";
        case Reason::user_unknown: return "user unknown";
        case Reason::user_disabled: return "user disabled";
        case Reason::invalid_target: return "invalid project or repository name";
        case Reason::token_level_too_low: return "token level too low";
        case Reason::user_level_too_low: return "user level too low";
        case Reason::route_not_allowed: return "route not allowed";
        case Reason::no_credentials: return "no credentials";
        case Reason::rotated: return "rotated";
        case Reason::store_error: return "store error";
    }
    return "store error";
}

Verdict verdict_of(Reason reason) noexcept {
    switch (reason) {
        case Reason::allowed: return Verdict::allow;
        case Reason::invalid_target:
        case Reason::token_level_too_low:
        case Reason::user_level_too_low:
        case Reason::route_not_allowed: return Verdict::forbidden;
        case Reason::store_error: return Verdict::fault;
        case Reason::no_credentials:
        case Reason::malformed_token:
        case Reason::bad_checksum:
        case Reason::unknown_token:
        case Reason::revoked:
        case Reason::rotated:
        case Reason::expired:
        case Reason::wrong_user:
        case Reason::user_unknown:
        case Reason::user_disabled: return Verdict::unauthenticated;
    }
    return Verdict::fault;
}

}  // namespace pat
