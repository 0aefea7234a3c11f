#include "access_handler.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include "error_filter.hpp"
#include "helpers.hpp"
#include "metrics.hpp"
#include "module_conf.hpp"
#include "pat/authorization.hpp"
#include "pat/decision.hpp"
#include "pat/names.hpp"
#include "pat/route.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"
#include "request_context.hpp"
#include "worker.hpp"

namespace pat::ngx {

namespace {

// Zeroes the decoded credentials however the handler leaves.
class ScratchWiper {
   public:
    explicit ScratchWiper(std::array<unsigned char, kCredentialsScratchSize>& buffer) : buffer_(buffer) {}
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
        const Route found = route == RouteKind::git
                                ? classify_git_request(input)
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
// name: anything else could forge log lines, and a token sent as the user
// name is a secret (the parser hands it over as the token, never as a name).
const char* loggable_user(const AuthorizationCredentials& credentials, char (&buffer)[kMaxUserName + 1]) {
    if (credentials.scheme != AuthScheme::basic) return "-";
    if (credentials.token_as_user) return "(a token was sent as the user name)";
    if (looks_like_token(credentials.user)) return "(a token was sent as the user name)";
    if (!is_valid_user_name(credentials.user)) return "(not a valid user name)";
    std::memcpy(buffer, credentials.user.data(), credentials.user.size());
    buffer[credentials.user.size()] = '\0';
    return buffer;
}

// How the decision ended, for auth_pat_status: set on every way out of
// decide() and counted once by the access handler.
struct Outcome {
    AccessOutcome value = AccessOutcome::internal_error;
    bool stale = false;  // refused with 503 on a stale replica: auth_pat_requests_stale_total instead
};

ngx_int_t deny(RequestContext& ctx, ngx_uint_t status, Outcome& outcome, AccessOutcome why) {
    outcome.value = why;
    ctx.denied_status = status;
    return static_cast<ngx_int_t>(status);
}

ngx_int_t unauthenticated(ngx_http_request_t* r, RequestContext& ctx, const ngx_str_t& realm, Outcome& outcome,
                          AccessOutcome why) {
    if (!add_basic_challenge(r, realm)) {
        outcome.value = AccessOutcome::internal_error;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return deny(ctx, NGX_HTTP_UNAUTHORIZED, outcome, why);
}

// A store fault: 500, which the access phase finalizes at once whatever
// `satisfy` says (only 401 and 403 are soft).
ngx_int_t fault(RequestContext& ctx, Outcome& outcome, AccessOutcome why) {
    return deny(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR, outcome, why);
}

// A fleet replica not verified against its source for longer than the
// location's auth_pat_max_staleness: 503 with Retry-After, never 401 (git
// would erase the user's stored credentials) and never an allow. Logged
// aggregated by the worker's timer (worker_stores.cpp), not per request.
ngx_int_t stale_replica(ngx_http_request_t* r, RequestContext& ctx, Outcome& outcome) {
    static ngx_str_t kRetryAfter = ngx_string("5");  // seconds; the follower verifies once a second
    if (push_response_header(r, "Retry-After", kRetryAfter) == nullptr) {
        outcome.value = AccessOutcome::internal_error;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    outcome.stale = true;
    ctx.stale_replica = 1;
    ctx.denied_status = NGX_HTTP_SERVICE_UNAVAILABLE;
    return NGX_HTTP_SERVICE_UNAVAILABLE;
}

const ngx_str_t& store_path(ngx_http_request_t* r, const LocConf& conf) {
    const auto* stores = static_cast<const StoreConf*>(main_conf(r)->stores->elts);
    return stores[conf.db_index].path;
}

// A fleet replica whose file the follower replaced (a rebuild renamed over
// it) while the worker waits to open the new one (WorkerStores::
// replacing_replica): a planned, momentary unavailability, so 503 with
// `Retry-After: 1` (never 401, never an allow), not the 500 of a store
// fault. Counted as store_unavailable.
ngx_int_t replacing_replica(ngx_http_request_t* r, const LocConf& conf, RequestContext& ctx, Outcome& outcome) {
    static ngx_str_t kRetryAfter = ngx_string("1");  // the worker retries every 100 ms
    if (push_response_header(r, "Retry-After", kRetryAfter) == nullptr) {
        outcome.value = AccessOutcome::internal_error;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    outcome.value = AccessOutcome::store_unavailable;
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "auth_pat: the fleet replica \"%V\" was replaced and is not reopened yet: answering 503",
                  &store_path(r, conf));
    ctx.denied_status = NGX_HTTP_SERVICE_UNAVAILABLE;
    return NGX_HTTP_SERVICE_UNAVAILABLE;
}

// Whether the location's replica is too stale to decide with: one compare
// of nginx's clock with the gate's deadline (WorkerStores::stale); the rest
// runs only for a request found stale.
bool replica_too_stale(const LocConf& conf, Worker* worker, ngx_log_t* log) noexcept {
    return conf.gate != NGX_CONF_UNSET_UINT && worker != nullptr && worker->stores().stale(conf.gate) &&
           worker->stores().confirm_stale(conf.gate, log);
}

template <std::size_t N>
void copy_identity(char (&out)[N], const char* text) {
    const std::size_t n = std::min(std::strlen(text), N - 1);
    std::memcpy(out, text, n);
    out[n] = '\0';
}

// $remote_user shows nothing: nginx answers "no user" without parsing the
// Authorization header again when headers_in.user is empty with non-NULL
// data (ngx_http_auth_basic_user). Used on every request this module
// refuses, and on an allowed "<token>:" Basic request, whose user name is
// the token: the default `combined` access log prints $remote_user, and a
// refused request can still reach an upstream under `satisfy any`.
void hide_remote_user(ngx_http_request_t* r) {
    r->headers_in.user.len = 0;
    r->headers_in.user.data = reinterpret_cast<u_char*>(const_cast<char*>(""));
}

// On a location auth_pat does not protect (the token API passed to patd,
// static files, anything), $remote_user is nginx's raw Basic user name, and
// `curl -u TOKEN:` puts a token there: the combined access log would print
// it. A user name shaped like a token is wiped and emptied once per request,
// before any variable is read; the Authorization header itself is left as
// it is (patd needs it).
void hide_token_as_user_name(ngx_http_request_t* r) {
    if (r->headers_in.authorization == nullptr || r->headers_in.user.data != nullptr) return;
    if (ngx_http_auth_basic_user(r) != NGX_OK) return;
    if (!looks_like_token(view(r->headers_in.user))) return;
    ngx_explicit_memzero(r->headers_in.user.data, r->headers_in.user.len);
    hide_remote_user(r);
}

// The request target as the client sent it. nginx keeps only the path and
// query of an absolute-form target ("GET http://host/scm/... HTTP/1.1") in
// unparsed_uri; the check must see the scheme and host too, so that it
// refuses that form as it refuses anything not starting with '/'. HTTP/2's
// :path has no absolute form (1.22 keeps :scheme in r->schema).
std::string_view raw_target(const ngx_http_request_t* r) {
    const std::string_view path = view(r->unparsed_uri);
    if (r->http_version >= NGX_HTTP_VERSION_20 || r->schema_start == nullptr || path.data() == nullptr ||
        reinterpret_cast<const char*>(r->schema_start) > path.data()) {
        return path;
    }
    const char* start = reinterpret_cast<const char*>(r->schema_start);
    return {start, static_cast<std::size_t>(path.data() + path.size() - start)};
}

// The store failed a read during a decision: 500, and the store is closed
// so that the next request opens it again.
ngx_int_t failed_decision(ngx_http_request_t* r, Worker& worker, const LocConf& conf, RequestContext& ctx,
                          Outcome& outcome, Reason reason) {
    const std::string_view name = reason_name(reason);
    ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                  "auth_pat: the store \"%V\" failed a decision (%*s): "
                  "answering 500 and reopening it",
                  &store_path(r, conf), name.size(), name.data());
    worker.stores().drop_failed(conf.db_index);
    return fault(ctx, outcome, outcome_of(reason));
}

// A repository read without credentials: allowed, with no identity, when
// the repository or its project is public (Store::decide_public); anything
// else is the challenge every request without credentials gets (never a
// 403: git asks for credentials only after a 401). The store is asked, so
// a store that cannot be read answers 500 here, as it does for a token.
ngx_int_t decide_anonymous_read(ngx_http_request_t* r, const LocConf& conf, RequestContext& ctx, const ngx_str_t& realm,
                                Outcome& outcome, const Target& target) {
    ngx_log_t* log = r->connection->log;
    Worker* worker = Worker::current();
    bool opened = false;
    Store* store = worker != nullptr ? worker->stores().for_decision(conf.db_index, log, &opened) : nullptr;
    if (store == nullptr) {
        if (worker != nullptr && worker->stores().replacing_replica(conf.db_index)) {
            return replacing_replica(r, conf, ctx, outcome);
        }
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no usable store \"%V\": answering 500", &store_path(r, conf));
        return fault(ctx, outcome, AccessOutcome::store_unavailable);
    }
    // Opened just now: its replica state was read with it.
    if (opened && replica_too_stale(conf, worker, log)) return stale_replica(r, ctx, outcome);

    AccessRequest request;
    request.need = target.need;
    request.project = target.project;
    request.repo = target.repo;
    const Decision decision = store->decide_public(request, now_ms());

    switch (verdict_of(decision.reason)) {
        case Verdict::allow:
            ngx_log_debug4(NGX_LOG_DEBUG_HTTP, log, 0, "auth_pat: public read of \"%*s/%*s\" allowed",
                           target.project.size(), target.project.data(), target.repo.size(), target.repo.data());
            // No identity: $pat_user and $pat_token_id stay empty, and
            // $remote_user shows nothing whatever the client sent.
            ctx.public_read = 1;
            hide_remote_user(r);
            outcome.value = AccessOutcome::public_read;
            return NGX_OK;
        case Verdict::fault: return failed_decision(r, *worker, conf, ctx, outcome, decision.reason);
        case Verdict::unauthenticated:
        case Verdict::forbidden: break;
    }
    ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: no credentials were provided");
    return unauthenticated(r, ctx, realm, outcome, AccessOutcome::no_credentials);
}

ngx_int_t decide(ngx_http_request_t* r, const LocConf& conf, RequestContext& ctx, const ngx_str_t& realm,
                 Outcome& outcome) {
    ngx_log_t* log = r->connection->log;

    if (!is_safe_raw_uri(raw_target(r))) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_pat: refused a request target with encoded slashes, backslashes, "
                      "';', dot segments, or in absolute form");
        return deny(ctx, NGX_HTTP_BAD_REQUEST, outcome, AccessOutcome::bad_request);
    }

    Target target;
    switch (find_target(r, conf, target)) {
        case TargetResult::ok: break;
        case TargetResult::bad_request:
            ngx_log_error(NGX_LOG_ERR, log, 0, "auth_pat: refused an ambiguous git or REST request");
            return deny(ctx, NGX_HTTP_BAD_REQUEST, outcome, AccessOutcome::bad_request);
        case TargetResult::error: return fault(ctx, outcome, AccessOutcome::internal_error);
    }

    if (r->headers_in.authorization == nullptr) {
        // Only a repository read may pass without credentials, so only it
        // asks the store; anything else gets the challenge without a lookup.
        if (target.need == Need::repo_read) return decide_anonymous_read(r, conf, ctx, realm, outcome, target);
        ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: no credentials were provided");
        return unauthenticated(r, ctx, realm, outcome, AccessOutcome::no_credentials);
    }

    std::array<unsigned char, kCredentialsScratchSize> scratch;
    ScratchWiper wiper(scratch);
    AuthorizationCredentials credentials;
    const AuthorizationError error =
        parse_authorization(view(r->headers_in.authorization->value), scratch, credentials);
    if (error != AuthorizationError::none) {
        const std::string_view why = authorization_error_name(error);
        ngx_log_error(NGX_LOG_ERR, log, 0, "auth_pat: rejected a malformed Authorization header: %*s", why.size(),
                      why.data());
        return unauthenticated(r, ctx, realm, outcome, AccessOutcome::malformed_authorization);
    }

    const ngx_str_t& path = store_path(r, conf);
    Worker* worker = Worker::current();
    bool opened = false;
    Store* store = worker != nullptr ? worker->stores().for_decision(conf.db_index, log, &opened) : nullptr;
    TokenHasher* hasher = worker != nullptr ? worker->hasher() : nullptr;
    if (store == nullptr && worker != nullptr && worker->stores().replacing_replica(conf.db_index)) {
        return replacing_replica(r, conf, ctx, outcome);
    }
    if (store == nullptr || hasher == nullptr) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no usable store \"%V\": answering 500", &path);
        return fault(ctx, outcome, store == nullptr ? AccessOutcome::store_unavailable : AccessOutcome::internal_error);
    }
    // Opened just now: its replica state was read with it.
    if (opened && replica_too_stale(conf, worker, log)) return stale_replica(r, ctx, outcome);

    AccessRequest request;
    request.token = credentials.token;
    // "<token>:" is decided like Bearer: the token's owner is the identity.
    request.has_basic_user = credentials.scheme == AuthScheme::basic && !credentials.token_as_user;
    request.basic_user = credentials.user;
    request.need = target.need;
    request.project = target.project;
    request.repo = target.repo;

    const std::int64_t now = now_ms();
    const Decision decision = store->decide(*hasher, request, now);

    // $pat_user and $pat_token_id: empty unless the decision allows.
    copy_identity(ctx.user, decision.allowed_user());
    copy_identity(ctx.token_id, decision.allowed_token_id());

    // Who was refused goes to error.log only.
    const std::string_view reason = reason_name(decision.reason);
    const char* token_id = decision.logged_token_id()[0] != '\0' ? decision.logged_token_id() : "-";
    const char* user = decision.logged_user();
    char basic_user[kMaxUserName + 1];
    outcome.value = outcome_of(decision.reason);

    switch (verdict_of(decision.reason)) {
        case Verdict::allow:
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0, "auth_pat: token %s of user \"%s\" allowed", token_id, ctx.user);
            // nginx's own parse of "<token>:" would show the token.
            if (credentials.token_as_user) hide_remote_user(r);
            // In memory only; a worker timer writes it later (last_used.hpp).
            worker->last_used().note(conf.db_index, ctx.token_id, now, r->connection->sockaddr);
            return NGX_OK;
        case Verdict::unauthenticated:
            ngx_log_error(NGX_LOG_ERR, log, 0, "auth_pat: %s credentials rejected: %*s (Basic user \"%s\", token %s)",
                          credentials.scheme == AuthScheme::basic ? "Basic" : "Bearer", reason.size(), reason.data(),
                          loggable_user(credentials, basic_user), token_id);
            return unauthenticated(r, ctx, realm, outcome, outcome.value);
        case Verdict::forbidden: {
            const std::string_view need = need_name(target.need);
            ngx_log_error(NGX_LOG_ERR, log, 0, "auth_pat: user \"%s\" with token %s denied %*s on \"%*s/%*s\": %*s",
                          user, token_id, need.size(), need.data(), target.project.size(), target.project.data(),
                          target.repo.size(), target.repo.data(), reason.size(), reason.data());
            return deny(ctx, NGX_HTTP_FORBIDDEN, outcome, outcome.value);
        }
        case Verdict::fault: break;
    }
    return failed_decision(r, *worker, conf, ctx, outcome, decision.reason);
}

// The location's auth_pat realm, evaluated: NGX_OK with realm set when the
// location is protected; NGX_DECLINED when it is not (no auth_pat, or "off");
// NGX_ERROR when the value cannot be evaluated.
ngx_int_t protected_realm(ngx_http_request_t* r, const LocConf& conf, ngx_str_t& realm) {
    if (conf.realm == nullptr || conf.realm == NGX_CONF_UNSET_PTR) return NGX_DECLINED;
    if (ngx_http_complex_value(r, conf.realm, &realm) != NGX_OK) return NGX_ERROR;
    return view(realm) == "off" ? NGX_DECLINED : NGX_OK;
}

}  // namespace

ngx_int_t access_handler(ngx_http_request_t* r) noexcept {
    const MainConf* mcf = main_conf(r);
    try {
        const LocConf* conf = loc_conf(r);
        ngx_str_t realm;
        if (const ngx_int_t rc = protected_realm(r, *conf, realm); rc != NGX_OK) {
            if (rc != NGX_DECLINED) count_outcome(mcf, AccessOutcome::internal_error);
            return rc;
        }

        RequestContext* ctx = request_context(r);
        if (ctx == nullptr) {
            count_outcome(mcf, AccessOutcome::internal_error);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_memzero(ctx, sizeof *ctx);
        ctx->realm = realm;
        ctx->rest_route = static_cast<RouteKind>(conf->route) == RouteKind::rest;

        if (conf->db_index == NGX_CONF_UNSET_UINT) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "auth_pat: protected location without auth_pat_db: answering 500");
            hide_remote_user(r);
            count_outcome(mcf, AccessOutcome::internal_error);
            ctx->denied_status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        Outcome outcome;
        // A stale fleet replica refuses every protected request before
        // anything else is looked at (a public read and a request without
        // credentials included): the one compare a request pays for fleet
        // mode.
        const ngx_int_t rc = replica_too_stale(*conf, Worker::current(), r->connection->log)
                                 ? stale_replica(r, *ctx, outcome)
                                 : decide(r, *conf, *ctx, realm, outcome);
        if (outcome.stale) {
            count_stale(mcf);
        } else {
            count_outcome(mcf, outcome.value);
        }
        if (rc != NGX_OK) hide_remote_user(r);
        return rc;
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat: unexpected exception");
    }
    count_outcome(mcf, AccessOutcome::internal_error);
    hide_remote_user(r);
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

ngx_int_t rewrite_phase_handler(ngx_http_request_t* r) noexcept {
    try {
        ngx_str_t realm;
        const ngx_int_t is_protected = protected_realm(r, *loc_conf(r), realm);
        if (r == r->main) {
            // A protected location's access handler decides what $remote_user shows.
            if (is_protected == NGX_DECLINED) hide_token_as_user_name(r);
            return NGX_DECLINED;
        }
        if (is_protected != NGX_OK) return is_protected;

        // The main request was allowed by auth_pat (its identity is set only
        // then, or it was a public read): a subrequest of it (SSI, slice,
        // mirror) carries the same credentials (or none), so it is decided
        // like a main request, for its own location's need: being allowed
        // here never lets it in there.
        const RequestContext* main_ctx = find_request_context(r->main);
        if (main_ctx != nullptr && (main_ctx->user[0] != '\0' || main_ctx->public_read)) {
            const ngx_int_t rc = access_handler(r);
            return rc == NGX_OK ? NGX_DECLINED : rc;  // NGX_OK would end the rewrite phase's request
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "auth_pat: refused a subrequest to \"%V\", a location protected by auth_pat: nginx skips "
                      "the access phase for subrequests (auth_request, SSI, mirror), so auth_pat cannot decide "
                      "them; protect the main request's location with auth_pat instead",
                      &r->uri);
        count_outcome(main_conf(r), AccessOutcome::subrequest_refused);
        return NGX_HTTP_FORBIDDEN;
    } catch (...) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat: unexpected exception");
    }
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace pat::ngx
