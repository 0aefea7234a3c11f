// The access-phase handler: translates the request into one
// pat::Store::decide() call and the decision into an nginx status.
#pragma once

#include "ngx.hpp"

namespace pat::ngx {

ngx_int_t access_handler(ngx_http_request_t* r) noexcept;

}  // namespace pat::ngx
