// What a denied client receives besides the status: the WWW-Authenticate
// challenges and, on REST routes, Bitbucket's JSON error body (its text is
// the core's: pat/error_body.hpp).
//
// The access handler only returns a status (so that `satisfy any` can still
// let a 401/403 through and error_page still applies); nginx then builds its
// error page, and these filters replace that page with the JSON body when
// the response is the one our own denial produced.
#pragma once

#include "ngx.hpp"

namespace pat::ngx {

// Installs the header and body filters (postconfiguration).
void install_error_filters() noexcept;

// Adds `WWW-Authenticate: Basic realm="REALM"` the way auth_basic does (the
// access phase removes it if `satisfy any` lets the request through).
// False when the pool is exhausted.
bool add_basic_challenge(ngx_http_request_t* r, const ngx_str_t& realm) noexcept;

}  // namespace pat::ngx
