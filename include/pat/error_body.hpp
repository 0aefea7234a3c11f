// Bitbucket Server's error answers that do not depend on the request: the
// bodies the access phase sends when it refuses a REST request, and the
// answers the token API's glue sends when the core cannot be reached (the
// store is unavailable or being reopened). Their text lives here once; the
// glue only sends it.
//
//   {"errors":[{"context":null,"message":"...","exceptionName":null}]}
//
// The 401 text is the same whatever the reason, so that a client learns
// nothing about why its credentials failed.
#pragma once

#include <string_view>

#include "pat/management_api.hpp"

namespace pat {

// The statuses with a fixed body: 400 (a malformed or ambiguous request),
// 401, 403, 500 and 503 (the store is being reopened: retry in a second).
// Any other status gets the 500 body.
//
// Constant text with static storage: safe to point a response buffer at.
std::string_view fixed_error_body(int status) noexcept;
// The message inside it.
std::string_view fixed_error_message(int status) noexcept;

// The 503 body for a stale fleet replica (auth_pat_max_staleness): the
// node's token replica is not up to date, unlike the 503 above (the store
// is being reopened). Constant text with static storage too.
std::string_view stale_replica_error_body() noexcept;
std::string_view stale_replica_error_message() noexcept;

// The same as a token-API answer: the status (500 for one without a fixed
// body), Bitbucket's JSON content type, the body, and `Retry-After: 1` for
// 503. May throw std::bad_alloc.
ApiResponse fixed_error_response(int status);

}  // namespace pat
