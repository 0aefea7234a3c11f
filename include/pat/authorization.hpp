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
};

struct AuthorizationCredentials {
    // Set once the scheme is recognised, even if what follows is refused
    // (so a caller can tell a bad Basic header from a bad Bearer one).
    AuthScheme scheme = AuthScheme::bearer;
    std::string_view user;   // Basic only; a view into the scratch buffer
    std::string_view token;  // the secret (token or password). Basic: into the scratch
                             // buffer; Bearer: into the header
};

// Parses a header value (nginx has already trimmed surrounding whitespace).
// Scheme names are case-insensitive; one or more spaces separate the scheme
// from the credentials; nothing may follow them. The Basic form must be
// padded standard base64 of "user:token" with a non-empty user and no NUL.
// The scratch buffer must hold kCredentialsScratchSize bytes; it holds the
// decoded secret afterwards, whatever the result, and the caller wipes it.
AuthorizationError parse_authorization(std::string_view header, std::span<unsigned char> scratch,
                                       AuthorizationCredentials& out);

std::string_view authorization_error_name(AuthorizationError error);

}  // namespace pat
