// Fuzz target: the Authorization header parser (pat::parse_authorization).
//
// Invariants beyond "no crash, no out-of-bounds access" (the scratch buffer
// is a heap block of exactly kCredentialsScratchSize bytes, so ASan sees any
// overrun):
//   - over 4096 bytes is too_long, whatever it holds;
//   - the scheme is reported whenever the first word is Basic/Bearer in any case;
//   - an accepted Bearer token is a non-empty view into the header without
//     space, tab or NUL; an accepted Basic user is non-empty, holds no ':' and
//     no NUL, and user and token are views into the scratch buffer;
//   - the result does not depend on the case of the scheme or on how many
//     spaces separate it from the credentials;
//   - accepted Basic credentials, encoded again by an independent encoder,
//     parse to the same user and token (one spelling per credential).
#include "pat/authorization.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pat/token.hpp"
#include "support/base64.hpp"
#include "support/check.hpp"

namespace {

using pat::AuthorizationCredentials;
using pat::AuthorizationError;
using pat::AuthScheme;

bool is_view_into(std::string_view part, const void* begin, std::size_t size) {
    const auto* first = static_cast<const char*>(begin);
    return part.data() >= first && part.data() + part.size() <= first + size;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
        const char y = (b[i] >= 'A' && b[i] <= 'Z') ? static_cast<char>(b[i] + 32) : b[i];
        if (x != y) return false;
    }
    return true;
}

struct Parsed {
    AuthorizationError error;
    AuthorizationCredentials credentials;
    std::string user, token;  // copies: the views die with the scratch buffer
};

Parsed parse(std::string_view header) {
    // Exactly the documented size, on the heap: one byte more written is an ASan report.
    auto scratch = std::make_unique<unsigned char[]>(pat::kCredentialsScratchSize);
    Parsed parsed;
    parsed.error = pat::parse_authorization(header, {scratch.get(), pat::kCredentialsScratchSize}, parsed.credentials);
    const auto& out = parsed.credentials;
    if (parsed.error == AuthorizationError::none) {
        if (out.scheme == AuthScheme::bearer) {
            FUZZ_CHECK(!out.token.empty(), "accepted Bearer without a token");
            FUZZ_CHECK(is_view_into(out.token, header.data(), header.size()),
                       "Bearer token is not a view into the header");
            FUZZ_CHECK(out.token.find_first_of(std::string_view(" \t\0", 3)) == std::string_view::npos,
                       "Bearer token holds a space, tab or NUL");
            FUZZ_CHECK(out.user.empty(), "Bearer reported a user");
        } else {
            if (out.token_as_user) {
                // "<token>:": the token-looking user name became the token;
                // no user name is handed out.
                FUZZ_CHECK(out.user.empty(), "a token as the user name was also reported as the user");
                FUZZ_CHECK(pat::looks_like_token(out.token), "token_as_user for text that does not look like a token");
            } else {
                FUZZ_CHECK(!out.user.empty(), "accepted Basic with an empty user");
                FUZZ_CHECK(!pat::looks_like_token(out.user), "a token-looking user name was handed out");
            }
            FUZZ_CHECK(out.user.find(':') == std::string_view::npos, "Basic user holds a ':'");
            FUZZ_CHECK(out.user.find('\0') == std::string_view::npos && out.token.find('\0') == std::string_view::npos,
                       "Basic credentials hold a NUL");
            // (A token sent as the user name leaves no user at all: an empty view.)
            FUZZ_CHECK((out.token_as_user ? out.user.empty()
                                          : is_view_into(out.user, scratch.get(), pat::kCredentialsScratchSize)) &&
                           is_view_into(out.token, scratch.get(), pat::kCredentialsScratchSize),
                       "Basic credentials are not views into the scratch buffer");
        }
    } else {
        FUZZ_CHECK(out.user.empty() && out.token.empty(), "a refused header left credentials behind");
    }
    parsed.user = std::string(out.user);
    parsed.token = std::string(out.token);
    return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view header(reinterpret_cast<const char*>(data), size);
    const Parsed first = parse(header);

    if (size > pat::kMaxAuthorizationLength) {
        FUZZ_CHECK(first.error == AuthorizationError::too_long, "an over-long header was not refused as too long");
        return 0;
    }

    const std::size_t space = header.find(' ');
    const std::string_view scheme = header.substr(0, space);
    const bool basic = equals_ignoring_case(scheme, "basic");
    const bool bearer = equals_ignoring_case(scheme, "bearer");
    if (!basic && !bearer) {
        FUZZ_CHECK(first.error == AuthorizationError::unknown_scheme, "an unknown scheme was not refused as such");
        return 0;
    }
    FUZZ_CHECK(first.credentials.scheme == (basic ? AuthScheme::basic : AuthScheme::bearer),
               "the scheme was misreported");
    if (space == std::string_view::npos) {
        FUZZ_CHECK(first.error == AuthorizationError::missing_credentials, "a bare scheme was accepted");
        return 0;
    }

    // The same credentials with the scheme in another case and one more
    // separating space: the same answer.
    std::string variant(basic ? "bAsIc" : "BEARER");
    variant += "  ";
    variant += header.substr(space + 1);
    if (variant.size() <= pat::kMaxAuthorizationLength) {
        const Parsed other = parse(variant);
        FUZZ_CHECK(other.error == first.error, "scheme case or spacing changed the verdict");
        FUZZ_CHECK(other.user == first.user && other.token == first.token,
                   "scheme case or spacing changed the credentials");
    }

    if (first.error == AuthorizationError::none && basic) {
        // A token sent as the user name was "TOKEN:" on the wire.
        const std::string plain = first.credentials.token_as_user ? first.token + ":" : first.user + ":" + first.token;
        const std::string canonical = "Basic " + fuzz_reference::base64_encode(plain);
        const Parsed again = parse(canonical);
        FUZZ_CHECK(again.error == AuthorizationError::none, "re-encoded Basic credentials were refused");
        FUZZ_CHECK(again.user == first.user && again.token == first.token, "re-encoded Basic credentials changed");
        // Strict base64 has one spelling: the credentials text was exactly it.
        std::string_view credentials = header.substr(space);
        while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
        FUZZ_CHECK(credentials == std::string_view(canonical).substr(6), "a second base64 spelling was accepted");
    }
    return 0;
}
