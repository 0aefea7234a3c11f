// Path helpers shared by the route classifiers. Views only: no allocation.
#pragma once

#include <cstddef>
#include <string_view>

namespace pat::path {

// The position of the first '/' at or after `from`, or npos. A plain loop:
// segments are a few bytes long, where a call to memchr costs more than the
// scan (the classifiers split every path segment by segment).
inline std::size_t find_slash(std::string_view text, std::size_t from = 0) {
    for (std::size_t i = from; i < text.size(); ++i) {
        if (text[i] == '/') return i;
    }
    return std::string_view::npos;
}

// Removes the first segment of `rest` and returns it ("a/b/c" -> "a", rest
// becomes "b/c"; "a" -> "a", rest becomes empty).
inline std::string_view take_segment(std::string_view& rest) {
    const auto slash = find_slash(rest);
    const std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    return segment;
}

// An absolute path of non-empty segments, none of them "." or "..", and no
// character that some server treats as a separator or terminator (';' for
// path parameters, '\\', NUL). nginx should have resolved or refused all of
// these; we deny rather than trust that it did.
inline bool is_plain_absolute_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    for (char c : path) {
        if (c == ';' || c == '\\' || c == '\0') return false;
    }
    std::size_t start = 1;
    for (;;) {
        const auto slash = find_slash(path, start);
        const std::string_view segment =
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (segment.empty() || segment == "." || segment == "..") return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

}  // namespace pat::path
