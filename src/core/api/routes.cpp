// The management API's routes: which resource a normalized path names.
//
// A context path may come before the API (Bitbucket under /bitbucket/...):
// the first "/rest/access-tokens/" or "/rest/api/" in the path starts it.
#include <array>

#include "internal.hpp"

namespace pat::api {

namespace {

constexpr std::string_view kTokensMarker = "/rest/access-tokens/";
constexpr std::string_view kRestApiMarker = "/rest/api/";

std::string_view take_segment(std::string_view& rest) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return segment;
}

bool is_version(std::string_view segment) {
    return segment == "1.0" || segment == "latest";
}

// Splits what follows the marker into at most N non-empty segments; a
// single trailing slash is tolerated, anything else odd is no route.
template <std::size_t N>
bool split(std::string_view rest, std::array<std::string_view, N>& segments, std::size_t& count) {
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    count = 0;
    while (!rest.empty()) {
        if (count == segments.size()) return false;
        const std::string_view segment = take_segment(rest);
        if (segment.empty()) return false;
        segments[count++] = segment;
    }
    return true;
}

ApiRoute route_tokens(std::string_view rest) {
    std::array<std::string_view, 5> s;
    std::size_t n = 0;
    if (!split(rest, s, n)) return {};
    if (n == 2 && is_version(s[0]) && s[1] == "policy") return {ApiRoute::Kind::policy, {}, {}};
    if (n == 2 && is_version(s[0]) && s[1] == "revoke") return {ApiRoute::Kind::revoke_by_value, {}, {}};
    if (n < 3 || !is_version(s[0]) || s[1] != "users") return {};
    if (n == 3) return {ApiRoute::Kind::user_tokens, s[2], {}};
    if (n == 5) {
        if (s[4] != "rotate") return {};
        return {ApiRoute::Kind::rotate_token, s[2], s[3]};
    }
    if (s[3] == "password") return {ApiRoute::Kind::password, s[2], {}};
    return {ApiRoute::Kind::single_token, s[2], s[3]};
}

ApiRoute route_rest_api(std::string_view rest) {
    std::array<std::string_view, 4> s;
    std::size_t n = 0;
    if (!split(rest, s, n) || n != 3 || !is_version(s[0]) || s[1] != "users" || s[2] != "credentials") return {};
    return {ApiRoute::Kind::credentials, {}, {}};
}

}  // namespace

ApiRoute route_api_request(std::string_view path) {
    if (path.empty() || path.front() != '/') return {};
    const auto tokens_at = path.find(kTokensMarker);
    const auto rest_api_at = path.find(kRestApiMarker);
    if (tokens_at != std::string_view::npos && (rest_api_at == std::string_view::npos || tokens_at < rest_api_at)) {
        return route_tokens(path.substr(tokens_at + kTokensMarker.size()));
    }
    if (rest_api_at != std::string_view::npos) return route_rest_api(path.substr(rest_api_at + kRestApiMarker.size()));
    return {};
}

std::string_view allowed_methods(ApiRoute::Kind kind) {
    switch (kind) {
        case ApiRoute::Kind::user_tokens: return "GET, HEAD, PUT";
        case ApiRoute::Kind::single_token: return "GET, HEAD, POST, DELETE";
        case ApiRoute::Kind::rotate_token: return "POST";
        case ApiRoute::Kind::password:
        case ApiRoute::Kind::credentials: return "PUT, POST";
        case ApiRoute::Kind::policy: return "GET, HEAD";
        case ApiRoute::Kind::revoke_by_value: return "POST";
        case ApiRoute::Kind::unknown: return "";
    }
    return "";
}

bool method_allowed(ApiRoute::Kind kind, std::string_view method) {
    if (method.empty()) return false;
    std::string_view allowed = allowed_methods(kind);
    while (!allowed.empty()) {
        const auto comma = allowed.find(", ");
        if (allowed.substr(0, comma) == method) return true;
        allowed = comma == std::string_view::npos ? std::string_view{} : allowed.substr(comma + 2);
    }
    return false;
}

}  // namespace pat::api
