#include "access_handler.hpp"

#include <array>
#include <cstring>
#include <string_view>

#include "pat/authorization.hpp"
#include "error_response.hpp"
#include "last_used.hpp"
#include "module_conf.hpp"
#include "pat/decision.hpp"
#include "pat/names.hpp"
#include "pat/route.hpp"
#include "pat/store.hpp"
#include "request_context.hpp"
#include "worker_state.hpp"
#include "worker_stores.hpp"

namespace pat::ngx {

namespace {

std::string_view view(const ngx_str_t& s) {
    return {reinterpret_cast<const char*>(s.data), s.len};
}

// Zeroes the decoded credentials however the handler leaves.
class ScratchWiper {
public:
    explicit ScratchWiper(std::array<unsigned char, kCredentialsScratchSize>& buffer)
        : buffer_(buffer) {}
    ~ScratchWiper() { ngx_explicit_memzero(buffer_.data(), buffer_.size()); }
    ScratchWiper(const ScratchWiper&) = delete;
    ScratchWiper& operator=(const ScratchWiper&) = delete;

private:
    std::array<unsigned char, kCredentialsScratchSize>& buffer_;
};

// What the request needs, from the route classifier or auth_pat_require.
struct Target {
    Need need = Need::authenticated;
    std::string_view project;
    std::string_view repo;
};

enum class TargetResult { ok, bad_request, error };

TargetResult evaluate(ngx_http_request_t* r, ngx_http_complex_value_t* value, std::string_view& out) {
    if (value == nullptr || value == NGX_CONF_UNSET_PTR) return TargetResult::ok;
    ngx_str_t text;
    if (ngx_http_complex_value(r, value, &text) != NGX_OK) return TargetResult::error;
    out = view(text);
    return TargetResult::ok;
}

TargetResult find_target(ngx_http_request_t* r, const LocConf& conf, Target& target) {
    const auto route = static_cast<RouteKind>(conf.route);
    if (route == RouteKind::git || route == RouteKind::rest) {
        const RouteInput input{view(r->method_name), view(r->uri), view(r->args)};
        const Route found =
            route == RouteKind::git ? classify_git_request(input)
                                    : classify_rest_request(input, static_cast<const RestRules*>(conf.rest_rules));
        switch (found.outcome) {
            case Route::Outcome::bad_request: return TargetResult::bad_request;
            case Route::Outcome::unrecognised: target.need = Need::unrecognised_route; break;
            case Route::Outcome::classified:
                target.need = found.need;
                target.project = found.project;
                target.repo = found.repo;
                break;
        }
        return TargetResult::ok;
    }
    if (conf.require == NGX_CONF_UNSET_UINT) return TargetResult::ok;  // a valid token suffices
    target.need = static_cast<Need>(conf.require);
    if (evaluate(r, conf.project, target.project) != TargetResult::ok) return TargetResult::error;
    if (evaluate(r, conf.repo, target.repo) != TargetResult::ok) return TargetResult::error;
    return TargetResult::ok;
}

// The Basic user as the client sent it, for the log only when it is a valid
// name: anything else could forge log lines.
const char* loggable_user(const AuthorizationCredentials& credentials, char (&buffer)[kMaxUserName + 1]) {
    if (credentials.scheme != AuthScheme::basic) return "-";
    if (!is_valid_user_name(credentials.user)) return "(not a valid user name)";
    std::memcpy(buffer, credentials.user.data(), credentials.user.size());
    buffer[credentials.user.size()] = '\0';
    return buffer;
}

ngx_int_t deny(RequestContext& ctx, ngx_uint_t status) {
    ctx.denied_status = status;
    return static_cast<ngx_int_t>(status);
}

ngx_int_t unauthenticated(ngx_http_request_t* r, RequestContext& ctx, const ngx_str_t& realm) {
    if (!add_basic_challenge(r, realm)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return deny(ctx, NGX_HTTP_UNAUTHORIZED);
}

// A store fault: 500, which the access phase finalizes at once whatever
// `satisfy` says (only 401 and 403 are soft).
ngx_int_t fault(RequestContext& ctx) {
    return deny(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
}

ngx_int_t decide(ngx_http_request_t* r, const LocConf& conf, RequestContext& ctx,
                 const ngx_str_t& realm) {
    ngx_log_t* log = r->connection->log;

    if (!is_safe_raw_uri(view(r->unparsed_uri))) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_pat: refused a request target with encoded slashes, backslashes, "
                      "';' or dot segments");
        return deny(ctx, NGX_HTTP_BAD_REQUEST);
    }

    Target target;
    switch (find_target(r, conf, target)) {
        case TargetResult::ok: break;
        case TargetResult::bad_request:
            ngx_log_error(NGX_LOG_ERR, log, 0, "auth_pat: refused an ambiguous git or REST request");
            return deny(ctx, NGX_HTTP_BAD_REQUEST);
        case TargetResult::error: return fault(ctx);
    }

    if (r->headers_in.authorization == nullptr) {
        ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: no credentials were provided");
        return unauthenticated(r, ctx, realm);
    }

    std::array<unsigned char, kCredentialsScratchSize> scratch;
    ScratchWiper wiper(scratch);
    AuthorizationCredentials credentials;
    const AuthorizationError error =
        parse_authorization(view(r->headers_in.authorization->value), scratch, credentials);
    if (error != AuthorizationError::none) {
        const std::string_view why = authorization_error_name(error);
        ngx_log_error(NGX_LOG_ERR, log, 0, "auth_pat: rejected a malformed Authorization header: %*s",
                      why.size(), why.data());
        return unauthenticated(r, ctx, realm);
    }

    const auto* stores = static_cast<const StoreConf*>(main_conf(r)->stores->elts);
    const ngx_str_t& path = stores[conf.db_index].path;
    Store* store = store_for_decision(conf.db_index, log);
    TokenHasher* hasher = worker_hasher();
    if (store == nullptr || hasher == nullptr) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no usable store \"%V\": answering 500", &path);
        return fault(ctx);
    }

    AccessRequest request;
    request.token = credentials.token;
    request.has_basic_user = credentials.scheme == AuthScheme::basic;
    request.basic_user = credentials.user;
    request.need = target.need;
    request.project = target.project;
    request.repo = target.repo;

    const ngx_time_t* now = ngx_timeofday();
    const std::int64_t now_ms = static_cast<std::int64_t>(now->sec) * 1000 + now->msec;
    const Decision decision = store->decide(*hasher, request, now_ms);

    std::memcpy(ctx.user, decision.user, sizeof ctx.user);
    std::memcpy(ctx.token_id, decision.token_id, sizeof ctx.token_id);
    ctx.user[kMaxUserName] = '\0';
    ctx.token_id[kTokenIdLength] = '\0';

    const std::string_view reason = reason_name(decision.reason);
    const char* token_id = decision.token_id[0] != '\0' ? ctx.token_id : "-";
    char basic_user[kMaxUserName + 1];

    switch (verdict_of(decision.reason)) {
        case Verdict::allow:
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0, "auth_pat: token %s of user \"%s\" allowed",
                           token_id, ctx.user);
            // In memory only; a worker timer writes it later (last_used.hpp).
            note_token_use(conf.db_index, decision.token_id, now_ms);
            return NGX_OK;
        case Verdict::unauthenticated:
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "auth_pat: %s credentials rejected: %*s (Basic user \"%s\", token %s)",
                          credentials.scheme == AuthScheme::basic ? "Basic" : "Bearer", reason.size(),
                          reason.data(), loggable_user(credentials, basic_user), token_id);
            return unauthenticated(r, ctx, realm);
        case Verdict::forbidden: {
            const std::string_view need = need_name(target.need);
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "auth_pat: user \"%s\" with token %s denied %*s on \"%*s/%*s\": %*s",
                          ctx.user, token_id, need.size(), need.data(), target.project.size(),
                          target.project.data(), target.repo.size(), target.repo.data(),
                          reason.size(), reason.data());
            return deny(ctx, NGX_HTTP_FORBIDDEN);
        }
        case Verdict::fault:
            break;
    }
    ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: the store \"%V\" failed a decision (%*s): "
                  "answering 500 and reopening it", &path, reason.size(), reason.data());
    drop_failed_store(conf.db_index);
    return fault(ctx);
}

}  // namespace

ngx_int_t access_handler(ngx_http_request_t* r) noexcept {
    try {
        const LocConf* conf = loc_conf(r);
        if (conf->realm == nullptr || conf->realm == NGX_CONF_UNSET_PTR) return NGX_DECLINED;

        ngx_str_t realm;
        if (ngx_http_complex_value(r, conf->realm, &realm) != NGX_OK) return NGX_ERROR;
        if (view(realm) == "off") return NGX_DECLINED;

        RequestContext* ctx = request_context(r);
        if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_memzero(ctx, sizeof *ctx);
        ctx->realm = realm;
        ctx->rest_route = static_cast<RouteKind>(conf->route) == RouteKind::rest;

        if (conf->db_index == NGX_CONF_UNSET_UINT) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "auth_pat: protected location without auth_pat_db: answering 500");
            return fault(*ctx);
        }
        return decide(r, *conf, *ctx, realm);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat: unexpected exception");
    }
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace pat::ngx
