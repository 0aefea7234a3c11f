// The token-management API's content handler (auth_pat_api): reads the
// request body, runs pat::ManagementApi::handle on a thread pool (a write
// fsyncs, a password check runs a KDF) and sends the answer from the event
// loop.
#pragma once

#include "ngx.hpp"

namespace pat::ngx {

ngx_int_t api_content_handler(ngx_http_request_t* r) noexcept;

}  // namespace pat::ngx
