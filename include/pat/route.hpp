// Route classifiers: from a request's method, normalized path and query
// string to the need, project and repository the decision checks.
//
// They decide on nginx's normalized path ($uri: percent-decoded, dot segments
// and duplicate slashes resolved). The raw request line is checked separately
// by is_safe_raw_uri(), so that the check and the upstream can never look at
// different repositories.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pat/permission.hpp"
#include "pat/status.hpp"

namespace pat {

struct RouteInput {
    std::string_view method;  // "GET", "POST", ...
    std::string_view path;    // normalized, decoded ($uri)
    std::string_view args;    // raw query string without '?', may be empty
};

// One operation of the built-in REST table, generated from Atlassian's
// OpenAPI description of the Bitbucket REST API (docs/rest-routes.md).
struct RestRouteInfo {
    enum class Basis : std::uint8_t {
        stated,    // the need Bitbucket's description states, mapped
        reviewed,  // a reviewed choice (tools/rest_routes/generate.py says why)
        unstated,  // the description states nothing: the documented default
    };
    std::string_view method;         // "GET", "POST", "PUT", "DELETE", "PATCH"
    std::string_view path_template;  // under /rest, e.g. "/api/latest/projects/{projectKey}"
    Need need;                       // Need::unrecognised_route: refused on purpose
    std::string_view stated;         // Bitbucket's permission ("REPO_ADMIN", "AUTHENTICATED"); empty: none
    std::string_view operation_id;
    Basis basis;
};

// Every row of the built-in table, in the generator's order.
std::span<const RestRouteInfo> builtin_rest_routes();

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
    // REST only, for explanations: the built-in row that decided, or the
    // index of the sysadmin's rule (RestRules) that did; neither when nothing
    // matched.
    const RestRouteInfo* rest_route = nullptr;
    int rest_rule = -1;
};

// Rules a sysadmin adds (auth_pat_rest_rule METHOD PATH-TEMPLATE NEED), tried
// in order before the built-in REST table; the first match decides.
//   METHOD    GET (also HEAD), POST, PUT, DELETE, PATCH, or * for any
//   TEMPLATE  /rest/... : literal segments match exactly; {projectKey} and
//             {repositorySlug} are the target (validated like the table's);
//             any other {name} is one segment; a final ** is one or more
//             segments; "latest" as the version segment also matches "1.0"
//   NEED      a need name (parse_need) or "deny"
// Built at configuration time (allocates); matching allocates nothing.
class RestRules {
   public:
    // Adds a rule, or says why not (a message naming the bad part).
    Status add(std::string_view method, std::string_view path_template, std::string_view need);
    std::size_t size() const { return rules_.size(); }
    bool empty() const noexcept { return rules_.empty(); }
    // "GET /rest/... repo-read", as written.
    std::string describe(std::size_t index) const;

    // The index of the first rule matching the method and the path after the
    // route's "rest" segment (e.g. "api/1.0/projects/P"), and the target it
    // names; -1 when none does.
    int match(std::string_view method, std::string_view rest, std::string_view& project,
              std::string_view& repo) const noexcept;
    Need need(std::size_t index) const noexcept { return rules_[index].need; }

   private:
    struct Segment {
        enum class Kind : std::uint8_t { literal, version, project, repo, any, tail };
        Kind kind;
        std::string text;
    };
    struct Rule {
        std::string method;  // "*" for any
        std::string path_template;
        std::vector<Segment> segments;  // after "rest"
        Need need;
        std::string need_text;
    };
    std::vector<Rule> rules_;
};

// Git smart HTTP under an optional context path: .../scm/{KEY}/{slug}[.git]/...
// and personal projects .../scm/~{user}/{slug}.
Route classify_git_request(const RouteInput& input) noexcept;

// Bitbucket REST under an optional context path: .../rest/{family}/{1.0|latest}/...
// by the sysadmin's rules (if any), then the built-in table.
Route classify_rest_request(const RouteInput& input, const RestRules* rules = nullptr) noexcept;

// The raw request target (nginx's unparsed_uri, path and query) holds no
// encoded slash or backslash, no backslash, no ';', no NUL, and no '.' or '..'
// segment, raw or encoded, in its path. False means answer 400.
bool is_safe_raw_uri(std::string_view raw_uri) noexcept;

}  // namespace pat
