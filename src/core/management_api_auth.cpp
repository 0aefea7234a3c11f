// Credentials for the management API: HTTP Basic with the user's password.
//
// A personal access token is refused whichever way it comes (as the Basic
// password or as Bearer): tokens must not create or manage tokens, or a
// leaked read token could mint an admin one. "Token-shaped" is decided by
// arithmetic on the text (check_token_format), never by a store lookup.
#include <openssl/crypto.h>

#include <array>
#include <cstdint>

#include "management_api_internal.hpp"
#include "pat/token.hpp"

namespace pat::api {

namespace {

// A header longer than this is refused outright (passwords are at most 1 KiB).
constexpr std::size_t kMaxAuthorizationLength = 4096;

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

// Strict RFC 4648 base64 (padded; unused bits zero, so each byte string has
// one accepted encoding). False on anything else; out may then hold part of
// the secret, and the caller wipes it either way.
bool decode_base64_strict(std::string_view text, std::string& out) {
    out.clear();
    if (text.empty() || text.size() % 4 != 0) return false;
    out.reserve(text.size() / 4 * 3);  // no reallocation: no stray copy of the secret
    std::size_t padding = 0;
    if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::uint32_t quantum = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const auto c = static_cast<unsigned char>(text[i + j]);
            std::uint32_t value = 0;
            if (last && j >= 4 - padding) {
                if (c != '=') return false;
            } else {
                value = kBase64Values[c];
                if (value == kNotBase64) return false;
            }
            quantum = quantum << 6 | value;
        }
        if (last && padding == 2 && (quantum & 0xffff) != 0) return false;
        if (last && padding == 1 && (quantum & 0xff) != 0) return false;
        out += static_cast<char>(quantum >> 16);
        if (!(last && padding == 2)) out += static_cast<char>(quantum >> 8);
        if (!(last && padding >= 1)) out += static_cast<char>(quantum);
    }
    return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

bool is_token_shaped(std::string_view text) {
    return check_token_format(text) != TokenFormat::malformed;
}

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
    out.kind = Credentials::Kind::malformed;
    if (header.size() > kMaxAuthorizationLength) return;

    const std::size_t scheme_end = header.find(' ');
    const std::string_view scheme = header.substr(0, scheme_end);
    std::string_view value = scheme_end == std::string_view::npos ? std::string_view{} : header.substr(scheme_end);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);

    if (equals_ignoring_case(scheme, "Bearer")) {
        out.kind = is_token_shaped(value) ? Credentials::Kind::token : Credentials::Kind::unsupported;
        return;
    }
    if (!equals_ignoring_case(scheme, "Basic")) {
        out.kind = Credentials::Kind::unsupported;
        return;
    }
    std::string decoded;
    const bool decoded_ok = decode_base64_strict(value, decoded);
    const std::size_t colon = decoded.find(':');
    if (decoded_ok && colon != std::string::npos && colon != 0 && decoded.find('\0') == std::string::npos) {
        const std::string_view password = std::string_view(decoded).substr(colon + 1);
        if (is_token_shaped(password)) {
            out.kind = Credentials::Kind::token;
        } else {
            out.kind = Credentials::Kind::password;
            out.user.assign(decoded, 0, colon);
            out.password.reserve(password.size());
            out.password.assign(password);
        }
    }
    wipe(decoded);
}

bool secrets_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace pat::api
