#include "error_filter.hpp"

#include <string_view>

#include "helpers.hpp"
#include "pat/error_body.hpp"
#include "request_context.hpp"

namespace pat::ngx {

namespace {

ngx_http_output_header_filter_pt next_header_filter;
ngx_http_output_body_filter_pt next_body_filter;

// A realm goes inside a quoted-string: escape '"' and '\'.
ngx_str_t challenge(ngx_pool_t* pool, std::string_view scheme, const ngx_str_t& realm) {
    ngx_str_t value{0, nullptr};
    constexpr std::string_view realm_open = " realm=\"";
    const size_t capacity = scheme.size() + realm_open.size() + 2 * realm.len + 1;
    auto* out = static_cast<u_char*>(ngx_pnalloc(pool, capacity));
    if (out == nullptr) return value;
    u_char* p = ngx_cpymem(out, scheme.data(), scheme.size());
    p = ngx_cpymem(p, realm_open.data(), realm_open.size());
    for (size_t i = 0; i < realm.len; ++i) {
        if (realm.data[i] == '"' || realm.data[i] == '\\') *p++ = '\\';
        *p++ = realm.data[i];
    }
    *p++ = '"';
    value.data = out;
    value.len = static_cast<size_t>(p - out);
    return value;
}

ngx_table_elt_t* push_www_authenticate(ngx_http_request_t* r, ngx_str_t value) {
    if (value.data == nullptr) return nullptr;
    return push_response_header(r, "WWW-Authenticate", value);
}

// Is this response the one our own denial produced? nginx sets err_status
// when it builds an error page; an upstream's own 401 or 403 does not, and a
// request that `satisfy any` let through carries no error status at all.
// The JSON body for our own denial: by status, but a stale replica's 503
// says so (the other 503: the store is being reopened).
std::string_view denial_body(const RequestContext& ctx) {
    if (ctx.stale_replica && ctx.denied_status == NGX_HTTP_SERVICE_UNAVAILABLE) return stale_replica_error_body();
    return fixed_error_body(static_cast<int>(ctx.denied_status));
}

RequestContext* own_denial(ngx_http_request_t* r) {
    if (r != r->main) return nullptr;
    RequestContext* ctx = find_request_context(r);
    if (ctx == nullptr || ctx->denied_status == 0) return nullptr;
    if (r->err_status != ctx->denied_status || r->headers_out.status != ctx->denied_status) {
        return nullptr;
    }
    return ctx;
}

ngx_int_t header_filter(ngx_http_request_t* r) noexcept {
    RequestContext* ctx = own_denial(r);
    if (ctx == nullptr || !ctx->rest_route) return next_header_filter(r);

    if (ctx->denied_status == NGX_HTTP_UNAUTHORIZED) {
        // REST clients may use either scheme; the Basic challenge is
        // already there (added by the access handler).
        if (push_www_authenticate(r, challenge(r->pool, "Bearer", ctx->realm)) == nullptr) {
            return NGX_ERROR;
        }
    }

    const std::string_view body = denial_body(*ctx);
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = nullptr;
    r->headers_out.charset.len = 0;
    r->headers_out.content_length_n = static_cast<off_t>(body.size());
    if (r->headers_out.content_length != nullptr) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = nullptr;
    }
    ctx->replacing_body = 1;
    return next_header_filter(r);
}

ngx_int_t body_filter(ngx_http_request_t* r, ngx_chain_t* in) noexcept {
    RequestContext* ctx = r == r->main ? find_request_context(r) : nullptr;
    if (ctx == nullptr || !ctx->replacing_body) return next_body_filter(r, in);

    // Swallow nginx's HTML error page; send the JSON body once instead.
    for (ngx_chain_t* link = in; link != nullptr; link = link->next) {
        link->buf->pos = link->buf->last;
        link->buf->file_pos = link->buf->file_last;
    }
    if (ctx->body_sent) return NGX_OK;
    ctx->body_sent = 1;

    const std::string_view body = denial_body(*ctx);
    auto* buf = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
    if (buf == nullptr) return NGX_ERROR;
    buf->pos = reinterpret_cast<u_char*>(const_cast<char*>(body.data()));
    buf->last = buf->pos + body.size();
    buf->memory = 1;
    buf->last_buf = 1;
    buf->last_in_chain = 1;
    ngx_chain_t out{buf, nullptr};
    return next_body_filter(r, &out);
}

}  // namespace

void install_error_filters() noexcept {
    next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = header_filter;
    next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = body_filter;
}

bool add_basic_challenge(ngx_http_request_t* r, const ngx_str_t& realm) noexcept {
    ngx_table_elt_t* header = push_www_authenticate(r, challenge(r->pool, "Basic", realm));
    if (header == nullptr) return false;
    r->headers_out.www_authenticate = header;
    return true;
}

}  // namespace pat::ngx
