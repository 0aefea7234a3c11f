#include "targets.hpp"

#include "cli_error.hpp"
#include "output.hpp"
#include "pat/names.hpp"

namespace patctl {

std::string canonical_or_as_given(const pat::Expected<std::string>& canonical, std::string_view given) {
    return canonical.ok() ? canonical.value() : printable(given);
}

std::string user_for_display(std::string_view name) {
    return canonical_or_as_given(pat::canonical_user_name(name), name);
}

std::string group_for_display(std::string_view name) {
    return "\"" + canonical_or_as_given(pat::canonical_group_name(name), name) + "\"";
}

std::string grantee_for_display(pat::GranteeKind kind, std::string_view name) {
    switch (kind) {
        case pat::GranteeKind::user: return user_for_display(name);
        case pat::GranteeKind::group: return "group " + group_for_display(name);
        case pat::GranteeKind::all_users: return "all users";
    }
    return "all users";
}

std::string GrantTarget::canonical_project() const {
    return canonical_or_as_given(pat::canonical_project_key(project), project);
}

std::string GrantTarget::canonical_repo() const {
    return is_repo ? canonical_or_as_given(pat::canonical_repo_slug(repo), repo) : std::string();
}

std::string GrantTarget::describe() const {
    return is_repo ? "repo " + canonical_project() + "/" + canonical_repo() : "project " + canonical_project();
}

GrantTarget parse_grant_target(std::string_view scope, std::string_view target) {
    GrantTarget parsed;
    if (scope == "project") {
        parsed.project = target;
        return parsed;
    }
    if (scope != "repo") {
        usage_error("invalid scope '" + printable(scope) + "': expected project or repo");
    }
    std::size_t slash = target.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == target.size()) {
        usage_error("invalid repository '" + printable(target) + "': expected KEY/SLUG");
    }
    parsed.is_repo = true;
    parsed.project = target.substr(0, slash);
    parsed.repo = target.substr(slash + 1);  // a further '/' makes an invalid slug: the core says so
    return parsed;
}

pat::Level parse_level_argument(std::string_view text, std::string_view what) {
    std::optional<pat::Level> level = pat::parse_level(text);
    if (!level) {
        usage_error("invalid " + std::string(what) + " '" + printable(text) + "': expected read, write or admin");
    }
    return *level;
}

}  // namespace patctl
