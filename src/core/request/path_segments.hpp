// Path helpers shared by the route classifiers. Views only: no allocation.
#pragma once

#include <cstddef>
#include <string_view>

namespace pat::path {

// Removes the first segment of `rest` and returns it ("a/b/c" -> "a", rest
// becomes "b/c"; "a" -> "a", rest becomes empty).
inline std::string_view take_segment(std::string_view& rest) {
    const auto slash = rest.find('/');
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
    if (path.find_first_of(std::string_view(";\\\0", 3)) != std::string_view::npos) return false;
    std::size_t start = 1;
    for (;;) {
        const auto slash = path.find('/', start);
        const std::string_view segment =
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (segment.empty() || segment == "." || segment == "..") return false;
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

}  // namespace pat::path
