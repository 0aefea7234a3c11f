// Writing a permissions file: by hand rather than with YAML::Emitter, so the
// layout is ours (one user, member or grant a line, which keeps diffs and
// apply's line numbers precise) and the quoting is the strict rule below,
// the same for every YAML reader.

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "keys.hpp"
#include "pat/ascii.hpp"
#include "pat/permission.hpp"
#include "pat/permissions_file.hpp"

namespace pat {
namespace {

namespace keys = permissions_file;

bool is_letter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Plain (unquoted) only when every YAML reader reads the text back as the
// same string: a letter first (or "~" and a letter: a personal project), then
// letters, digits, _ . - and inner spaces, and no word YAML 1.1 reads as a
// boolean or a null. Everything else is double-quoted.
bool may_be_plain(std::string_view text) {
    std::size_t first = !text.empty() && text[0] == '~' ? 1 : 0;
    if (text.size() <= first || !is_letter(text[first]) || text.back() == ' ') return false;
    for (char c : text) {
        if (!is_letter(c) && !is_digit(c) && c != '_' && c != '.' && c != '-' && c != ' ' && c != '~') return false;
    }
    if (text.find('~', 1) != std::string_view::npos) return false;
    for (std::string_view word : {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}) {
        if (ascii::equals_ignoring_case(text, word)) return false;
    }
    return true;
}

// A YAML scalar for text: plain, or double-quoted with \" \\ and the control
// characters escaped (bytes from 0x80 up are written as they are: UTF-8).
std::string scalar(std::string_view text) {
    if (may_be_plain(text)) return std::string(text);
    std::string out = "\"";
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    static constexpr char kHex[] = "0123456789abcdef";
                    out += "\\x";
                    out += kHex[c >> 4];
                    out += kHex[c & 0xf];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
    return out;
}

// What the file says about one project or repository.
struct Target {
    std::map<std::string, Level> users;
    std::map<std::string, Level> groups;
    std::optional<Level> all_users;
    bool is_public = false;
};

struct Project {
    Target own;
    std::map<std::string, Target> repos;
};

void write_line(std::string& out, int indent, std::string_view text) {
    out.append(static_cast<std::size_t>(indent) * 2, ' ');
    out += text;
    out += '\n';
}

void write_grants(std::string& out, int indent, std::string_view section, const std::map<std::string, Level>& grants) {
    if (grants.empty()) return;
    write_line(out, indent, std::string(section) + ":");
    for (const auto& [name, level] : grants) {
        write_line(out, indent + 1, scalar(name) + ": " + std::string(level_name(level)));
    }
}

void write_target(std::string& out, int indent, const Target& target) {
    if (target.all_users) {
        write_line(out, indent, std::string(keys::kAllUsers) + ": " + std::string(level_name(*target.all_users)));
    }
    if (target.is_public) write_line(out, indent, std::string(keys::kPublic) + ": true");
    write_grants(out, indent, keys::kUsers, target.users);
    write_grants(out, indent, keys::kGroups, target.groups);
}

void write_users(std::string& out, const PermissionsState& state) {
    std::vector<const PermissionsState::User*> users;
    for (const auto& user : state.users) users.push_back(&user);
    std::sort(users.begin(), users.end(), [](auto* a, auto* b) { return a->name < b->name; });
    write_line(out, 0, std::string(keys::kUsers) + (users.empty() ? ": {}" : ":"));
    for (const auto* user : users) {
        std::vector<std::string> fields;
        if (!user->display_name.empty()) {
            fields.push_back(std::string(keys::kDisplayName) + ": " + scalar(user->display_name));
        }
        if (user->sysadmin) fields.push_back(std::string(keys::kSysadmin) + ": true");
        if (!user->active) fields.push_back(std::string(keys::kDisabled) + ": true");
        std::string line = scalar(user->name) + ": {";
        for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? ", " : "") + fields[i];
        write_line(out, 1, line + "}");
    }
}

void write_groups(std::string& out, const PermissionsState& state) {
    std::map<std::string, std::vector<std::string>> groups;
    for (const auto& group : state.groups) {
        std::vector<std::string>& members = groups[group.name];
        for (const auto& member : group.members) members.push_back(member.name);
    }
    write_line(out, 0, std::string(keys::kGroups) + (groups.empty() ? ": {}" : ":"));
    for (auto& [name, members] : groups) {
        std::sort(members.begin(), members.end());
        write_line(out, 1, scalar(name) + (members.empty() ? ": []" : ":"));
        for (const std::string& member : members) write_line(out, 2, "- " + scalar(member));
    }
}

void write_projects(std::string& out, const PermissionsState& state) {
    std::map<std::string, Project> projects;
    auto target_of = [&](const std::string& key, const std::string& slug) -> Target& {
        Project& project = projects[key];
        return slug.empty() ? project.own : project.repos[slug];
    };
    for (const GrantInfo& grant : state.grants) {
        Target& target = target_of(grant.project, grant.repo);
        switch (grant.kind) {
            case GranteeKind::user: target.users[grant.user] = grant.level; break;
            case GranteeKind::group: target.groups[grant.user] = grant.level; break;
            case GranteeKind::all_users: target.all_users = grant.level; break;
        }
    }
    for (const PublicTarget& target : state.public_targets) target_of(target.project, target.repo).is_public = true;

    write_line(out, 0, std::string(keys::kProjects) + (projects.empty() ? ": {}" : ":"));
    for (const auto& [key, project] : projects) {
        write_line(out, 1, scalar(key) + ":");
        write_target(out, 2, project.own);
        if (project.repos.empty()) continue;
        write_line(out, 2, std::string(keys::kRepos) + ":");
        for (const auto& [slug, repo] : project.repos) {
            write_line(out, 3, scalar(slug) + ":");
            write_target(out, 4, repo);
        }
    }
}

}  // namespace

std::string write_permissions_file(const PermissionsState& state) {
    std::string out =
        "# nginx-pat permissions: users, groups and grants (docs/permissions-file.md).\n"
        "# patctl export writes this file; patctl apply FILE makes the store say what it says.\n";
    write_users(out, state);
    write_groups(out, state);
    write_projects(out, state);
    return out;
}

}  // namespace pat
