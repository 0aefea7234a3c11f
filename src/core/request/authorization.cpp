#include "pat/authorization.hpp"

#include <array>
#include <cstdint>

#include "pat/ascii.hpp"
#include "pat/token.hpp"

namespace pat {

namespace {

constexpr std::uint8_t kNotBase64 = 0xff;

constexpr std::array<std::uint8_t, 256> make_base64_table() {
    std::array<std::uint8_t, 256> table{};
    for (auto& entry : table) entry = kNotBase64;
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
    }
    return table;
}

constexpr auto kBase64Values = make_base64_table();

// Strict RFC 4648 base64: length a multiple of 4, '=' only as the final one
// or two characters, and unused bits of the last quantum zero, so that each
// byte string has exactly one accepted encoding. Returns the decoded length,
// or -1. out holds at least text.size() / 4 * 3 bytes.
long decode_base64_strict(std::string_view text, unsigned char* out) {
    if (text.empty() || text.size() % 4 != 0) return -1;
    std::size_t padding = 0;
    if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;

    std::size_t written = 0;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::uint32_t quantum = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const unsigned char c = static_cast<unsigned char>(text[i + j]);
            std::uint32_t value = 0;
            if (last && j >= 4 - padding) {
                if (c != '=') return -1;
            } else {
                value = kBase64Values[c];
                if (value == kNotBase64) return -1;
            }
            quantum = quantum << 6 | value;
        }
        if (padding == 2 && last && (quantum & 0xffff) != 0) return -1;
        if (padding == 1 && last && (quantum & 0xff) != 0) return -1;
        out[written++] = static_cast<unsigned char>(quantum >> 16);
        if (!(last && padding == 2)) out[written++] = static_cast<unsigned char>(quantum >> 8);
        if (!(last && padding >= 1)) out[written++] = static_cast<unsigned char>(quantum);
    }
    return static_cast<long>(written);
}

}  // namespace

AuthorizationError parse_authorization(std::string_view header, std::span<unsigned char> scratch,
                                       AuthorizationCredentials& out) noexcept {
    out = AuthorizationCredentials{};
    if (header.size() > kMaxAuthorizationLength) return AuthorizationError::too_long;

    const std::size_t scheme_end = header.find(' ');
    const std::string_view scheme = header.substr(0, scheme_end);
    AuthScheme kind;
    if (ascii::equals_ignoring_case(scheme, "Basic")) {
        kind = AuthScheme::basic;
    } else if (ascii::equals_ignoring_case(scheme, "Bearer")) {
        kind = AuthScheme::bearer;
    } else {
        return AuthorizationError::unknown_scheme;
    }
    out.scheme = kind;  // known from here on, even when the credentials are refused
    if (scheme_end == std::string_view::npos) return AuthorizationError::missing_credentials;

    std::string_view credentials = header.substr(scheme_end);
    while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
    if (credentials.empty()) return AuthorizationError::missing_credentials;
    for (const char c : credentials) {
        if (c == ' ' || c == '\t') return AuthorizationError::extra_words;
        if (c == '\0') return AuthorizationError::nul_byte;
    }

    if (kind == AuthScheme::bearer) {
        out.token = credentials;
        return AuthorizationError::none;
    }

    if (scratch.size() < credentials.size() / 4 * 3) return AuthorizationError::too_long;
    const long decoded_length = decode_base64_strict(credentials, scratch.data());
    if (decoded_length < 0) return AuthorizationError::bad_base64;
    const std::string_view decoded(reinterpret_cast<const char*>(scratch.data()),
                                   static_cast<std::size_t>(decoded_length));
    if (decoded.find('\0') != std::string_view::npos) return AuthorizationError::nul_byte;
    const std::size_t colon = decoded.find(':');
    if (colon == std::string_view::npos) return AuthorizationError::no_colon;
    if (colon == 0) return AuthorizationError::empty_user;

    const std::string_view user = decoded.substr(0, colon);
    const std::string_view secret = decoded.substr(colon + 1);
    if (looks_like_token(user)) {
        // Never handed out as a user name, not even with the error.
        if (!secret.empty()) return AuthorizationError::token_as_user_with_password;
        out.token = user;
        out.token_as_user = true;
        return AuthorizationError::none;
    }
    out.user = user;
    out.token = secret;
    return AuthorizationError::none;
}

std::string_view authorization_error_name(AuthorizationError error) {
    switch (error) {
        case AuthorizationError::none: return "none";
        case AuthorizationError::too_long: return "header too long";
        case AuthorizationError::unknown_scheme: return "unknown scheme";
        case AuthorizationError::missing_credentials: return "scheme without credentials";
        case AuthorizationError::extra_words: return "extra words after the credentials";
        case AuthorizationError::bad_base64: return "bad base64";
        case AuthorizationError::no_colon: return "no colon in Basic credentials";
        case AuthorizationError::empty_user: return "empty user in Basic credentials";
        case AuthorizationError::nul_byte: return "NUL byte in credentials";
        case AuthorizationError::token_as_user_with_password:
            return "a token was sent as the user name, with a password (send it as the password or alone)";
    }
    return "unknown";
}

}  // namespace pat
