// The management API's endpoints. Each validates what it can without a
// password check first (path, query, body), then checks the password, then
// applies the owner/sysadmin rules:
//
//   create           only the owner, with their password (the store checks it)
//   list             the owner or a sysadmin; anyone else 403
//   get/change/revoke the owner or a sysadmin; anyone else 404, exactly as
//                    for a token that does not exist (no existence leak)
//   password         only one's own
#include <string>

#include "internal.hpp"
#include "pat/names.hpp"

namespace pat::api {

namespace {

// Room for the creation answer, reserved so the token text is never left
// behind by a reallocation: a 255-byte name and a 256-byte display name,
// each escaped to at most six bytes per byte, and the fixed fields.
constexpr std::size_t kCreatedBodyReserve = 8192;

ApiResponse no_such_user(std::string_view slug) {
    return error_response(404, "User " + loggable(slug) + " does not exist.", exception_name::no_such_user);
}

ApiResponse no_such_token(std::string_view id, std::string_view owner) {
    return error_response(404, "No token " + loggable(id, 32) + " exists for user " + std::string(owner) + ".",
                          exception_name::no_such_token);
}

ApiResponse bad_request(const Status& status) {
    return error_response(400, status.message(), exception_name::validation);
}

ApiResponse render_one(const TokenInfo& token, const UserInfo& owner) {
    json::Writer out;
    write_token(out, token, owner);
    return json_response(200, std::move(out.text()));
}

}  // namespace

Expected<TokenInfo> Exchange::token_of(std::string_view slug_user, std::string_view id) {
    auto token = store_.get_token(id);
    if (!token) return token.status();
    if (token->owner != slug_user) return Status{StatusCode::not_found, "the token belongs to another user"};
    return token;
}

std::optional<ApiResponse> Exchange::sign_in_for_token(const std::string& owner, std::string_view id, Session& session,
                                                       TokenInfo& token) {
    if (auto refused = authenticate(session)) return refused;
    if (owner != session.user.name && !session.user.sysadmin) return no_such_token(id, owner);
    auto found = token_of(owner, id);
    if (!found) {
        if (found.status().code() == StatusCode::not_found) return no_such_token(id, owner);
        return store_failure(found.status(), "reading a token");
    }
    token = std::move(*found);
    return std::nullopt;
}

ApiResponse Exchange::create_token(std::string_view slug) {
    auto owner = canonical_user_name(slug);
    if (!owner) return no_such_user(slug);
    auto me = canonical_user_name(credentials_.user);
    if (!me || *me != *owner) {
        // Answer 401 to a wrong password before saying anything about rights.
        Session session;
        if (auto refused = authenticate(session)) return std::move(*refused);
        return error_response(403,
                              "Only " + *owner + " can create tokens for " + *owner +
                                  ", signed in with their own password: an administrator cannot create tokens "
                                  "for another user.",
                              exception_name::authorisation);
    }
    auto body = parse_create_body(request_.body);
    if (!body) return bad_request(body.status());

    if (Status s = check_token_request(body->name, body->permissions, body->expiry_days); !s.ok())
        return bad_request(s);
    // Only the owner's password creates: the store's, or the directory's for
    // a directory user (pat/sign_in.hpp).
    if (auto throttled = begin_password_attempt()) return std::move(*throttled);
    const AuditContext audit{*me, std::string(request_.client_address)};
    const SignIn signed_in = sign_in(store_, options_.directory, *me, credentials_.password, audit);
    Session session;
    if (auto refused = finish_sign_in(signed_in, session)) return std::move(*refused);
    auto created =
        store_.create_token(signed_in, body->name, body->permissions, body->expiry_days, request_.now_ms, audit);
    if (!created) {
        if (created.status().code() == StatusCode::refused) return password_refused();
        return from_status(created.status(), "creating a token");
    }
    auto user = store_.get_user(*me);
    if (!user) return store_failure(user.status(), "reading the token's owner");

    json::Writer out;
    out.reserve(kCreatedBodyReserve);
    write_token(out, created->info, *user, std::string_view(created->text));
    ApiResponse response;
    response.body_is_secret = true;
    response.status = 200;
    response.content_type = kJsonContentType;
    response.body = std::move(out.text());
    response.audit_line = audit_prefix() + "token " + created->info.id + " created for " + *me + " from " +
                          loggable(request_.client_address) + ": " + describe_permissions(created->info.permissions) +
                          (body->expiry_days ? ", expires in " + std::to_string(*body->expiry_days) + " days" : "");
    return response;
}

ApiResponse Exchange::list_tokens(std::string_view slug) {
    auto owner = canonical_user_name(slug);
    if (!owner) return no_such_user(slug);
    auto page = parse_page_query(request_.query, options_.max_page_size);
    if (!page) return bad_request(page.status());
    Session session;
    if (auto refused = authenticate(session)) return std::move(*refused);
    if (*owner != session.user.name && !session.user.sysadmin) {
        return error_response(403, "You can list only your own tokens.", exception_name::authorisation);
    }
    UserInfo owner_info = session.user;
    if (*owner != session.user.name) {
        auto found = store_.get_user(*owner);
        if (!found) {
            if (found.status().code() == StatusCode::not_found) return no_such_user(*owner);
            return store_failure(found.status(), "reading a user");
        }
        owner_info = std::move(*found);
    }
    auto tokens = store_.list_tokens(*owner);
    if (!tokens) return from_status(tokens.status(), "listing tokens");
    return json_response(200, render_token_page(*tokens, owner_info, *page));
}

ApiResponse Exchange::get_token(std::string_view slug, std::string_view id) {
    auto owner = canonical_user_name(slug);
    if (!owner) return no_such_user(slug);
    Session session;
    TokenInfo token_info;
    if (auto refused = sign_in_for_token(*owner, id, session, token_info)) return std::move(*refused);
    const TokenInfo* token = &token_info;
    if (*owner == session.user.name) return render_one(*token, session.user);
    auto owner_info = store_.get_user(*owner);
    if (!owner_info) return store_failure(owner_info.status(), "reading a token's owner");
    return render_one(*token, *owner_info);
}

ApiResponse Exchange::modify_token(std::string_view slug, std::string_view id) {
    auto owner = canonical_user_name(slug);
    if (!owner) return no_such_user(slug);
    auto change = parse_modify_body(request_.body);
    if (!change) return bad_request(change.status());
    Session session;
    TokenInfo token_info;
    if (auto refused = sign_in_for_token(*owner, id, session, token_info)) return std::move(*refused);
    const TokenInfo* token = &token_info;
    auto owner_info = *owner == session.user.name ? Expected<UserInfo>(session.user) : store_.get_user(*owner);
    if (!owner_info) return store_failure(owner_info.status(), "reading a token's owner");

    const bool changes_something = change->name || change->project || change->repo;
    if (!changes_something) return render_one(*token, *owner_info);  // every field stays: nothing to write
    auto updated = store_.modify_token(session.actor, id, *change, session.audit);
    if (!updated) {
        if (updated.status().code() == StatusCode::not_found) return no_such_token(id, *owner);
        return from_status(updated.status(), "changing a token");
    }
    ApiResponse response = render_one(*updated, *owner_info);
    response.audit_line = audit_prefix() + "token " + updated->id + " of " + updated->owner + " changed by " +
                          session.user.name + " from " + loggable(request_.client_address) + ": " +
                          describe_permissions(updated->permissions);
    return response;
}

ApiResponse Exchange::revoke_token(std::string_view slug, std::string_view id) {
    auto owner = canonical_user_name(slug);
    if (!owner) return no_such_user(slug);
    Session session;
    TokenInfo token_info;
    if (auto refused = sign_in_for_token(*owner, id, session, token_info)) return std::move(*refused);
    const TokenInfo* token = &token_info;
    const Status revoked = store_.revoke_token(session.actor, id, session.audit);
    if (!revoked.ok()) {
        if (revoked.code() == StatusCode::not_found) return no_such_token(id, *owner);
        return from_status(revoked, "revoking a token");
    }
    ApiResponse response = no_content_response();
    response.audit_line = audit_prefix() + "token " + token->id + " of " + token->owner + " revoked by " +
                          session.user.name + " from " + loggable(request_.client_address);
    return response;
}

ApiResponse Exchange::change_password(std::optional<std::string_view> slug) {
    std::optional<std::string> target;
    if (slug) {
        auto canonical = canonical_user_name(*slug);
        if (!canonical) return no_such_user(*slug);
        target = std::move(*canonical);
    }
    auto body = parse_password_body(request_.body);
    if (!body) return bad_request(body.status());
    // Both prove the same thing; a client that sends two different current
    // passwords is confused, and we do not guess which one it meant.
    if (!secrets_equal(body->old_password, credentials_.password)) {
        return error_response(400, "\"oldPassword\" is not the password you signed in with.",
                              exception_name::validation);
    }
    Session session;
    if (auto refused = authenticate(session)) return std::move(*refused);
    if (target && *target != session.user.name) {
        return error_response(403,
                              "You can change only your own password. An administrator sets another user's "
                              "password with: patctl user passwd NAME",
                              exception_name::authorisation);
    }
    const Status changed = store_.set_password(session.user.name, body->password, session.audit);
    if (!changed.ok()) return from_status(changed, "changing a password");
    ApiResponse response = no_content_response();
    response.audit_line =
        audit_prefix() + "password of " + session.user.name + " changed from " + loggable(request_.client_address);
    return response;
}

}  // namespace pat::api
