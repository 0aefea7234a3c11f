// The permissions file as a tree of our own, built from yaml-cpp's events:
// every node with its line, nothing of yaml-cpp in it (tree.cpp alone
// includes yaml-cpp). Private to src/permissions_file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pat::permissions_file {

// A failure anywhere in the reader: parse_permissions_file catches it and
// turns it into its one-line Status (nothing else sees it).
struct FileError {
    std::size_t line;
    std::string message;
};

[[noreturn]] inline void fail(std::size_t line, std::string message) {
    throw FileError{line, std::move(message)};
}

// Text inside an error message: control characters escaped (the message
// stays one line), long text cut; quoted() adds double quotes (and escapes
// them).
std::string printable(std::string_view text);
std::string quoted(std::string_view text);

struct Node {
    enum class Kind : std::uint8_t { null, scalar, sequence, map };
    Kind kind = Kind::null;
    std::size_t line = 1;
    std::string text;         // scalar
    std::vector<Node> items;  // sequence: the items; map: key, value, key, value, ...
};

// The one document of text (a null node when there is none). Throws
// FileError on a YAML syntax error and on what the format refuses whatever
// the keys: nesting deeper than kMaxPermissionsFileDepth, anchors, aliases,
// tags, a second document.
Node read_tree(std::string_view text);

}  // namespace pat::permissions_file
