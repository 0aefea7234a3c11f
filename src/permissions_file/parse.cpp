// Reading a permissions file: the tree (tree.hpp) walked section by section,
// every name canonicalised and every entry given its line.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keys.hpp"
#include "pat/names.hpp"
#include "pat/permission.hpp"
#include "pat/permissions_file.hpp"
#include "tree.hpp"

namespace pat {
namespace {

namespace keys = permissions_file;
using permissions_file::fail;
using permissions_file::Node;
using permissions_file::quoted;

// The keys and values of a map in file order, keys checked to be scalars.
struct Entry {
    const Node& key;
    const Node& value;
};

std::vector<Entry> entries(const Node& map) {
    std::vector<Entry> out;
    for (std::size_t i = 0; i + 1 < map.items.size(); i += 2) {
        const Node& key = map.items[i];
        if (key.kind != Node::Kind::scalar) {
            fail(key.line, key.kind == Node::Kind::null ? "an empty key: every entry needs a name before its \":\""
                                                        : "a key that is a list or a mapping: keys are names");
        }
        out.push_back({key, map.items[i + 1]});
    }
    return out;
}

// A mapping (or nothing, read as an empty mapping).
std::vector<Entry> mapping(const Node& node, const std::string& what) {
    if (node.kind == Node::Kind::null) return {};
    if (node.kind != Node::Kind::map) {
        fail(node.line, what + " must be a mapping (NAME: VALUE lines, or {NAME: VALUE, ...})");
    }
    return entries(node);
}

// A map with fixed keys: each key at most once, and known.
class FixedKeys {
   public:
    FixedKeys(std::string where, std::vector<std::string_view> accepted)
        : where_(std::move(where)), accepted_(std::move(accepted)) {}

    void check(const Node& key) {
        bool known = false;
        for (std::string_view accepted : accepted_) known = known || key.text == accepted;
        if (!known) {
            std::string list;
            for (std::string_view accepted : accepted_) list += (list.empty() ? "" : ", ") + std::string(accepted);
            fail(key.line, "unknown key " + quoted(key.text) + " " + where_ + ": accepted are " + list);
        }
        auto [seen, inserted] = lines_.emplace(key.text, key.line);
        if (!inserted) {
            fail(key.line, quoted(key.text) + " " + where_ + " appears twice (also on line " +
                               std::to_string(seen->second) + ")");
        }
    }

   private:
    std::string where_;
    std::vector<std::string_view> accepted_;
    std::map<std::string, std::size_t> lines_;
};

// Names of one kind in one place, canonical, each once.
class NameSet {
   public:
    explicit NameSet(std::string what) : what_(std::move(what)) {}

    void add(const std::string& canonical, const Node& node) {
        auto [seen, inserted] = lines_.emplace(canonical, node.line);
        if (!inserted) {
            fail(node.line, what_ + " " + quoted(node.text) + " is named twice (also on line " +
                                std::to_string(seen->second) + "; names are not case-sensitive)");
        }
    }

   private:
    std::string what_;
    std::map<std::string, std::size_t> lines_;
};

const std::string& scalar(const Node& node, const std::string& what) {
    if (node.kind != Node::Kind::scalar) {
        fail(node.line, what + (node.kind == Node::Kind::null ? " is empty"
                                                              : " must be a single value, not a "
                                                                "list or a mapping"));
    }
    return node.text;
}

std::string canonical(Expected<std::string> (*canonicalise)(std::string_view), const Node& node,
                      const std::string& what) {
    const std::string& text = scalar(node, what);
    Expected<std::string> name = canonicalise(text);
    if (!name) fail(node.line, quoted(text) + ": " + name.status().message());
    return std::move(name).value();
}

bool boolean(const Node& node, const std::string& what) {
    const std::string& text = scalar(node, what);
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    fail(node.line, what + " is " + quoted(text) + ": accepted are true and false");
}

Level level(const Node& node, const std::string& what) {
    const std::string& text = scalar(node, what);
    std::optional<Level> parsed = parse_level(text);
    if (!parsed) {
        fail(node.line,
             what + " is " + quoted(text) + ": accepted are read, write and admin (leave the entry out for no access)");
    }
    return *parsed;
}

void read_users(const Node& section, PermissionsState& state) {
    NameSet names("user");
    for (const Entry& entry : mapping(section, "\"users\"")) {
        PermissionsState::User user;
        user.name = canonical(canonical_user_name, entry.key, "a user name");
        user.line = entry.key.line;
        names.add(user.name, entry.key);
        const std::string where = "of user " + user.name;
        FixedKeys fields("in user " + user.name, {keys::kDisplayName, keys::kSysadmin, keys::kDisabled});
        for (const Entry& field : mapping(entry.value, "user " + user.name)) {
            fields.check(field.key);
            if (field.key.text == keys::kDisplayName) {
                user.display_name = scalar(field.value, std::string(keys::kDisplayName) + " " + where);
            } else if (field.key.text == keys::kSysadmin) {
                user.sysadmin = boolean(field.value, std::string(keys::kSysadmin) + " " + where);
            } else {
                user.active = !boolean(field.value, std::string(keys::kDisabled) + " " + where);
            }
        }
        state.users.push_back(std::move(user));
    }
}

void read_groups(const Node& section, PermissionsState& state) {
    NameSet names("group");
    for (const Entry& entry : mapping(section, "\"groups\"")) {
        PermissionsState::Group group;
        group.name = canonical(canonical_group_name, entry.key, "a group name");
        group.line = entry.key.line;
        names.add(group.name, entry.key);
        const Node& list = entry.value;
        if (list.kind != Node::Kind::null && list.kind != Node::Kind::sequence) {
            fail(list.line, "group " + quoted(group.name) +
                                " must be a list of user names (\"- NAME\" lines, or [NAME, ...]; [] for none)");
        }
        NameSet members("member of group " + quoted(group.name) + ":");
        for (const Node& item : list.items) {
            PermissionsState::Member member{canonical(canonical_user_name, item, "a member's name"), item.line};
            members.add(member.name, item);
            group.members.push_back(std::move(member));
        }
        state.groups.push_back(std::move(group));
    }
}

// The settings of a project (slug empty) or of one of its repositories.
void read_target(const Node& body, const std::string& key, const std::string& slug, PermissionsState& state) {
    const std::string target = slug.empty() ? "project " + key : "repository " + key + "/" + slug;
    std::vector<std::string_view> accepted = {keys::kUsers, keys::kGroups, keys::kAllUsers, keys::kPublic};
    if (slug.empty()) accepted.push_back(keys::kRepos);
    FixedKeys fields("in " + target, accepted);

    auto grants = [&](const Node& map, GranteeKind kind) {
        const bool users = kind == GranteeKind::user;
        NameSet names(users ? "user" : "group");
        for (const Entry& entry : mapping(map, std::string(users ? keys::kUsers : keys::kGroups) + " of " + target)) {
            GrantInfo grant;
            grant.user = users ? canonical(canonical_user_name, entry.key, "a user name")
                               : canonical(canonical_group_name, entry.key, "a group name");
            names.add(grant.user, entry.key);
            grant.project = key;
            grant.repo = slug;
            grant.kind = kind;
            grant.line = entry.key.line;
            grant.level = level(entry.value, "the level of " + std::string(users ? "user " : "group ") +
                                                 quoted(grant.user) + " on " + target);
            state.grants.push_back(std::move(grant));
        }
    };

    for (const Entry& field : mapping(body, target)) {
        fields.check(field.key);
        const std::string& name = field.key.text;
        if (name == keys::kUsers) {
            grants(field.value, GranteeKind::user);
        } else if (name == keys::kGroups) {
            grants(field.value, GranteeKind::group);
        } else if (name == keys::kAllUsers) {
            GrantInfo grant;
            grant.project = key;
            grant.repo = slug;
            grant.kind = GranteeKind::all_users;
            grant.line = field.key.line;
            grant.level = level(field.value, std::string(keys::kAllUsers) + " on " + target);
            state.grants.push_back(std::move(grant));
        } else if (name == keys::kPublic) {
            if (boolean(field.value, std::string(keys::kPublic) + " on " + target)) {
                state.public_targets.push_back(PublicTarget{key, slug, field.key.line});
            }
        } else {
            NameSet repos("repository");
            for (const Entry& repo : mapping(field.value, "repos of " + target)) {
                std::string canonical_slug = canonical(canonical_repo_slug, repo.key, "a repository slug");
                repos.add(canonical_slug, repo.key);
                read_target(repo.value, key, canonical_slug, state);
            }
        }
    }
}

void read_projects(const Node& section, PermissionsState& state) {
    NameSet keys("project");
    for (const Entry& entry : mapping(section, "\"projects\"")) {
        std::string key = canonical(canonical_project_key, entry.key, "a project key");
        keys.add(key, entry.key);
        read_target(entry.value, key, "", state);
    }
}

PermissionsState read(const Node& root) {
    PermissionsState state;
    FixedKeys sections("at the top of the file", {keys::kUsers, keys::kGroups, keys::kProjects});
    for (const Entry& entry : mapping(root, "a permissions file")) {
        sections.check(entry.key);
        if (entry.key.text == keys::kUsers) {
            read_users(entry.value, state);
        } else if (entry.key.text == keys::kGroups) {
            read_groups(entry.value, state);
        } else {
            read_projects(entry.value, state);
        }
    }
    return state;
}

Status error(std::size_t line, const std::string& message) {
    return Status(StatusCode::invalid_argument, "line " + std::to_string(line) + ": " + message);
}

}  // namespace

Expected<PermissionsState> parse_permissions_file(std::string_view text) {
    if (text.size() > kMaxPermissionsFileSize) {
        std::size_t line = 1;
        for (std::size_t i = 0; i < kMaxPermissionsFileSize; ++i) line += text[i] == '\n';
        return error(line, "the file goes past 16 MiB, the most a permissions file may hold");
    }
    try {
        return read(permissions_file::read_tree(text));
    } catch (const permissions_file::FileError& e) {
        return error(e.line, e.message);
    } catch (const std::exception& e) {  // std::bad_alloc, or anything yaml-cpp throws but its own exceptions
        return error(1, "cannot read the file: " + permissions_file::printable(e.what()));
    }
}

}  // namespace pat
