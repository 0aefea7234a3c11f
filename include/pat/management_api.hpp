// The token-management REST API, compatible with Bitbucket Server's
// access-tokens API, as a framework-free class: the nginx glue reads the
// body, calls handle() on a thread-pool thread (a write transaction fsyncs;
// a password check runs a KDF) and sends the response.
//
//   PUT    {ctx}/rest/access-tokens/{1.0|latest}/users/{userSlug}            create (owner only)
//   GET    {ctx}/rest/access-tokens/{1.0|latest}/users/{userSlug}            list, paged
//   GET    {ctx}/rest/access-tokens/{1.0|latest}/users/{userSlug}/{tokenId}  one token
//   POST   {ctx}/rest/access-tokens/{1.0|latest}/users/{userSlug}/{tokenId}  change name/permissions
//   DELETE {ctx}/rest/access-tokens/{1.0|latest}/users/{userSlug}/{tokenId}  revoke (204)
//   PUT    {ctx}/rest/access-tokens/{1.0|latest}/users/{userSlug}/password   own password (204)
//   PUT    {ctx}/rest/api/{1.0|latest}/users/credentials                     the same, Bitbucket's path
//   POST   {ctx}/rest/access-tokens/{1.0|latest}/revoke                      revoke leaked tokens by value (202)
//
// The revoke endpoint reads no credentials (the token sent is the
// authority) and answers 202 alike whatever the tokens are; every other
// request authenticates with HTTP Basic and the user's password; a
// personal access token is never accepted here. Before that, as a defence
// against cross-site requests (a form post from another site reaching the
// API with the browser's cached Basic credentials): a request whose Origin
// header names another host is refused (403), and a request with a body
// must declare it `application/json` (415; a form can only send
// text/plain, multipart/form-data or application/x-www-form-urlencoded). handle() keeps no state of
// its own: it may be called from several threads at once (the Store and the
// limiter must allow that; the glue's limiter locks).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "pat/password_attempt_limiter.hpp"
#include "pat/store.hpp"

namespace pat {

class DirectoryClient;

// Request bodies above this are refused with 400 (the glue may also set
// body_too_large instead of reading more).
inline constexpr std::size_t kMaxApiBodyBytes = 64 * 1024;

// The glue's say just before a password check runs, after the limiter has
// admitted the attempt: patd drops a request whose client has gone (nothing
// would read the answer) and bounds the checks that run at once. Called on
// the thread that runs handle(); enter() returns go at most once per check,
// and each go is followed by one leave() when the check is over.
class PasswordCheckGate {
   public:
    enum class Verdict {
        go,           // the check runs now
        busy,         // every place is taken: answered 503 with Retry-After: 1
        client_gone,  // the client has gone: nothing is checked, the answer is never read
    };
    virtual ~PasswordCheckGate() = default;
    virtual Verdict enter() = 0;
    virtual void leave() noexcept = 0;
};

struct ApiRequest {
    std::string_view method;          // "GET", "PUT", ...
    std::string_view path;            // normalized ($uri), may start with a context path
    std::string_view query;           // raw query string without '?', may be empty
    std::string_view body;            // the request body's bytes
    bool body_too_large = false;      // the glue stopped reading: answer 400
    std::string_view authorization;   // the Authorization header's value, raw; may be empty
    std::string_view content_type;    // the Content-Type header's value; empty when absent
    bool has_origin = false;          // an Origin header was sent (browsers send it cross-site)
    std::string_view origin;          // its value: "scheme://host[:port]" or "null"
    std::string_view host;            // the Host header's value (HTTP/2: :authority); may be empty
    std::string_view client_address;  // for the audit trail and the throttle
    std::int64_t now_ms = 0;
    PasswordCheckGate* check_gate = nullptr;  // not owned; nullptr: every admitted check runs
};

struct ApiResponse {
    int status = 500;
    std::string content_type;  // empty when there is no body (204)
    std::string body;
    std::string www_authenticate;    // the WWW-Authenticate value for a 401; empty otherwise
    std::string allow;               // the Allow value for a 405; empty otherwise
    std::int64_t retry_after_s = 0;  // the Retry-After value for a 429; 0 otherwise
    // One line for nginx's error log at notice (a change made, a password
    // refused, a throttled attempt); empty when there is nothing to log.
    // Never a secret: token ids, user names and addresses only.
    std::string audit_line;
    // The body holds a new token's text: the glue sends it with no copy left
    // behind (and the destructor wipes this one).
    bool body_is_secret = false;

    ApiResponse() = default;
    ApiResponse(ApiResponse&&) noexcept = default;
    ApiResponse& operator=(ApiResponse&& other) noexcept;  // wipes a secret body it replaces
    ApiResponse(const ApiResponse&) = delete;              // a secret body must not be copied
    ApiResponse& operator=(const ApiResponse&) = delete;
    ~ApiResponse();
};

struct ManagementApiOptions {
    std::string realm = "nginx-pat";            // for WWW-Authenticate: Basic realm="..."
    PasswordAttemptLimiter* limiter = nullptr;  // not owned; nullptr: no throttling
    std::size_t max_page_size = 1000;           // larger limit= values are capped to this
    // An empty password is refused (401) before any lookup: no user is read
    // and no password checked. This counts it against the client's address:
    // 0, or the milliseconds to wait (then the answer is 429). Unset: an
    // empty password is refused without being counted.
    std::function<std::int64_t(std::string_view client_address, std::int64_t now_ms)> note_empty_password{};
    // Users without a password of the store's own sign in with the
    // directory's (pat/sign_in.hpp). Not owned; nullptr: no directory.
    const DirectoryClient* directory = nullptr;
    // Counts a call of the credential-less revoke endpoint against the
    // client's address: 0, or the milliseconds to wait (then 429 with
    // Retry-After). Unset: not throttled.
    std::function<std::int64_t(std::string_view client_address, std::int64_t now_ms)> note_revoke_request{};
};

class ManagementApi {
   public:
    explicit ManagementApi(Store& store, ManagementApiOptions options = {});

    // Never throws (an exception escaping the core becomes a 500) and never
    // puts a secret in audit_line.
    ApiResponse handle(const ApiRequest& request) noexcept;

   private:
    Store& store_;
    ManagementApiOptions options_;
};

}  // namespace pat
