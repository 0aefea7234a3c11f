// Pieces of the management API shared between its files: routing, the
// credentials parser, request-body parsers and the Bitbucket-shaped renderers.
// Not a public header: include/pat/management_api.hpp is the contract.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pat/json.hpp"
#include "pat/management_api.hpp"
#include "pat/sign_in.hpp"
#include "pat/store.hpp"

namespace pat::api {

// ---- routing (management_api_routes.cpp) ----

struct ApiRoute {
    enum class Kind {
        unknown,          // 404
        user_tokens,      // .../rest/access-tokens/V/users/{slug}
        single_token,     // .../rest/access-tokens/V/users/{slug}/{tokenId}
        password,         // .../rest/access-tokens/V/users/{slug}/password
        credentials,      // .../rest/api/V/users/credentials (the signed-in user's own)
        policy,           // .../rest/access-tokens/V/policy (the token policy, read-only)
        rotate_token,     // .../rest/access-tokens/V/users/{slug}/{tokenId}/rotate
        revoke_by_value,  // .../rest/access-tokens/V/revoke (no credentials: revoke_by_value.cpp)
    };
    Kind kind = Kind::unknown;
    std::string_view user_slug;  // as written in the path
    std::string_view token_id;   // as written in the path
};

ApiRoute route_api_request(std::string_view path);

// The methods a route answers ("GET, HEAD, PUT"), for 405's Allow header.
std::string_view allowed_methods(ApiRoute::Kind kind);
bool method_allowed(ApiRoute::Kind kind, std::string_view method);

// ---- credentials (management_api_auth.cpp) ----

struct Credentials {
    enum class Kind {
        none,         // no Authorization header
        password,     // Basic with something that is not token-shaped
        token,        // a personal access token, as Basic password or Bearer
        unsupported,  // another scheme, or Bearer with something else
        malformed,    // Basic that does not decode to "user:password"
    };
    Kind kind = Kind::none;
    std::string user;      // as sent
    std::string password;  // the secret: wiped by the destructor

    Credentials() = default;
    Credentials(const Credentials&) = delete;
    Credentials& operator=(const Credentials&) = delete;
    ~Credentials();
};

// Parses the Authorization header value; the decoded bytes never outlive
// the returned object.
void parse_credentials(std::string_view header, Credentials& out);

// Constant-time comparison of two secrets (length is not hidden).
bool secrets_equal(std::string_view a, std::string_view b);

// ---- request bodies and the query (management_api_body.cpp) ----

struct CreateTokenBody {
    std::string name;
    std::optional<TokenPermissions> permissions;  // nullopt: the user's own level
    std::optional<int> expiry_days;
};
Expected<CreateTokenBody> parse_create_body(std::string_view body);

// Omitted fields stay as they are.
Expected<TokenChange> parse_modify_body(std::string_view body);

struct PasswordChangeBody {
    std::string old_password;
    std::string password;

    PasswordChangeBody() = default;
    PasswordChangeBody(PasswordChangeBody&&) = default;
    PasswordChangeBody(const PasswordChangeBody&) = delete;
    ~PasswordChangeBody();
};
Expected<PasswordChangeBody> parse_password_body(std::string_view body);

struct PageRequest {
    std::size_t start = 0;
    std::size_t limit = 25;
};
Expected<PageRequest> parse_page_query(std::string_view query, std::size_t max_page_size);

// ---- responses (management_api_render.cpp) ----

// Bitbucket's exception names, for the "exceptionName" field of errors.
namespace exception_name {
inline constexpr std::string_view validation = "com.atlassian.bitbucket.validation.ArgumentValidationException";
inline constexpr std::string_view authentication = "com.atlassian.bitbucket.auth.AuthenticationException";
inline constexpr std::string_view wrong_password =
    "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException";
inline constexpr std::string_view authorisation = "com.atlassian.bitbucket.AuthorisationException";
inline constexpr std::string_view no_such_user = "com.atlassian.bitbucket.user.NoSuchUserException";
inline constexpr std::string_view no_such_token = "com.atlassian.bitbucket.auth.NoSuchAccessTokenException";
}  // namespace exception_name

inline constexpr std::string_view kJsonContentType = "application/json;charset=UTF-8";

// {"errors":[{"context":null,"message":...,"exceptionName":...}]}; an empty
// exception name is written as null.
ApiResponse error_response(int status, std::string_view message, std::string_view exception_name = {});
ApiResponse json_response(int status, std::string body);
ApiResponse no_content_response();

// A token in Bitbucket's shape; the token text only in the creation answer.
void write_token(json::Writer& out, const TokenInfo& token, const UserInfo& owner,
                 std::optional<std::string_view> token_text = std::nullopt);
// {"size","limit","isLastPage","values","start","nextPageStart"?} over all
// of one user's tokens.
std::string render_token_page(const std::vector<TokenInfo>& tokens, const UserInfo& owner, const PageRequest& page);
// "PROJECT_READ REPO_WRITE", for audit lines.
std::string describe_permissions(const TokenPermissions& permissions);

// Printable, bounded text from the client (a claimed user name, an address)
// for a log line: anything outside printable ASCII becomes '?'.
std::string loggable(std::string_view text, std::size_t max_length = 64);

// ---- answering one request (entry.cpp, handlers.cpp) ----

// The caller once their password has been checked.
struct Session {
    UserInfo user;       // canonical name, display name, sysadmin
    Actor actor;         // for modify_token / revoke_token
    AuditContext audit;  // {user, client address}
};

class Exchange {
   public:
    Exchange(Store& store, const ManagementApiOptions& options, const ApiRequest& request,
             const Credentials& credentials)
        : store_(store), options_(options), request_(request), credentials_(credentials) {}
    ~Exchange();  // leaves the check gate if a check is still inside it
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    ApiResponse dispatch(const ApiRoute& route);

   private:
    // Endpoints (management_api_handlers.cpp).
    ApiResponse create_token(std::string_view slug);
    ApiResponse list_tokens(std::string_view slug);
    ApiResponse get_token(std::string_view slug, std::string_view id);
    ApiResponse modify_token(std::string_view slug, std::string_view id);
    ApiResponse revoke_token(std::string_view slug, std::string_view id);
    ApiResponse change_password(std::optional<std::string_view> slug);
    ApiResponse get_policy();                                              // policy.cpp
    ApiResponse rotate_token(std::string_view slug, std::string_view id);  // rotate.cpp

    // Checks the Basic password (throttled). On success fills session and
    // returns nullopt; otherwise the response to send (401, 429, 500).
    std::optional<ApiResponse> authenticate(Session& session);
    // The throttle's outcome of a sign-in already made, and its answer: 401,
    // 503 (the directory unavailable, Retry-After), 500; nullopt and the
    // session filled when it succeeded.
    std::optional<ApiResponse> finish_sign_in(const SignIn& signed_in, Session& session);
    // For create_token, where the store checks the password itself: the
    // throttle's verdict, then the glue's check gate (nullopt: go ahead), and
    // the outcome after.
    std::optional<ApiResponse> begin_password_attempt();
    void end_password_attempt(const Status& outcome);
    ApiResponse password_refused();

    // The token named in the path, if it belongs to the user named in the
    // path; otherwise the 404 to send.
    Expected<TokenInfo> token_of(std::string_view slug_user, std::string_view id);
    // Signs the caller in and finds token `id` of `owner` if the caller may
    // manage it (the owner or a sysadmin); otherwise the answer to send.
    std::optional<ApiResponse> sign_in_for_token(const std::string& owner, std::string_view id, Session& session,
                                                 TokenInfo& token);
    ApiResponse store_failure(const Status& status, std::string_view doing);
    ApiResponse from_status(const Status& status, std::string_view doing);
    std::string audit_prefix() const;
    std::string claimed_user() const;  // canonical, or "(invalid user name)"

    Store& store_;
    const ManagementApiOptions& options_;
    const ApiRequest& request_;
    const Credentials& credentials_;
    bool in_check_gate_ = false;  // request_.check_gate said go; leave() is owed
};

// An empty password: refused before any lookup, counted against the
// client's address by options.note_empty_password (401, or 429 past its
// limit).
ApiResponse refuse_empty_password(const ManagementApiOptions& options, const ApiRequest& request,
                                  const Credentials& credentials);

// ---- revoking leaked tokens by value (revoke_by_value.cpp) ----

inline constexpr std::size_t kMaxRevokeTokens = 100;

struct RevokeBody {
    std::vector<std::string> tokens;  // secrets: wiped by the destructor

    RevokeBody() = default;
    RevokeBody(RevokeBody&&) = default;
    RevokeBody(const RevokeBody&) = delete;
    ~RevokeBody();
};
// {"tokens": [string, ...]} with at most kMaxRevokeTokens entries.
Expected<RevokeBody> parse_revoke_body(std::string_view body);

// The whole endpoint: no credentials are read (the token is the authority).
ApiResponse revoke_by_value(Store& store, const ManagementApiOptions& options, const ApiRequest& request);

}  // namespace pat::api
