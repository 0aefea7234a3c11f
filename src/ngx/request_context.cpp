#include "request_context.hpp"

#include "module_conf.hpp"

namespace pat::ngx {

RequestContext* find_request_context(ngx_http_request_t* r) noexcept {
    return static_cast<RequestContext*>(ngx_http_get_module_ctx(r, ngx_http_auth_pat_module));
}

RequestContext* request_context(ngx_http_request_t* r) noexcept {
    RequestContext* ctx = find_request_context(r);
    if (ctx != nullptr) return ctx;
    ctx = static_cast<RequestContext*>(ngx_pcalloc(r->pool, sizeof(RequestContext)));
    if (ctx != nullptr) ngx_http_set_ctx(r, ctx, ngx_http_auth_pat_module);
    return ctx;
}

}  // namespace pat::ngx
