// Bitbucket REST routes: which need a request has.
//
// Only the core API's project and repository resources are recognised:
// .../rest/api/{1.0|latest}/projects/{KEY}[/...]. The full table is in the
// README ("REST routes"). The rules in short:
//   - the repository itself: read with GET/HEAD, fork with POST, administer
//     with PUT/DELETE;
//   - under the repository: settings, webhooks, hooks, permissions and
//     secret-scanning need repo admin whatever the method (their GETs show
//     secrets and grants); so do writes to labels, recreate and the default
//     branch (Bitbucket requires REPO_ADMIN for them); any other GET/HEAD
//     needs repo read and any other write repo write;
//   - the project itself and its repository list: read with GET/HEAD; every
//     project-level write (creating a repository included) and anything under
//     the project's settings, webhooks, hooks, permissions or
//     secret-scanning needs project admin. Bitbucket has no project-level
//     write that PROJECT_WRITE alone permits, so we take the stricter level.
// Methods other than GET, HEAD, POST, PUT, DELETE, and every other path, are
// unrecognised (denied).
//
// Keywords ("projects", "repos", "settings", ...) match ignoring ASCII case:
// the answer for a variant is then the answer for the canonical spelling, so
// it can only be stricter than the server's own routing. Project keys and
// slugs are passed through as written; the decision canonicalises them.
//
// No allocation: everything is a view into the input.
#include <cstddef>
#include <initializer_list>
#include <string_view>

#include "pat/names.hpp"
#include "pat/route.hpp"
#include "pat/ascii.hpp"
#include "path_segments.hpp"

namespace pat {
namespace {

using std::string_view;
using ascii::equals_ignoring_case;
using path::is_plain_absolute_path;
using path::take_segment;

bool is_one_of(string_view segment, std::initializer_list<string_view> keywords) {
    for (string_view keyword : keywords) {
        if (equals_ignoring_case(segment, keyword)) return true;
    }
    return false;
}

// Drops segments from `rest` up to and including the first one equal to
// `wanted` (ignoring case); false when there is none.
bool skip_past_segment(string_view& rest, string_view wanted) {
    while (!rest.empty()) {
        if (equals_ignoring_case(take_segment(rest), wanted)) return true;
    }
    return false;
}

enum class MethodKind { read, create, update_or_delete, unknown };

MethodKind kind_of(string_view method) {
    if (method == "GET" || method == "HEAD") return MethodKind::read;
    if (method == "POST") return MethodKind::create;
    if (method == "PUT" || method == "DELETE") return MethodKind::update_or_delete;
    return MethodKind::unknown;
}

Route unrecognised() {
    return {};
}

Route classified(Need need, string_view project, string_view repo = {}) {
    Route route;
    route.outcome = Route::Outcome::classified;
    route.need = need;
    route.project = project;
    route.repo = repo;
    return route;
}

// Resources whose every method, GET included, is administration.
bool is_admin_area(string_view segment) {
    return is_one_of(segment, {"settings", "webhooks", "hooks", "permissions", "secret-scanning"});
}

// {project}/repos/{slug}/{rest}, rest not empty.
Need repo_sub_resource_need(MethodKind method, string_view rest) {
    const string_view area = take_segment(rest);
    if (is_admin_area(area)) return Need::repo_admin;
    if (method == MethodKind::read) return Need::repo_read;
    const bool admin_write = is_one_of(area, {"labels", "recreate", "default-branch"}) ||
                             (equals_ignoring_case(area, "branches") && equals_ignoring_case(rest, "default"));
    return admin_write ? Need::repo_admin : Need::repo_write;
}

// {project}/repos/{slug}[/...]
Route classify_repo(MethodKind method, string_view project, string_view rest) {
    const string_view repo = take_segment(rest);
    if (!is_valid_repo_slug(repo)) return unrecognised();
    if (!rest.empty()) return classified(repo_sub_resource_need(method, rest), project, repo);
    switch (method) {
        case MethodKind::read: return classified(Need::repo_read, project, repo);
        case MethodKind::create: return classified(Need::repo_fork, project, repo);
        case MethodKind::update_or_delete: return classified(Need::repo_admin, project, repo);
        case MethodKind::unknown: break;
    }
    return unrecognised();
}

// projects/{KEY}[/...]
Route classify_project(MethodKind method, string_view rest) {
    const string_view project = take_segment(rest);
    if (!is_valid_project_key(project)) return unrecognised();
    const string_view area = take_segment(rest);
    if (equals_ignoring_case(area, "repos") && !rest.empty()) return classify_repo(method, project, rest);
    if (is_admin_area(area)) return classified(Need::project_admin, project);
    // The project, its repository list (POST creates a repository) and any
    // other project resource.
    return classified(method == MethodKind::read ? Need::project_read : Need::project_admin, project);
}

}  // namespace

Route classify_rest_request(const RouteInput& input) {
    string_view path = input.path;
    // One trailing slash names the same resource.
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    if (!is_plain_absolute_path(path)) return unrecognised();

    const MethodKind method = kind_of(input.method);
    if (method == MethodKind::unknown) return unrecognised();

    // The first "rest" segment starts the route; anything before it is the
    // context path.
    string_view rest = path.substr(1);
    if (!skip_past_segment(rest, "rest")) return unrecognised();
    if (!equals_ignoring_case(take_segment(rest), "api")) return unrecognised();
    if (!is_one_of(take_segment(rest), {"1.0", "latest"})) return unrecognised();
    if (!equals_ignoring_case(take_segment(rest), "projects") || rest.empty()) return unrecognised();
    return classify_project(method, rest);
}

}  // namespace pat
