// The access-phase handler: translates the request into one
// pat::Store::decide() call and the decision into an nginx status.
#pragma once

#include "ngx.hpp"

namespace pat::ngx {

ngx_int_t access_handler(ngx_http_request_t* r) noexcept;

// Subrequests skip nginx's access phase, so access_handler never sees them:
// `auth_request` pointed at a location protected by auth_pat would allow
// everything. This rewrite-phase handler (it runs before `return`) refuses
// (403, logged) a subrequest to a protected location unless its main request
// was allowed by auth_pat, and then decides it like a main request, for the
// subrequest's own location; main requests pass through untouched.
ngx_int_t subrequest_guard(ngx_http_request_t* r) noexcept;

}  // namespace pat::ngx
