// auth_pat_rest_rule METHOD PATH-TEMPLATE NEED: a sysadmin's REST rule, tried
// before the built-in table (the rule language is the core's: pat::RestRules).
#pragma once

#include "ngx.hpp"

namespace pat::ngx {

// The directive's handler: appends to the location's rules (created on the
// configuration pool, destroyed with it). A bad rule fails `nginx -t` with the
// core's message.
char* set_rest_rule(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

}  // namespace pat::ngx
