// Route classifiers: from a request's method, normalized path and query
// string to the need, project and repository the decision checks.
//
// They decide on nginx's normalized path ($uri: percent-decoded, dot segments
// and duplicate slashes resolved). The raw request line is checked separately
// by is_safe_raw_uri(), so that the check and the upstream can never look at
// different repositories.
#pragma once

#include <string_view>

#include "pat/permission.hpp"

namespace pat {

struct RouteInput {
    std::string_view method;  // "GET", "POST", ...
    std::string_view path;    // normalized, decoded ($uri)
    std::string_view args;    // raw query string without '?', may be empty
};

struct Route {
    enum class Outcome {
        classified,    // need/project/repo are set
        unrecognised,  // not a route we know: deny (Need::unrecognised_route)
        bad_request,   // ambiguous or hostile (e.g. duplicated service=): 400
    };
    Outcome outcome = Outcome::unrecognised;
    Need need = Need::unrecognised_route;
    std::string_view project;  // a view into RouteInput::path, as written
    std::string_view repo;     // likewise, without any ".git" suffix; empty for project needs
};

// Git smart HTTP under an optional context path: .../scm/{KEY}/{slug}[.git]/...
// and personal projects .../scm/~{user}/{slug}.
Route classify_git_request(const RouteInput& input);

// Bitbucket REST under an optional context path: .../rest/api/{1.0|latest}/...
Route classify_rest_request(const RouteInput& input);

// The raw request target (nginx's unparsed_uri, path and query) holds no
// encoded slash or backslash, no backslash, no ';', no NUL, and no '.' or '..'
// segment, raw or encoded, in its path. False means answer 400.
bool is_safe_raw_uri(std::string_view raw_uri);

}  // namespace pat
