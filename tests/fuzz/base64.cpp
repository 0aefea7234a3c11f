// Fuzz target: the core's strict base64 decoder (reached through the Basic
// branch of pat::parse_authorization, its only caller), checked against
// the independent reference in support/base64.hpp: both accept with the
// same bytes, or both refuse. Accepted text is also decoded by OpenSSL's
// EVP_DecodeBlock (a third, lenient implementation) as a check of the
// reference itself.
//
// The first input byte picks the mode: even, the rest is base64 text as
// sent; odd, the rest is the credential bytes, encoded by the reference
// first (so the valid side is explored as deeply as the invalid one).
#include "support/base64.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pat/authorization.hpp"
#include "pat/token.hpp"
#include "support/check.hpp"

namespace {

using pat::AuthorizationError;

// What the parser must answer for credentials that decode to `decoded`.
AuthorizationError expected_for(std::string_view decoded) {
    if (decoded.find('\0') != std::string_view::npos) return AuthorizationError::nul_byte;
    const std::size_t colon = decoded.find(':');
    if (colon == std::string_view::npos) return AuthorizationError::no_colon;
    if (colon == 0) return AuthorizationError::empty_user;
    // A token-looking user name is the token, and only with no password.
    if (pat::looks_like_token(decoded.substr(0, colon)) && colon + 1 != decoded.size()) {
        return AuthorizationError::token_as_user_with_password;
    }
    return AuthorizationError::none;
}

// OpenSSL's decoding of strict base64 text, padding bytes removed.
std::string openssl_decode(std::string_view text) {
    std::vector<unsigned char> out(text.size() / 4 * 3 + 3);
    const int written =
        EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    FUZZ_CHECK(written >= 0, "OpenSSL refused text the reference accepted");
    std::size_t padding = 0;
    while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
    return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(written) - padding);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const bool from_bytes = (data[0] & 1) != 0;
    const std::string text = from_bytes ? fuzz_reference::base64_encode(rest) : std::string(rest);

    // Only text that reaches the decoder: one word, no NUL, within the limit.
    const std::string header = "Basic " + text;
    if (text.empty() || header.size() > pat::kMaxAuthorizationLength) return 0;
    if (text.find_first_of(std::string_view(" \t\0", 3)) != std::string::npos) return 0;

    auto scratch = std::make_unique<unsigned char[]>(pat::kCredentialsScratchSize);
    pat::AuthorizationCredentials out;
    const AuthorizationError error =
        pat::parse_authorization(header, {scratch.get(), pat::kCredentialsScratchSize}, out);

    const std::optional<std::string> reference = fuzz_reference::base64_decode_strict(text);
    if (from_bytes) {
        FUZZ_CHECK(reference && *reference == rest, "the reference codec does not round-trip");
    }
    if (!reference) {
        FUZZ_CHECK(error == AuthorizationError::bad_base64, "the core accepted base64 the reference refuses");
        return 0;
    }
    FUZZ_CHECK(openssl_decode(text) == *reference, "the reference and OpenSSL decode differently");
    FUZZ_CHECK(error != AuthorizationError::bad_base64, "the core refused base64 the reference accepts");
    FUZZ_CHECK(error == expected_for(*reference), "the core misjudged the decoded credentials");
    if (error == AuthorizationError::none) {
        // "<token>:" comes back as the token alone (token_as_user).
        std::string joined(out.token_as_user ? out.token : out.user);
        joined += ':';
        if (!out.token_as_user) joined += out.token;
        FUZZ_CHECK(joined == *reference, "the core decoded other bytes than the reference");
    }
    return 0;
}
