// The raw request target check: refuse what a server behind nginx could read
// as a different path from the one the classifier saw.
//
// The classifier decides on nginx's normalized $uri; the upstream may receive
// the raw target and decode it its own way. Anything whose meaning depends on
// who decodes it is refused:
//
//   anywhere   ';' (path parameters, and some servers split queries on it),
//              NUL raw or as %00, '#', other control characters
//   path only  an encoded '/' or '\' (%2F, %5C in either case), a raw '\',
//              a malformed escape ('%' not followed by two hex digits),
//              an encoded '%' followed by what decodes to two hex digits
//              (%252e, %25%32%65: a second decode would make a new escape of
//              it), an empty segment
//              other than a trailing one ("//"), and a "." or ".." segment
//              raw or with encoded dots (%2e, %2E, .%2e, %2E%2e, ...)
//
// The query may hold %2F and friends: Bitbucket's own clients send
// "at=refs%2Fheads%2Fmain". Overlong UTF-8 dots (%C0%AE) are not treated as
// dots: nginx does not decode them so and neither does any server we front.
#include <cstddef>
#include <string_view>

#include "pat/route.hpp"

namespace pat {
namespace {

using std::string_view;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// The byte an escape at text[at] ('%' there) decodes to, or -1 when it is
// malformed.
int escape_value(string_view text, std::size_t at) {
    if (at + 2 >= text.size()) return -1;
    const int high = hex_value(text[at + 1]);
    const int low = hex_value(text[at + 2]);
    return (high < 0 || low < 0) ? -1 : high * 16 + low;
}

// Decodes one character of `text` at `at` (an escape or a plain byte);
// advances `at` past it. -1 at the end or for a malformed escape.
int decode_one(string_view text, std::size_t& at) {
    if (at >= text.size()) return -1;
    if (text[at] != '%') return static_cast<unsigned char>(text[at++]);
    const int value = escape_value(text, at);
    at += 3;
    return value;
}

// Would the text starting at `at`, decoded once, start with two hex digits?
// Then an encoded '%' just before it makes a new escape on a second decode
// ("%252e", and "%25%32%65" as well).
bool decodes_to_two_hex_digits(string_view text, std::size_t at) {
    const int first = decode_one(text, at);
    if (first < 0 || hex_value(static_cast<char>(first)) < 0) return false;
    const int second = decode_one(text, at);
    return second >= 0 && hex_value(static_cast<char>(second)) >= 0;
}

// Characters refused in the whole target.
bool has_forbidden_character(string_view raw_uri) {
    for (std::size_t i = 0; i < raw_uri.size(); ++i) {
        const char c = raw_uri[i];
        if (c == ';' || c == '#' || is_control(static_cast<unsigned char>(c))) return true;
        if (c == '%' && raw_uri.substr(i + 1, 2) == "00") return true;
    }
    return false;
}

// Escapes refused in the path.
bool has_forbidden_escape(string_view path) {
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '\\') return true;
        if (path[i] != '%') continue;
        const int value = escape_value(path, i);
        if (value < 0 || value == '/' || value == '\\') return true;
        if (value == '%' && decodes_to_two_hex_digits(path, i + 3)) return true;
        i += 2;
    }
    return false;
}

// "." or "..", with any of the dots written as %2e or %2E.
bool is_dot_segment(string_view segment) {
    std::size_t dots = 0;
    for (std::size_t i = 0; i < segment.size(); ++dots) {
        if (segment[i] == '.') {
            i += 1;
        } else if (segment[i] == '%' && escape_value(segment, i) == '.') {
            i += 3;
        } else {
            return false;
        }
    }
    return dots == 1 || dots == 2;
}

// Empty segments (but a trailing slash) and dot segments.
bool has_forbidden_segment(string_view path) {
    std::size_t start = 1;  // path[0] is '/'
    while (start < path.size()) {
        const auto slash = path.find('/', start);
        const string_view segment = path.substr(start, slash == string_view::npos ? string_view::npos : slash - start);
        if (segment.empty() || is_dot_segment(segment)) return true;
        if (slash == string_view::npos) break;
        start = slash + 1;
    }
    return false;
}

}  // namespace

bool is_safe_raw_uri(std::string_view raw_uri) noexcept {
    if (raw_uri.empty() || raw_uri.front() != '/') return false;
    if (has_forbidden_character(raw_uri)) return false;
    const string_view path = raw_uri.substr(0, raw_uri.find('?'));
    return !has_forbidden_escape(path) && !has_forbidden_segment(path);
}

}  // namespace pat
