// POST .../rest/access-tokens/1.0/users/{userSlug}/{tokenId}/rotate (GitLab's
// /rotate): only the owner, with their password, as for creation. An
// administrator rotating someone else's token would be an administrator
// creating a token for someone else: 403, as creation answers. The rules
// are the store's (src/core/store/rotate.cpp).
#include <string>

#include "internal.hpp"
#include "pat/names.hpp"

namespace pat::api {

namespace {

// Room for the answer, reserved so the token text is never left behind by a
// reallocation (as handlers.cpp's creation answer).
constexpr std::size_t kRotatedBodyReserve = 8192;

// No body, or an empty JSON object: the rotation takes nothing from the client.
bool empty_body(std::string_view body) {
    std::string compact;
    for (char c : body) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact.push_back(c);
    }
    return compact.empty() || compact == "{}";
}

}  // namespace

ApiResponse Exchange::rotate_token(std::string_view slug, std::string_view id) {
    auto owner = canonical_user_name(slug);
    if (!owner) return error_response(404, "User " + loggable(slug) + " does not exist.", exception_name::no_such_user);
    auto me = canonical_user_name(credentials_.user);
    if (!me || *me != *owner) {
        // Answer 401 to a wrong password before saying anything about rights.
        Session session;
        if (auto refused = authenticate(session)) return std::move(*refused);
        return error_response(403,
                              "Only " + *owner + " can rotate tokens of " + *owner +
                                  ", signed in with their own password: an administrator cannot create tokens "
                                  "for another user.",
                              exception_name::authorisation);
    }
    if (!empty_body(request_.body)) {
        return error_response(400, "A rotation takes no request body: the new token keeps the old one's settings.",
                              exception_name::validation);
    }
    if (auto throttled = begin_password_attempt()) return std::move(*throttled);
    const AuditContext audit{*me, std::string(request_.client_address)};
    const SignIn signed_in = sign_in(store_, options_.directory, *me, credentials_.password, audit);
    Session session;
    if (auto refused = finish_sign_in(signed_in, session)) return std::move(*refused);
    auto rotated = store_.rotate_token(signed_in, id, request_.now_ms, audit);
    if (!rotated) {
        const Status& status = rotated.status();
        switch (status.code()) {
            case StatusCode::not_found:
                return error_response(404, "No token " + loggable(id, 32) + " exists for user " + *me + ".",
                                      exception_name::no_such_token);
            case StatusCode::refused: return password_refused();  // disabled since the sign-in
            case StatusCode::invalid_argument: {
                // Reuse of a rotated token: the family is revoked (committed).
                ApiResponse response = error_response(400, status.message(), exception_name::validation);
                response.audit_line = audit_prefix() + "rotation of token " + loggable(id, 32) + " of " + *me +
                                      " from " + loggable(request_.client_address) +
                                      " refused, reuse: " + status.message();
                return response;
            }
            default: return from_status(status, "rotating a token");
        }
    }
    auto user = store_.get_user(*me);
    if (!user) return store_failure(user.status(), "reading the token's owner");

    json::Writer out;
    out.reserve(kRotatedBodyReserve);
    write_token(out, rotated->info, *user, std::string_view(rotated->text));
    ApiResponse response;
    response.body_is_secret = true;
    response.status = 200;
    response.content_type = kJsonContentType;
    response.body = std::move(out.text());
    response.audit_line = audit_prefix() + "token " + std::string(id) + " of " + *me + " rotated to " +
                          rotated->info.id + " from " + loggable(request_.client_address);
    return response;
}

}  // namespace pat::api
