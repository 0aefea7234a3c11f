// A sysadmin's REST rules: parsed at configuration time, matched per request
// without allocation. See include/pat/route.hpp and docs/rest-routes.md.
#include <string>
#include <string_view>
#include <utility>

#include "pat/ascii.hpp"
#include "pat/names.hpp"
#include "pat/route.hpp"
#include "path_segments.hpp"

namespace pat {
namespace {

using path::take_segment;
using std::string_view;

bool is_rule_method(string_view method) {
    return method == "*" || method == "GET" || method == "POST" || method == "PUT" || method == "DELETE" ||
           method == "PATCH";
}

bool method_matches(string_view rule, string_view method) {
    if (rule == "*")
        return method == "GET" || method == "HEAD" || method == "POST" || method == "PUT" || method == "DELETE" ||
               method == "PATCH";
    return rule == method || (rule == "GET" && method == "HEAD");
}

Status invalid(std::string message) {
    return {StatusCode::invalid_argument, std::move(message)};
}

}  // namespace

Status RestRules::add(string_view method, string_view path_template, string_view need_text) {
    if (!is_rule_method(method)) {
        return invalid("invalid method \"" + std::string(method) + "\": it must be GET, POST, PUT, DELETE, PATCH or *");
    }
    Need need = Need::unrecognised_route;
    if (need_text != "deny") {
        const auto parsed = parse_need(need_text);
        if (!parsed) {
            return invalid("invalid need \"" + std::string(need_text) +
                           "\": it must be authenticated, repo-read, repo-write, repo-admin, project-read, "
                           "project-write, project-admin, repo-fork, sysadmin or deny");
        }
        need = *parsed;
    }
    if (path_template.substr(0, 6) != "/rest/" || path_template.size() == 6) {
        return invalid("invalid path template \"" + std::string(path_template) + "\": it must start with /rest/");
    }
    Rule rule{std::string(method), std::string(path_template), {}, need, std::string(need_text)};
    string_view rest = path_template.substr(6);
    bool has_project = false, has_repo = false;
    while (!rest.empty() || rule.segments.empty()) {
        const string_view segment = take_segment(rest);
        const auto fail = [&](const char* why) {
            return invalid("invalid path template \"" + std::string(path_template) + "\": segment \"" +
                           std::string(segment) + "\" " + why);
        };
        if (segment.empty() || segment == "." || segment == "..") return fail("is empty or a dot segment");
        if (segment.find_first_of("%;\\?#*") != string_view::npos && segment != "**") {
            return fail("has a character a template may not hold (% ; \\ ? # *)");
        }
        Segment::Kind kind = Segment::Kind::literal;
        if (segment == "**") {
            if (!rest.empty()) return fail("may only be the last one");
            kind = Segment::Kind::tail;
        } else if (segment.front() == '{' || segment.back() == '}') {
            if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}' ||
                segment.substr(1, segment.size() - 2).find_first_of("{}") != string_view::npos) {
                return fail("is not a whole {parameter}");
            }
            if (segment == "{projectKey}") {
                if (has_project) return fail("repeats the target");
                kind = Segment::Kind::project;
                has_project = true;
            } else if (segment == "{repositorySlug}") {
                if (has_repo || !has_project) return fail("must follow {projectKey}, once");
                kind = Segment::Kind::repo;
                has_repo = true;
            } else {
                kind = Segment::Kind::any;
            }
        } else if (segment.find_first_of("{}") != string_view::npos) {
            return fail("mixes text and a parameter");
        } else if (rule.segments.size() == 1 && segment == "latest") {
            kind = Segment::Kind::version;
        }
        rule.segments.push_back({kind, std::string(segment)});
    }
    if (is_repo_need(need) && !(has_project && has_repo)) {
        return invalid("need \"" + std::string(need_text) +
                       "\" names a repository: the template must hold "
                       "{projectKey} and {repositorySlug}");
    }
    if (is_project_need(need) && !has_project) {
        return invalid("need \"" + std::string(need_text) + "\" names a project: the template must hold {projectKey}");
    }
    rules_.push_back(std::move(rule));
    return Status::success();
}

std::string RestRules::describe(std::size_t index) const {
    const Rule& rule = rules_[index];
    return rule.method + " " + rule.path_template + " " + rule.need_text;
}

int RestRules::match(string_view method, string_view rest, string_view& project, string_view& repo) const noexcept {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const Rule& rule = rules_[i];
        if (!method_matches(rule.method, method)) continue;
        string_view left = rest;
        string_view found_project, found_repo;
        bool matched = true;
        for (const Segment& segment : rule.segments) {
            if (segment.kind == Segment::Kind::tail) {
                matched = !left.empty();
                left = {};
                break;
            }
            if (left.empty()) {
                matched = false;
                break;
            }
            const string_view part = take_segment(left);
            switch (segment.kind) {
                case Segment::Kind::literal: matched = part == segment.text; break;
                case Segment::Kind::version: matched = part == "latest" || part == "1.0"; break;
                case Segment::Kind::project:
                    matched = is_valid_project_key(part);
                    found_project = part;
                    break;
                case Segment::Kind::repo:
                    matched = is_valid_repo_slug(part);
                    found_repo = part;
                    break;
                case Segment::Kind::any: matched = !part.empty(); break;
                case Segment::Kind::tail: break;
            }
            if (!matched) break;
        }
        if (matched && left.empty()) {
            project = found_project;
            repo = found_repo;
            return static_cast<int>(i);
        }
    }
    return -1;
}

}  // namespace pat
