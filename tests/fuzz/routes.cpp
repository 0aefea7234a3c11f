// Fuzz target: the git and REST route classifiers and the raw-target check
// (include/pat/route.hpp), the way the module combines them: the raw target
// must pass is_safe_raw_uri, then the classifier sees nginx's normalized
// path ($uri) and the raw query string.
//
// Input: "METHOD\nRAW-TARGET" (the target is path[?query], as in the
// request line).
//
// Invariants, for both classifiers unless said otherwise:
//   - safe raw target => nginx would accept it, its $uri has no "." or ".."
//     segment, equals the raw path decoded once, and so the module's route
//     is the route a server that decodes the raw path once would take;
//   - not classified => the need is unrecognised_route (denied);
//   - classified => a real need; for a repository or project need a valid
//     project key and a valid repository slug (or none, for a project need of
//     REST), both views into the path; for REST's targetless needs
//     (authenticated, sysadmin) neither;
//   - REST: the row or rule that decided is named, and a sysadmin's rules
//     (a fixed set) only ever decide what they match;
//   - git: nothing whose path or query mentions receive-pack, in any case,
//     raw or decoded once, is ever classified with a read need;
//   - a classifier is a function: the same input, the same route.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pat/names.hpp"
#include "pat/route.hpp"
#include "support/check.hpp"
#include "support/uri.hpp"

namespace {

using fuzz_reference::mentions;
using pat::Need;
using pat::Route;
using pat::RouteInput;

bool is_view_into(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool same_route(const Route& a, const Route& b) {
    return a.outcome == b.outcome && a.need == b.need && a.project == b.project && a.repo == b.repo &&
           a.rest_route == b.rest_route && a.rest_rule == b.rest_rule;
}

bool is_read_need(Need need) {
    return need == Need::repo_read || need == Need::project_read;
}

// Decodes every well-formed escape once and keeps a malformed one as it is
// (a query may hold both: "x=receive%2Dpack&y=%zz").
std::string decode_leniently(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const int high = i + 2 < text.size() ? fuzz_reference::hex_digit(text[i + 1]) : -1;
        const int low = i + 2 < text.size() ? fuzz_reference::hex_digit(text[i + 2]) : -1;
        if (text[i] == '%' && high >= 0 && low >= 0) {
            out += static_cast<char>(high * 16 + low);
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

bool mentions_receive_pack(std::string_view text) {
    return mentions(text, "receive-pack") || mentions(decode_leniently(text), "receive-pack");
}

enum class Classifier { git, rest };

// A fixed set of a sysadmin's rules, built once.
const pat::RestRules& fuzz_rules() {
    static const pat::RestRules rules = [] {
        pat::RestRules built;
        const bool ok =
            built.add("GET", "/rest/myplugin/latest/projects/{projectKey}/repos/{repositorySlug}/x/**", "repo-read")
                .ok() &&
            built.add("*", "/rest/api/latest/projects/{projectKey}/secret", "deny").ok() &&
            built.add("POST", "/rest/ci/{id}", "sysadmin").ok();
        FUZZ_CHECK(ok, "the fuzz rules do not parse");
        return built;
    }();
    return rules;
}

Route classify(Classifier which, const RouteInput& input) {
    const Route route = which == Classifier::git ? pat::classify_git_request(input) : pat::classify_rest_request(input);
    const Route again = which == Classifier::git ? pat::classify_git_request(input) : pat::classify_rest_request(input);
    FUZZ_CHECK(same_route(route, again), "the classifier gave two answers for one input");
    if (which == Classifier::rest) {
        FUZZ_CHECK(route.rest_rule == -1, "a rule decided without rules");
        FUZZ_CHECK(route.outcome != Route::Outcome::bad_request, "REST answered 400 on its own");
        const Route ruled = pat::classify_rest_request(input, &fuzz_rules());
        if (ruled.rest_rule < 0) {
            FUZZ_CHECK(same_route(route, ruled), "rules that did not match changed the route");
        } else {
            FUZZ_CHECK(ruled.rest_route == nullptr, "a rule and a row both decided");
            FUZZ_CHECK(ruled.need == fuzz_rules().need(static_cast<std::size_t>(ruled.rest_rule)),
                       "the route's need is not its rule's");
        }
        if (route.outcome == Route::Outcome::classified) {
            FUZZ_CHECK(route.rest_route != nullptr && route.rest_route->need == route.need,
                       "a classified REST route names no row, or another row's need");
        }
    }

    if (route.outcome != Route::Outcome::classified) {
        FUZZ_CHECK(route.need == Need::unrecognised_route, "an unclassified route carries a need");
        return route;
    }
    FUZZ_CHECK(route.need != Need::unrecognised_route, "a classified route has no real need");
    if (!pat::is_repo_need(route.need) && !pat::is_project_need(route.need)) {
        FUZZ_CHECK(which == Classifier::rest, "a git route without a target");
        FUZZ_CHECK(route.project.empty() && route.repo.empty(), "a targetless need names a target");
        return route;
    }
    FUZZ_CHECK(pat::is_valid_project_key(route.project), "a classified route names an invalid project");
    FUZZ_CHECK(is_view_into(route.project, input.path) && is_view_into(route.repo, input.path),
               "project or repository is not a view into the path");
    if (pat::is_project_need(route.need)) {
        FUZZ_CHECK(route.repo.empty(), "a project need names a repository");
    } else {
        FUZZ_CHECK(pat::is_valid_repo_slug(route.repo), "a repository need names an invalid slug");
    }
    if (which == Classifier::git) {
        FUZZ_CHECK(route.need == Need::repo_read || route.need == Need::repo_write, "a git route with an odd need");
        if (is_read_need(route.need)) {
            FUZZ_CHECK(!mentions_receive_pack(input.path) && !mentions_receive_pack(input.args),
                       "a request mentioning receive-pack was classified with a read need");
        }
    }
    return route;
}

void check_target(Classifier which, std::string_view method, std::string_view raw_target) {
    const std::size_t question = raw_target.find('?');
    const std::string_view raw_path = raw_target.substr(0, question);
    const std::string_view args =
        question == std::string_view::npos ? std::string_view{} : raw_target.substr(question + 1);

    // The classifiers must survive anything, even text nginx never passes.
    classify(which, {method, raw_path, args});

    const bool safe = pat::is_safe_raw_uri(raw_target);
    const std::optional<std::string> uri = fuzz_reference::nginx_normalize(raw_path);
    if (uri) classify(which, {method, *uri, args});
    if (!safe) return;  // the module answers 400

    FUZZ_CHECK(uri.has_value(), "a target that nginx refuses passed the raw check");
    FUZZ_CHECK(!fuzz_reference::has_dot_segment(*uri), "a safe target normalizes to a dot segment");
    const std::optional<std::string> decoded_once = fuzz_reference::percent_decode(raw_path);
    FUZZ_CHECK(decoded_once.has_value(), "a safe target holds a malformed escape");
    FUZZ_CHECK(*uri == *decoded_once, "a safe target's $uri differs from its path decoded once");

    const Route module_route = classify(which, {method, *uri, args});
    const Route upstream_route = classify(which, {method, *decoded_once, args});
    FUZZ_CHECK(module_route.outcome == upstream_route.outcome && module_route.need == upstream_route.need &&
                   module_route.project == upstream_route.project && module_route.repo == upstream_route.repo,
               "the module and a server decoding the raw path once see different routes");
    if (which == Classifier::git && module_route.outcome == Route::Outcome::classified &&
        is_read_need(module_route.need)) {
        FUZZ_CHECK(!mentions_receive_pack(raw_path), "a raw path mentioning receive-pack was classified as read");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.find('\n');
    if (newline == std::string_view::npos) return 0;
    const std::string_view method = input.substr(0, newline);
    const std::string_view raw_target = input.substr(newline + 1);
    check_target(Classifier::git, method, raw_target);
    check_target(Classifier::rest, method, raw_target);
    return 0;
}
