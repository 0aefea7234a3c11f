// Responses in Bitbucket Server's JSON shapes: errors, tokens, pages.
#include <algorithm>
#include <string>

#include "internal.hpp"
#include "pat/token.hpp"

namespace pat::api {

namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

void write_user(json::Writer& out, const UserInfo& user) {
    out.begin_object();
    out.key("name").string(user.name);
    out.key("displayName").string(user.display_name.empty() ? user.name : user.display_name);
    out.key("active").boolean(user.active);
    out.key("slug").string(user.name);
    out.key("type").string("NORMAL");
    out.end_object();
}

}  // namespace

ApiResponse error_response(int status, std::string_view message, std::string_view exception_name) {
    json::Writer out;
    out.begin_object().key("errors").begin_array().begin_object();
    out.key("context").null();
    out.key("message").string(message);
    out.key("exceptionName");
    if (exception_name.empty()) {
        out.null();
    } else {
        out.string(exception_name);
    }
    out.end_object().end_array().end_object();
    return json_response(status, std::move(out.text()));
}

ApiResponse json_response(int status, std::string body) {
    ApiResponse response;
    response.status = status;
    response.content_type = kJsonContentType;
    response.body = std::move(body);
    return response;
}

ApiResponse no_content_response() {
    ApiResponse response;
    response.status = 204;
    return response;
}

void write_token(json::Writer& out, const TokenInfo& token, const UserInfo& owner,
                 std::optional<std::string_view> token_text) {
    out.begin_object();
    out.key("id").string(token.id);
    out.key("name").string(token.name);
    out.key("createdDate").number(token.created_ms);
    if (token.last_authenticated_ms != 0) out.key("lastAuthenticated").number(token.last_authenticated_ms);
    // nginx-pat's own: the client addresses of the last uses, most recent first.
    out.key("lastUsedIps").begin_array();
    for (const std::string& address : token.last_used_ips) out.string(address);
    out.end_array();
    if (token.expires_ms != 0) {
        out.key("expiryDays").number((token.expires_ms - token.created_ms) / kMsPerDay);
        out.key("expiryDate").number(token.expires_ms);
    }
    out.key("permissions").begin_array();
    out.string(bitbucket_project_permission_name(token.permissions.project));
    out.string(bitbucket_repo_permission_name(token.permissions.repo));
    out.end_array();
    out.key("user");
    write_user(out, owner);
    if (token_text) out.key("token").string(*token_text);
    out.end_object();
}

std::string render_token_page(const std::vector<TokenInfo>& tokens, const UserInfo& owner, const PageRequest& page) {
    const std::size_t start = std::min(page.start, tokens.size());
    const std::size_t end = start + std::min(page.limit, tokens.size() - start);
    const bool last = end == tokens.size();
    json::Writer out;
    out.begin_object();
    out.key("size").number(static_cast<std::int64_t>(end - start));
    out.key("limit").number(static_cast<std::int64_t>(page.limit));
    out.key("isLastPage").boolean(last);
    out.key("values").begin_array();
    for (std::size_t i = start; i < end; ++i) write_token(out, tokens[i], owner);
    out.end_array();
    out.key("start").number(static_cast<std::int64_t>(page.start));
    if (!last) out.key("nextPageStart").number(static_cast<std::int64_t>(end));
    out.end_object();
    return std::move(out.text());
}

std::string describe_permissions(const TokenPermissions& permissions) {
    return std::string(bitbucket_project_permission_name(permissions.project)) + " " +
           std::string(bitbucket_repo_permission_name(permissions.repo));
}

std::string loggable(std::string_view text, std::size_t max_length) {
    std::string out;
    for (char c : text.substr(0, max_length)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (text.size() > max_length) out += "...";
    return out;
}

}  // namespace pat::api

namespace pat {

ApiResponse::~ApiResponse() {
    if (body_is_secret) wipe(body);
}

ApiResponse& ApiResponse::operator=(ApiResponse&& other) noexcept {
    if (this == &other) return *this;
    if (body_is_secret) wipe(body);
    status = other.status;
    content_type = std::move(other.content_type);
    body = std::move(other.body);
    www_authenticate = std::move(other.www_authenticate);
    allow = std::move(other.allow);
    retry_after_s = other.retry_after_s;
    audit_line = std::move(other.audit_line);
    body_is_secret = other.body_is_secret;
    other.body_is_secret = false;
    return *this;
}

}  // namespace pat
