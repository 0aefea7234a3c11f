// Parsing of the Authorization request header: "Basic base64(user:secret)"
// and "Bearer token". The one parser of that header: the access handler
// (a token, as Basic password or Bearer) and the management API (a user's
// password, refusing tokens) both use it, so they can never disagree on what
// a header says. The caller owns the scratch buffer that receives the
// decoded secret and wipes it.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace pat {

// A header value longer than this is refused outright (a token is 54 bytes,
// a password at most 1 KiB).
inline constexpr std::size_t kMaxAuthorizationLength = 4096;
// Enough for the base64 decoding of any accepted header value.
inline constexpr std::size_t kCredentialsScratchSize = kMaxAuthorizationLength / 4 * 3;

enum class AuthScheme { basic, bearer };

enum class AuthorizationError {
    none,
    too_long,
    unknown_scheme,
    missing_credentials,  // the scheme alone
    extra_words,          // anything after the credentials
    bad_base64,
    no_colon,
    empty_user,
    nul_byte,
    token_as_user_with_password,  // Basic "<token>:<something>": refused, never logged
};

struct AuthorizationCredentials {
    // Set once the scheme is recognised, even if what follows is refused
    // (so a caller can tell a bad Basic header from a bad Bearer one).
    AuthScheme scheme = AuthScheme::bearer;
    std::string_view user;   // Basic only; a view into the scratch buffer
    std::string_view token;  // the secret (token or password). Basic: into the scratch
                             // buffer; Bearer: into the header
    // Basic "<token>:" (`curl -u TOKEN:`, `git clone https://TOKEN@host/...`,
    // the habit other forges teach): the user name is the token. It is moved
    // to `token` and `user` stays empty, so that no caller can log, compare
    // or publish it as a name; the request is then decided like Bearer (the
    // token's owner is the identity). A token-shaped user name with a
    // non-empty password is refused as token_as_user_with_password.
    bool token_as_user = false;
};

// Parses a header value (nginx has already trimmed surrounding whitespace).
// Scheme names are case-insensitive; one or more spaces separate the scheme
// from the credentials; nothing may follow them. The Basic form must be
// padded standard base64 of "user:token" with a non-empty user and no NUL;
// a user name that looks like a token (looks_like_token) is the token when
// the password is empty, and refused otherwise.
// The scratch buffer must hold kCredentialsScratchSize bytes; it holds the
// decoded secret afterwards, whatever the result, and the caller wipes it.
AuthorizationError parse_authorization(std::string_view header, std::span<unsigned char> scratch,
                                       AuthorizationCredentials& out) noexcept;

std::string_view authorization_error_name(AuthorizationError error);

}  // namespace pat
