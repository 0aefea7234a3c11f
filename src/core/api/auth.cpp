// Credentials for the management API: HTTP Basic with the user's password.
//
// A personal access token is refused whichever way it comes (as the Basic
// password or as Bearer): tokens must not create or manage tokens, or a
// leaked read token could mint an admin one. "Token-shaped" is decided by
// arithmetic on the text (check_token_format), never by a store lookup.
#include <openssl/crypto.h>

#include <array>

#include "internal.hpp"
#include "pat/authorization.hpp"
#include "pat/token.hpp"

namespace pat::api {

namespace {

bool is_token_shaped(std::string_view text) {
    return check_token_format(text) != TokenFormat::malformed;
}

// Zeroes the decoded header however parse_credentials leaves.
struct ScratchWiper {
    std::array<unsigned char, kCredentialsScratchSize>& buffer;
    ~ScratchWiper() { OPENSSL_cleanse(buffer.data(), buffer.size()); }
};

}  // namespace

Credentials::~Credentials() {
    wipe(password);
}

void parse_credentials(std::string_view header, Credentials& out) {
    out.kind = Credentials::Kind::none;
    out.user.clear();
    wipe(out.password);
    out.password.clear();
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
    if (header.empty()) return;

    // The same parser as the access handler's; only the reading differs:
    // here a token is what must be refused, and a password what is wanted.
    std::array<unsigned char, kCredentialsScratchSize> scratch;
    const ScratchWiper wiper{scratch};
    AuthorizationCredentials parsed;
    const AuthorizationError error = parse_authorization(header, scratch, parsed);
    if (error == AuthorizationError::too_long) {
        out.kind = Credentials::Kind::malformed;
        return;
    }
    if (error != AuthorizationError::none) {
        // Another scheme, or Bearer with something unusable: "not Basic".
        // Basic that does not decode to user:password: malformed.
        if (error == AuthorizationError::token_as_user_with_password) {
            out.kind = Credentials::Kind::token;
            return;
        }
        const bool basic = error != AuthorizationError::unknown_scheme && parsed.scheme == AuthScheme::basic;
        out.kind = basic ? Credentials::Kind::malformed : Credentials::Kind::unsupported;
        return;
    }
    if (parsed.scheme == AuthScheme::bearer) {
        out.kind = is_token_shaped(parsed.token) ? Credentials::Kind::token : Credentials::Kind::unsupported;
        return;
    }
    // A token as the password, or as the user name ("<token>:", moved to
    // parsed.token by the parser): refused, and the user name is never kept.
    if (parsed.token_as_user || is_token_shaped(parsed.token)) {
        out.kind = Credentials::Kind::token;
        return;
    }
    out.kind = Credentials::Kind::password;
    out.user.assign(parsed.user);
    out.password.reserve(parsed.token.size());  // one allocation: no stray copy of the secret
    out.password.assign(parsed.token);
}

bool secrets_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace pat::api
