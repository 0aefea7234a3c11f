// Per-request state of the module. Allocated zeroed from r->pool and
// trivially destructible: an internal redirect (error_page, try_files, a
// named location) zeroes every module's ctx and re-runs the access phase, so
// each location decides for itself and nothing here outlives its decision.
#pragma once

#include <type_traits>

#include "ngx.hpp"
#include "pat/decision.hpp"

namespace pat::ngx {

struct RequestContext {
    // Who the decision allowed (for $pat_user and $pat_token_id); empty
    // unless the decision allowed, whatever `satisfy` does next. Never the
    // token text.
    char user[kMaxUserName + 1];
    char token_id[kTokenIdLength + 1];

    // The status this module denied the request with, so that the error
    // filters touch only the response that carries our own denial (not an
    // upstream's 401, not a request that `satisfy any` let through).
    ngx_uint_t denied_status;
    ngx_str_t realm;  // for the Bearer challenge, in r->pool

    unsigned public_read : 1;     // allowed without credentials (a public repository): no identity
    unsigned rest_route : 1;      // errors in Bitbucket's JSON shape
    unsigned replacing_body : 1;  // the body filter swaps nginx's page for JSON
    unsigned body_sent : 1;
    unsigned stale_replica : 1;  // the 503 of a stale fleet replica: its own body
};

static_assert(std::is_trivially_destructible_v<RequestContext>);

// The request's ctx, created on first use; nullptr only when the pool is
// exhausted.
RequestContext* request_context(ngx_http_request_t* r) noexcept;
// The ctx if the access handler created one for this request, else nullptr.
RequestContext* find_request_context(ngx_http_request_t* r) noexcept;

}  // namespace pat::ngx
