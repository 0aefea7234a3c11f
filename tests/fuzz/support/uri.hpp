// A reference of what nginx does to a request path before it becomes $uri
// (ngx_http_parse_complex_uri with merge_slashes on), written from its
// documented behaviour for the route fuzz target: percent-decode, then merge
// duplicate slashes and resolve "." and ".." segments. nginx refuses (400) a
// malformed escape, an escaped NUL and a ".." above the root; so does this.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz_reference {

inline int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// One pass of percent-decoding; nullopt for a malformed escape.
inline std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hex_digit(text[i + 1]);
        const int low = hex_digit(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

// Case-insensitive (ASCII) substring test.
inline bool mentions(std::string_view haystack, std::string_view needle) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    for (std::size_t start = 0; start + needle.size() <= haystack.size(); ++start) {
        std::size_t i = 0;
        while (i < needle.size() && lower(haystack[start + i]) == lower(needle[i])) ++i;
        if (i == needle.size()) return true;
    }
    return false;
}

// $uri for a raw path (the request target before '?'), or nullopt when
// nginx answers 400.
inline std::optional<std::string> nginx_normalize(std::string_view raw_path) {
    if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
    auto decoded = percent_decode(raw_path);
    if (!decoded || decoded->find('\0') != std::string::npos) return std::nullopt;

    // Every segment after the leading '/', the last one possibly empty.
    std::vector<std::string_view> kept;
    bool trailing_slash = false;
    std::string_view rest = std::string_view(*decoded).substr(1);
    for (bool more = true; more;) {
        const auto slash = rest.find('/');
        const std::string_view segment = rest.substr(0, slash);
        more = slash != std::string_view::npos;
        rest = more ? rest.substr(slash + 1) : std::string_view{};
        if (segment == "..") {
            if (kept.empty()) return std::nullopt;  // above the root
            kept.pop_back();
            trailing_slash = true;
        } else if (segment == "." || segment.empty()) {
            trailing_slash = true;  // "a/." and "a//" end in a slash
        } else {
            kept.push_back(segment);
            trailing_slash = false;
        }
    }
    std::string out;
    for (const std::string_view segment : kept) {
        out += '/';
        out += segment;
    }
    if (out.empty() || trailing_slash) out += '/';
    return out;
}

// Does the path hold a "." or ".." segment?
inline bool has_dot_segment(std::string_view path) {
    std::size_t start = 0;
    for (;;) {
        const auto slash = path.find('/', start);
        const std::string_view segment =
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (segment == "." || segment == "..") return true;
        if (slash == std::string_view::npos) return false;
        start = slash + 1;
    }
}

}  // namespace fuzz_reference
