// POST {ctx}/rest/access-tokens/{1.0|latest}/revoke: whoever finds a leaked
// token revokes it, with no credentials (GitHub's credential revocation
// API). Body: {"tokens": ["npat_...", ...]}, at most kMaxRevokeTokens.
//
// No validity oracle: every well-formed request is answered 202 with the
// same body whatever the tokens are (valid, revoked, unknown, malformed), and
// every entry is hashed and looked up alike (Store::revoke_tokens_by_value).
// The one difference left is the commit's sync when a token was revoked; a
// caller who notices it learns that a token was live just as it stops being
// so, which is nothing they can use. The calls are counted per client
// address (options.note_revoke_request: 429 with Retry-After beyond it).
#include <string>
#include <vector>

#include "internal.hpp"
#include "pat/error_body.hpp"
#include "pat/secret.hpp"

namespace pat::api {

namespace {

constexpr std::string_view kAcceptedBody =
    R"({"message":"Accepted: any live token among those sent is revoked from now on."})";

Status bad_request(std::string message) {
    return {StatusCode::invalid_argument, std::move(message)};
}

}  // namespace

RevokeBody::~RevokeBody() {
    for (std::string& token : tokens) wipe(token);
}

Expected<RevokeBody> parse_revoke_body(std::string_view body) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        return bad_request("the request body is empty: send {\"tokens\": [\"npat_...\"]}");
    }
    auto parsed = json::parse(body, json::ParseLimits{kMaxApiBodyBytes, 4});
    if (!parsed) return bad_request("the request body is not valid JSON: " + parsed.status().message());
    if (!parsed->is_object()) return bad_request("the request body must be a JSON object: {\"tokens\": [...]}");
    const json::Value* tokens = parsed->find("tokens");
    if (tokens == nullptr || !tokens->is_array()) {
        return bad_request("the request body needs \"tokens\": a list of token texts");
    }
    if (tokens->size() > kMaxRevokeTokens) {
        return bad_request("at most " + std::to_string(kMaxRevokeTokens) + " tokens per request");
    }
    RevokeBody result;
    result.tokens.reserve(tokens->size());
    for (const json::Value& item : tokens->elements()) {
        if (!item.is_string()) return bad_request("each entry of \"tokens\" must be a string");
        result.tokens.push_back(item.as_string());
    }
    return result;
}

ApiResponse revoke_by_value(Store& store, const ManagementApiOptions& options, const ApiRequest& request) {
    const std::int64_t now = request.now_ms > 0 ? request.now_ms : pat::now_ms();
    if (options.note_revoke_request) {
        if (const std::int64_t wait_ms = options.note_revoke_request(request.client_address, now); wait_ms > 0) {
            const std::int64_t seconds = (wait_ms + 999) / 1000;
            ApiResponse response = error_response(429, "Too many revocation requests from this address. Try again in " +
                                                           std::to_string(seconds) + " seconds.");
            response.retry_after_s = seconds;
            response.audit_line = "token API: revoke by value from " + loggable(request.client_address) +
                                  " throttled for " + std::to_string(seconds) + " s";
            return response;
        }
    }
    auto body = parse_revoke_body(request.body);
    if (!body) return error_response(400, body.status().message(), exception_name::validation);
    std::vector<std::string_view> texts(body->tokens.begin(), body->tokens.end());
    const AuditContext audit{"anonymous", std::string(request.client_address)};
    auto revoked = store.revoke_tokens_by_value(texts, audit);
    if (!revoked) {
        ApiResponse response = fixed_error_response(500);
        response.audit_line = "token API: store failure while revoking tokens by value: " + revoked.status().message();
        return response;
    }
    ApiResponse response = json_response(202, std::string(kAcceptedBody));
    std::string line = "token API: revoke by value from " + loggable(request.client_address) + ": " +
                       std::to_string(texts.size()) + " sent, " + std::to_string(revoked->size()) + " revoked";
    for (const RevokedByValue& entry : *revoked) line += " " + entry.id + " (" + entry.owner + ")";
    response.audit_line = std::move(line);
    return response;
}

}  // namespace pat::api
