#include "rest_rules_conf.hpp"

#include <new>
#include <string_view>

#include "helpers.hpp"
#include "module_conf.hpp"
#include "pat/route.hpp"

namespace pat::ngx {

namespace {

void destroy_rules(void* data) noexcept {
    static_cast<RestRules*>(data)->~RestRules();
}

}  // namespace

char* set_rest_rule(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    const auto* value = static_cast<ngx_str_t*>(cf->args->elts);
    try {
        if (lcf->rest_rules == NGX_CONF_UNSET_PTR) {
            ngx_pool_cleanup_t* cleanup = ngx_pool_cleanup_add(cf->pool, sizeof(RestRules));
            if (cleanup == nullptr) return static_cast<char*>(NGX_CONF_ERROR);
            lcf->rest_rules = new (cleanup->data) RestRules();
            cleanup->handler = destroy_rules;
        }
        const Status status =
            static_cast<RestRules*>(lcf->rest_rules)->add(view(value[1]), view(value[2]), view(value[3]));
        if (!status.ok()) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"auth_pat_rest_rule\": %s", status.message().c_str());
            return static_cast<char*>(NGX_CONF_ERROR);
        }
    } catch (...) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"auth_pat_rest_rule\": out of memory");
        return static_cast<char*>(NGX_CONF_ERROR);
    }
    return NGX_CONF_OK;
}

}  // namespace pat::ngx
