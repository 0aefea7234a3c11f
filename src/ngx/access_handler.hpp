// The access-phase handler: translates the request into one
// pat::Store::decide() call and the decision into an nginx status.
#pragma once

#include "ngx.hpp"

namespace pat::ngx {

ngx_int_t access_handler(ngx_http_request_t* r) noexcept;

// Runs in the rewrite phase (before `return`, and whatever `satisfy` says),
// for two things the access phase cannot do:
// - Subrequests skip nginx's access phase, so access_handler never sees
//   them: `auth_request` pointed at a location protected by auth_pat would
//   allow everything. A subrequest to a protected location is refused (403,
//   logged) unless its main request was allowed by auth_pat, and then decided
//   like a main request, for the subrequest's own location.
// - On a location auth_pat does not protect, a Basic user name shaped like a
//   token is emptied, so that $remote_user never shows a token.
// Main requests otherwise pass through untouched.
ngx_int_t rewrite_phase_handler(ngx_http_request_t* r) noexcept;

}  // namespace pat::ngx
