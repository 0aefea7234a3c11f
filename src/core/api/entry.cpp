// The management API's entry point: route, method, body size and
// credentials are checked here, in that order, before any endpoint runs;
// then the password check, throttled, shared by every endpoint.
#include <optional>
#include <string>

#include "internal.hpp"
#include "pat/ascii.hpp"
#include "pat/error_body.hpp"
#include "pat/management_api.hpp"
#include "pat/names.hpp"

namespace pat {

namespace {

// Basic realm="...", with '"' and '\' escaped inside the quoted string.
std::string basic_challenge(std::string_view realm) {
    std::string value = "Basic realm=\"";
    for (char c : realm) {
        if (c == '"' || c == '\\') value += '\\';
        value += (c >= 0x20 && c != 0x7f) ? c : '?';
    }
    value += '"';
    return value;
}

ApiResponse unauthorized(const ManagementApiOptions& options, std::string_view message,
                         std::string_view exception_name) {
    ApiResponse response = api::error_response(401, message, exception_name);
    response.www_authenticate = basic_challenge(options.realm);
    return response;
}

ApiResponse refuse_credentials(const ManagementApiOptions& options, api::Credentials::Kind kind) {
    switch (kind) {
        case api::Credentials::Kind::token:
            return unauthorized(options,
                                "Personal access tokens cannot be used to manage tokens or passwords: sign in with "
                                "your user name and password.",
                                api::exception_name::authentication);
        case api::Credentials::Kind::unsupported:
            return unauthorized(options, "Sign in with HTTP Basic authentication: your user name and password.",
                                api::exception_name::authentication);
        case api::Credentials::Kind::malformed:
            return unauthorized(options, "The Authorization header is not valid HTTP Basic credentials.",
                                api::exception_name::authentication);
        case api::Credentials::Kind::none:
        case api::Credentials::Kind::password: break;
    }
    return unauthorized(options, "Authentication is required: sign in with your user name and password.",
                        api::exception_name::authentication);
}

// An Origin that is not this server: a browser on another site sent the
// request. Origin is "scheme://host[:port]"; its authority must be the Host
// the request was sent to (the scheme is not compared: TLS may end in front
// of nginx). "null" (sandboxed frames, file: pages) is foreign too. No
// Origin at all is a non-browser client (curl, git, scripts), or a browser's
// same-origin GET: allowed.
bool foreign_origin(const ApiRequest& request) {
    if (!request.has_origin) return false;
    const std::size_t separator = request.origin.find("://");
    if (separator == std::string_view::npos || request.host.empty()) return true;
    const std::string_view authority = request.origin.substr(separator + 3);
    return !ascii::equals_ignoring_case(authority, request.host);
}

// The media type of a Content-Type value, without parameters ("charset=...")
// or surrounding whitespace.
std::string_view media_type(std::string_view content_type) {
    content_type = content_type.substr(0, content_type.find(';'));
    while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
        content_type.remove_prefix(1);
    }
    while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
        content_type.remove_suffix(1);
    }
    return content_type;
}

// The cross-site request defence (see management_api.hpp), checked before
// the credentials: such a request is not even a sign-in attempt.
std::optional<ApiResponse> refuse_cross_site(const ApiRequest& request) {
    if (foreign_origin(request)) {
        return api::error_response(403, "Cross-origin requests are not accepted: the Origin header names another site.",
                                   api::exception_name::authorisation);
    }
    const bool has_body = !request.body.empty() || request.body_too_large;
    if (has_body && !ascii::equals_ignoring_case(media_type(request.content_type), "application/json")) {
        return api::error_response(415, "The request body must be JSON, sent as Content-Type: application/json.",
                                   api::exception_name::validation);
    }
    return std::nullopt;
}

}  // namespace

ManagementApi::ManagementApi(Store& store, ManagementApiOptions options) : store_(store), options_(std::move(options)) {
    if (options_.max_page_size == 0) options_.max_page_size = 1;
}

ApiResponse ManagementApi::handle(const ApiRequest& request) noexcept {
    try {
        const api::ApiRoute route = api::route_api_request(request.path);
        if (route.kind == api::ApiRoute::Kind::unknown) {
            return api::error_response(404,
                                       "No such resource. Tokens are managed under "
                                       "/rest/access-tokens/1.0/users/{userSlug}.");
        }
        if (!api::method_allowed(route.kind, request.method)) {
            ApiResponse response =
                api::error_response(405, "Method " + api::loggable(request.method, 16) + " is not allowed here; use " +
                                             std::string(api::allowed_methods(route.kind)) + ".");
            response.allow = api::allowed_methods(route.kind);
            return response;
        }
        if (request.body_too_large || request.body.size() > kMaxApiBodyBytes) {
            return api::error_response(400, "The request body is larger than 64 KiB.", api::exception_name::validation);
        }
        if (auto refused = refuse_cross_site(request)) return std::move(*refused);
        // No credentials: whoever holds a leaked token may revoke it.
        if (route.kind == api::ApiRoute::Kind::revoke_by_value) return api::revoke_by_value(store_, options_, request);
        api::Credentials credentials;
        api::parse_credentials(request.authorization, credentials);
        if (credentials.kind != api::Credentials::Kind::password) return refuse_credentials(options_, credentials.kind);
        ApiRequest timed = request;
        if (timed.now_ms <= 0) timed.now_ms = pat::now_ms();
        // Nothing to check: no user is read and no password hashed.
        if (credentials.password.empty()) return api::refuse_empty_password(options_, timed, credentials);
        return api::Exchange(store_, options_, timed, credentials).dispatch(route);
    } catch (...) {
        // Only allocation can throw here; answer rather than take the worker down.
        ApiResponse response;
        response.status = 500;
        response.audit_line = "token API: internal error (out of memory?)";
        return response;
    }
}

namespace api {

ApiResponse Exchange::dispatch(const ApiRoute& route) {
    const std::string_view method = request_.method;
    const bool is_get = method == "GET" || method == "HEAD";
    switch (route.kind) {
        case ApiRoute::Kind::user_tokens: return is_get ? list_tokens(route.user_slug) : create_token(route.user_slug);
        case ApiRoute::Kind::single_token:
            if (is_get) return get_token(route.user_slug, route.token_id);
            if (method == "POST") return modify_token(route.user_slug, route.token_id);
            return revoke_token(route.user_slug, route.token_id);
        case ApiRoute::Kind::password: return change_password(route.user_slug);
        case ApiRoute::Kind::credentials: return change_password(std::nullopt);
        case ApiRoute::Kind::policy: return get_policy();
        case ApiRoute::Kind::rotate_token: return rotate_token(route.user_slug, route.token_id);
        case ApiRoute::Kind::revoke_by_value:  // answered before any credentials are read
        case ApiRoute::Kind::unknown: break;
    }
    return error_response(404, "No such resource.");
}

std::string Exchange::claimed_user() const {
    auto name = canonical_user_name(credentials_.user);
    return name ? *name : std::string("(invalid user name)");
}

std::string Exchange::audit_prefix() const {
    return "token API: ";
}

namespace {

ApiResponse throttled(std::int64_t wait_ms, const std::string& who, std::string_view address) {
    const std::int64_t seconds = (wait_ms + 999) / 1000;
    ApiResponse response =
        error_response(429, "Too many failed sign-ins for this user or from this address. Try again in " +
                                std::to_string(seconds) + " seconds.");
    response.retry_after_s = seconds;
    response.audit_line = "token API: sign-in as " + who + " from " + loggable(address) + " throttled for " +
                          std::to_string(seconds) + " s";
    return response;
}

}  // namespace

ApiResponse refuse_empty_password(const ManagementApiOptions& options, const ApiRequest& request,
                                  const Credentials& credentials) {
    auto name = canonical_user_name(credentials.user);
    const std::string who = name ? *name : std::string("(invalid user name)");
    if (options.note_empty_password) {
        if (const std::int64_t wait_ms = options.note_empty_password(request.client_address, request.now_ms);
            wait_ms > 0) {
            return throttled(wait_ms, who, request.client_address);
        }
    }
    ApiResponse response = unauthorized(options, "Authentication failed. Please check your credentials and try again.",
                                        exception_name::wrong_password);
    response.audit_line = "token API: empty password refused for " + who + " from " + loggable(request.client_address);
    return response;
}

Exchange::~Exchange() {
    if (in_check_gate_) request_.check_gate->leave();
}

std::optional<ApiResponse> Exchange::begin_password_attempt() {
    if (options_.limiter != nullptr) {
        const std::int64_t wait_ms =
            options_.limiter->begin_attempt(credentials_.user, request_.client_address, request_.now_ms);
        if (wait_ms > 0) return throttled(wait_ms, claimed_user(), request_.client_address);
    }
    // Admitted by the limiter: only now may the check take one of the glue's
    // places, so attempts the limiter refuses never hold one.
    if (request_.check_gate == nullptr) return std::nullopt;
    const PasswordCheckGate::Verdict verdict = request_.check_gate->enter();
    if (verdict == PasswordCheckGate::Verdict::go) {
        in_check_gate_ = true;
        return std::nullopt;
    }
    if (options_.limiter != nullptr) {
        options_.limiter->attempt_abandoned(credentials_.user, request_.client_address, request_.now_ms);
    }
    if (verdict == PasswordCheckGate::Verdict::client_gone) {
        ApiResponse response = error_response(503, "The client has gone.");
        response.audit_line = audit_prefix() + "sign-in as " + claimed_user() + " from " +
                              loggable(request_.client_address) +
                              " dropped before its password check: the client has gone";
        return response;
    }
    ApiResponse response = error_response(503, "Too many sign-ins are in progress; try again in a second.");
    response.retry_after_s = 1;
    response.audit_line = audit_prefix() + "sign-in refused with 503, too many at once (client " +
                          loggable(request_.client_address) + ")";
    return response;
}

void Exchange::end_password_attempt(const Status& outcome) {
    if (in_check_gate_) {
        in_check_gate_ = false;
        request_.check_gate->leave();
    }
    if (options_.limiter == nullptr) return;
    if (outcome.ok()) {
        options_.limiter->attempt_succeeded(credentials_.user, request_.client_address, request_.now_ms);
    } else if (outcome.code() == StatusCode::refused) {
        options_.limiter->attempt_failed(credentials_.user, request_.client_address, request_.now_ms);
    } else {
        // No password was judged (a bad body, a store fault): take the attempt back.
        options_.limiter->attempt_abandoned(credentials_.user, request_.client_address, request_.now_ms);
    }
}

ApiResponse Exchange::password_refused() {
    ApiResponse response = unauthorized(options_, "Authentication failed. Please check your credentials and try again.",
                                        exception_name::wrong_password);
    response.audit_line =
        audit_prefix() + "password refused for " + claimed_user() + " from " + loggable(request_.client_address);
    return response;
}

std::optional<ApiResponse> Exchange::authenticate(Session& session) {
    if (auto throttled = begin_password_attempt()) return throttled;
    auto name = canonical_user_name(credentials_.user);
    const AuditContext audit{name ? *name : std::string(), std::string(request_.client_address)};
    const SignIn signed_in = sign_in(store_, options_.directory, credentials_.user, credentials_.password, audit);
    return finish_sign_in(signed_in, session);
}

std::optional<ApiResponse> Exchange::finish_sign_in(const SignIn& signed_in, Session& session) {
    switch (signed_in.outcome()) {
        case SignIn::Outcome::ok: end_password_attempt(Status::success()); break;
        case SignIn::Outcome::refused:
            end_password_attempt(Status{StatusCode::refused, "wrong user name or password"});
            return password_refused();
        case SignIn::Outcome::unavailable: {
            // No password was judged: the outage does not count against the user.
            end_password_attempt(Status{StatusCode::store_error, "directory unavailable"});
            ApiResponse response =
                error_response(503, "The directory that checks passwords is not answering. Try again in a minute.");
            response.retry_after_s = 60;
            response.audit_line = audit_prefix() + "sign-in as " + claimed_user() + " from " +
                                  loggable(request_.client_address) +
                                  " answered 503, the directory is unavailable: " + loggable(signed_in.reason(), 300);
            return response;
        }
        case SignIn::Outcome::failed:
            end_password_attempt(Status{StatusCode::store_error, signed_in.reason()});
            return store_failure(Status{StatusCode::store_error, signed_in.reason()}, "checking a password");
    }
    session.user = signed_in.user();
    session.actor = Actor{session.user.name, session.user.sysadmin};
    session.audit = AuditContext{session.user.name, std::string(request_.client_address)};
    return std::nullopt;
}

ApiResponse Exchange::store_failure(const Status& status, std::string_view doing) {
    ApiResponse response = fixed_error_response(500);
    response.audit_line = audit_prefix() + "store failure while " + std::string(doing) + ": " + status.message();
    return response;
}

ApiResponse Exchange::from_status(const Status& status, std::string_view doing) {
    switch (status.code()) {
        case StatusCode::invalid_argument: return error_response(400, status.message(), exception_name::validation);
        case StatusCode::not_found: return error_response(404, status.message(), exception_name::no_such_token);
        case StatusCode::already_exists: return error_response(409, status.message(), exception_name::validation);
        case StatusCode::refused: return error_response(403, status.message(), exception_name::authorisation);
        case StatusCode::forbidden: return error_response(403, status.message(), exception_name::authorisation);
        case StatusCode::ok:
        case StatusCode::store_error: break;
    }
    return store_failure(status, doing);
}

}  // namespace api

}  // namespace pat
