// Permissions as a file: apply() makes the store say what a
// PermissionsState says, in one write transaction, and lists the changes;
// export_state() reads the state back in the same shape. The rules are the
// store's own (the *_in functions of grants.cpp and groups.cpp): a file
// cannot do what patctl's commands cannot.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "impl.hpp"
#include "pat/names.hpp"
#include "records.hpp"

namespace pat {
namespace {

std::string at_line(std::size_t line) {
    return line == 0 ? std::string() : "line " + std::to_string(line) + ": ";
}

Status with_line(std::size_t line, const Status& status) {
    return {status.code(), at_line(line) + status.message()};
}

// (kind, name, target): a grant's identity.
using GrantKey = std::tuple<GranteeKind, std::string, std::string>;

std::string describe_target(std::string_view target) {
    return (target.find('/') == std::string_view::npos ? "project " : "repository ") + std::string(target);
}

std::string describe_grantee(GranteeKind kind, const std::string& name) {
    switch (kind) {
        case GranteeKind::user: return "user " + name;
        case GranteeKind::group: return "group " + name;
        case GranteeKind::all_users: return "all users";
    }
    return name;
}

struct DesiredUser {
    PermissionsState::User user;
};
struct DesiredGroup {
    std::size_t line = 0;
    std::map<std::string, std::size_t> members;  // name -> line
};
struct DesiredGrant {
    Level level = Level::none;
    std::size_t line = 0;
};

struct Desired {
    std::map<std::string, PermissionsState::User> users;
    std::map<std::string, DesiredGroup> groups;
    std::map<GrantKey, DesiredGrant> grants;
    std::map<std::string, std::size_t> public_targets;
};

Expected<std::string> canonical_target(std::string_view raw_key, std::string_view raw_slug) {
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    if (raw_slug.empty()) return *key;
    auto slug = canonical_repo_slug(raw_slug);
    if (!slug) return slug.status();
    return records::target_key(*key, *slug);
}

// Canonical names, no duplicates; errors carry the entry's line.
Expected<Desired> canonical_state(const PermissionsState& state) {
    Desired desired;
    for (const auto& raw : state.users) {
        auto name = canonical_user_name(raw.name);
        if (!name) return with_line(raw.line, name.status());
        if (Status s = validate_display_name(raw.display_name); !s.ok()) return with_line(raw.line, s);
        PermissionsState::User user = raw;
        user.name = *name;
        if (!desired.users.emplace(*name, user).second)
            return Status{StatusCode::invalid_argument, at_line(raw.line) + "user '" + *name + "' is named twice"};
    }
    for (const auto& raw : state.groups) {
        auto name = canonical_group_name(raw.name);
        if (!name) return with_line(raw.line, name.status());
        DesiredGroup group{raw.line, {}};
        for (const auto& member : raw.members) {
            auto user = canonical_user_name(member.name);
            if (!user) return with_line(member.line, user.status());
            if (!group.members.emplace(*user, member.line).second)
                return Status{StatusCode::invalid_argument,
                              at_line(member.line) + "'" + *user + "' is named twice in group '" + *name + "'"};
        }
        if (!desired.groups.emplace(*name, std::move(group)).second)
            return Status{StatusCode::invalid_argument, at_line(raw.line) + "group '" + *name + "' is named twice"};
    }
    for (const auto& raw : state.grants) {
        std::string name;
        if (raw.kind == GranteeKind::user) {
            auto user = canonical_user_name(raw.user);
            if (!user) return with_line(raw.line, user.status());
            name = *user;
        } else if (raw.kind == GranteeKind::group) {
            auto group = canonical_group_name(raw.user);
            if (!group) return with_line(raw.line, group.status());
            name = *group;
        }
        auto target = canonical_target(raw.project, raw.repo);
        if (!target) return with_line(raw.line, target.status());
        if (raw.level == Level::none)
            return Status{StatusCode::invalid_argument, at_line(raw.line) + "a grant's level is read, write or admin"};
        GrantKey key{raw.kind, name, *target};
        if (!desired.grants.emplace(key, DesiredGrant{raw.level, raw.line}).second)
            return Status{StatusCode::invalid_argument, at_line(raw.line) + "the grant of " +
                                                            describe_grantee(raw.kind, name) + " on " +
                                                            describe_target(*target) + " is given twice"};
    }
    for (const auto& raw : state.public_targets) {
        auto target = canonical_target(raw.project, raw.repo);
        if (!target) return with_line(raw.line, target.status());
        desired.public_targets.emplace(*target, raw.line);
    }
    return desired;
}

// The store's current state, keyed like Desired (inside the transaction).
struct Current {
    // Copied out: a write transaction's earlier views die with its later puts.
    struct User {
        records::UserView view;  // display_name points into display
        std::string display;
    };
    std::map<std::string, User> users;
    std::set<std::string> groups;
    std::map<std::string, std::set<std::string>> members;
    std::map<GrantKey, Level> grants;
    std::set<std::string> public_targets;
};

Status read_current(const Store::Impl& store, kv::Txn& txn, Current& current) {
    bool corrupt = false;
    int rc = txn.scan(kv::Table::users, "", [&](std::string_view key, std::string_view value) {
        auto user = records::decode_user(value);
        if (!user) return !(corrupt = true);
        auto& entry = current.users[std::string(key)];
        entry.display = user->display_name;
        entry.view = *user;
        entry.view.display_name = entry.display;
        return true;
    });
    if (rc != 0) return kv_error(txn, "read users", rc);
    rc = txn.scan(kv::Table::groups, "", [&](std::string_view key, std::string_view value) {
        if (!records::decode_group(value)) return !(corrupt = true);
        current.groups.emplace(key);
        current.members[std::string(key)];
        return true;
    });
    if (rc != 0) return kv_error(txn, "read groups", rc);
    rc = txn.scan(kv::Table::group_members, "", [&](std::string_view key, std::string_view) {
        std::string_view group, user;
        if (!records::split_pair_key(key, group, user)) return !(corrupt = true);
        current.members[std::string(group)].emplace(user);
        return true;
    });
    if (rc != 0) return kv_error(txn, "read group members", rc);
    if (corrupt) return {StatusCode::store_error, "store: a user or group record is corrupt"};
    std::vector<GrantInfo> grants;
    for (GranteeKind kind : {GranteeKind::user, GranteeKind::group, GranteeKind::all_users}) {
        if (Status s = scan_all_grants(store, txn, kind, "", grants); !s.ok()) return s;
    }
    for (const GrantInfo& grant : grants) {
        current.grants[{grant.kind, grant.user, records::target_key(grant.project, grant.repo)}] = grant.level;
    }
    std::vector<PublicTarget> targets;
    if (Status s = scan_everyone(store, txn, nullptr, &targets); !s.ok()) return s;
    for (const PublicTarget& target : targets)
        current.public_targets.insert(records::target_key(target.project, target.repo));
    return Status::success();
}

class Applier {
   public:
    Applier(const Store::Impl& store, kv::Txn& txn, const AuditContext& audit, std::vector<std::string>& changes)
        : store_(store), txn_(txn), audit_(audit), changes_(changes) {}

    Status run(const Desired& desired, const Current& current, bool prune) {
        if (Status s = users(desired, current, prune); !s.ok()) return s;
        if (Status s = groups(desired, current); !s.ok()) return s;
        if (Status s = grants(desired, current, prune); !s.ok()) return s;
        if (Status s = public_targets(desired, current, prune); !s.ok()) return s;
        if (prune) {
            for (const std::string& group : current.groups) {
                if (desired.groups.count(group) != 0) continue;
                if (Status s = delete_group_in(store_, txn_, group); !s.ok()) return s;
                if (Status s = note(AuditAction::group_deleted, {}, "delete group " + group, "group " + group); !s.ok())
                    return s;
            }
        }
        return Status::success();
    }

   private:
    Status note(AuditAction action, const std::string& user, const std::string& change, const std::string& detail) {
        changes_.push_back(change);
        return append_audit(store_, txn_, action, audit_, user, {}, detail.empty() ? "apply" : detail + " (apply)");
    }

    Status put_user(const std::string& name, const records::UserView& user) {
        int rc = txn_.put(kv::Table::users, name, records::encode_user(user));
        return rc == 0 ? Status::success() : kv_error(txn_, "write user", rc);
    }

    Status users(const Desired& desired, const Current& current, bool prune) {
        for (const auto& [name, wanted] : desired.users) {
            const std::string display = wanted.display_name.empty() ? name : wanted.display_name;
            auto found = current.users.find(name);
            if (found == current.users.end()) {
                records::UserView user;
                user.active = wanted.active;
                user.sysadmin = wanted.sysadmin;
                user.password = records::kNoPassword;
                user.display_name = display;
                if (Status s = put_user(name, user); !s.ok()) return s;
                if (Status s = note(AuditAction::user_added, name, "add user " + name, "no password"); !s.ok())
                    return s;
                continue;
            }
            records::UserView user = found->second.view;
            const std::string& old_display = found->second.display;
            std::vector<std::string> what;
            if (old_display != display) what.push_back("display name \"" + display + "\"");
            if (user.sysadmin != wanted.sysadmin) what.push_back(wanted.sysadmin ? "sysadmin" : "not sysadmin");
            const bool activity = user.active != wanted.active;
            if (what.empty() && !activity) continue;
            user.display_name = display;
            user.sysadmin = wanted.sysadmin;
            user.active = wanted.active;
            if (Status s = put_user(name, user); !s.ok()) return s;
            if (!what.empty()) {
                std::string text;
                for (const auto& w : what) text += (text.empty() ? "" : ", ") + w;
                if (Status s = note(AuditAction::user_changed, name, "change user " + name + ": " + text, text);
                    !s.ok())
                    return s;
            }
            if (activity) {
                if (Status s = note(wanted.active ? AuditAction::user_enabled : AuditAction::user_disabled, name,
                                    (wanted.active ? "enable user " : "disable user ") + name, {});
                    !s.ok())
                    return s;
            }
        }
        if (!prune) return Status::success();
        for (const auto& [name, entry] : current.users) {
            if (desired.users.count(name) != 0 || !entry.view.active) continue;
            records::UserView user = entry.view;
            user.active = false;
            if (Status s = put_user(name, user); !s.ok()) return s;
            if (Status s = note(AuditAction::user_disabled, name, "disable user " + name + " (not in the file)", {});
                !s.ok())
                return s;
        }
        return Status::success();
    }

    bool user_exists(const std::string& name) {
        std::string_view ignored;
        return txn_.get(kv::Table::users, name, ignored) == 0;
    }

    Status groups(const Desired& desired, const Current& current) {
        for (const auto& [name, wanted] : desired.groups) {
            static const std::set<std::string> kNone;
            const bool exists = current.groups.count(name) != 0;
            if (!exists) {
                if (Status s = add_group_in(store_, txn_, name, 0); !s.ok()) return with_line(wanted.line, s);
                if (Status s = note(AuditAction::group_added, {}, "add group " + name, "group " + name); !s.ok())
                    return s;
            }
            const auto found = current.members.find(name);
            const std::set<std::string>& members = found == current.members.end() ? kNone : found->second;
            for (const auto& [user, line] : wanted.members) {
                if (members.count(user) != 0) continue;
                if (!user_exists(user))
                    return Status{StatusCode::not_found,
                                  at_line(line) + "no user '" + user + "' (a member of group '" + name + "')"};
                if (Status s = add_membership_in(store_, txn_, name, user); !s.ok()) return s;
                if (Status s =
                        note(AuditAction::member_added, user, "add " + user + " to group " + name, "group " + name);
                    !s.ok())
                    return s;
            }
            // A group the file names has exactly the members it lists.
            for (const std::string& user : members) {
                if (wanted.members.count(user) != 0) continue;
                if (Status s = remove_membership_in(store_, txn_, name, user); !s.ok()) return s;
                if (Status s = note(AuditAction::member_removed, user, "remove " + user + " from group " + name,
                                    "group " + name);
                    !s.ok())
                    return s;
            }
        }
        return Status::success();
    }

    Status grants(const Desired& desired, const Current& current, bool prune) {
        for (const auto& [key, wanted] : desired.grants) {
            const auto& [kind, name, target] = key;
            const auto found = current.grants.find(key);
            if (found != current.grants.end() && found->second == wanted.level) continue;
            if (kind == GranteeKind::user && !user_exists(name))
                return Status{StatusCode::not_found, at_line(wanted.line) + "no user '" + name + "'"};
            if (kind == GranteeKind::group) {
                std::string_view ignored;
                if (txn_.get(kv::Table::groups, name, ignored) != 0)
                    return Status{StatusCode::not_found, at_line(wanted.line) + "no group '" + name + "'"};
            }
            if (Status s = put_grant_in(store_, txn_, kind, name, target, wanted.level); !s.ok()) return s;
            const std::string level(level_name(wanted.level));
            const std::string change =
                "grant " + describe_grantee(kind, name) + " " + level + " on " + describe_target(target) +
                (found == current.grants.end() ? std::string()
                                               : " (was " + std::string(level_name(found->second)) + ")");
            if (Status s = note(AuditAction::grant_set, kind == GranteeKind::user ? name : std::string(), change,
                                (kind == GranteeKind::user ? "" : describe_grantee(kind, name) + ": ") +
                                    describe_target(target) + " " + level);
                !s.ok())
                return s;
        }
        if (!prune) return Status::success();
        for (const auto& [key, level] : current.grants) {
            const auto& [kind, name, target] = key;
            if (desired.grants.count(key) != 0) continue;
            // A group the file does not name goes with its grants (run()).
            if (kind == GranteeKind::group && desired.groups.count(name) == 0) continue;
            if (Status s = delete_grant_in(store_, txn_, kind, name, target); !s.ok()) return s;
            if (Status s = note(
                    AuditAction::grant_removed, kind == GranteeKind::user ? name : std::string(),
                    "remove the grant of " + describe_grantee(kind, name) + " on " + describe_target(target),
                    (kind == GranteeKind::user ? "" : describe_grantee(kind, name) + ": ") + describe_target(target));
                !s.ok())
                return s;
        }
        return Status::success();
    }

    Status public_targets(const Desired& desired, const Current& current, bool prune) {
        for (const auto& [target, line] : desired.public_targets) {
            if (current.public_targets.count(target) != 0) continue;
            bool changed = false;
            if (Status s = set_public_in(store_, txn_, target, true, changed); !s.ok()) return s;
            if (Status s = note(AuditAction::public_set, {}, "make " + describe_target(target) + " public",
                                describe_target(target));
                !s.ok())
                return s;
        }
        if (!prune) return Status::success();
        for (const std::string& target : current.public_targets) {
            if (desired.public_targets.count(target) != 0) continue;
            bool changed = false;
            if (Status s = set_public_in(store_, txn_, target, false, changed); !s.ok()) return s;
            if (Status s = note(AuditAction::public_removed, {}, "make " + describe_target(target) + " not public",
                                describe_target(target));
                !s.ok())
                return s;
        }
        return Status::success();
    }

    const Store::Impl& store_;
    kv::Txn& txn_;
    const AuditContext& audit_;
    std::vector<std::string>& changes_;
};

// run_write commits when the body succeeds; a dry run must not, so its body
// ends with this status, which apply() turns back into success.
constexpr std::string_view kDryRun = "dry run: nothing written";

}  // namespace

Expected<std::vector<std::string>> Store::apply(const PermissionsState& state, const ApplyOptions& options,
                                                const AuditContext& audit) {
    auto desired = canonical_state(state);
    if (!desired) return desired.status();
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    std::vector<std::string> changes;
    Status s = run_write(*impl_, [&](kv::Txn& txn) -> Status {
        changes.clear();
        Current current;
        if (Status read = read_current(*impl_, txn, current); !read.ok()) return read;
        Applier applier(*impl_, txn, audit, changes);
        if (Status run = applier.run(*desired, current, options.prune); !run.ok()) return run;
        if (options.dry_run) return {StatusCode::refused, std::string(kDryRun)};
        return Status::success();
    });
    if (options.dry_run && s.code() == StatusCode::refused && s.message() == kDryRun) return changes;
    if (!s.ok()) return s;
    return changes;
}

Expected<PermissionsState> Store::export_state() {
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    PermissionsState state;
    bool corrupt = false;
    rc = txn.scan(kv::Table::users, "", [&](std::string_view key, std::string_view value) {
        auto user = records::decode_user(value);
        if (!user) return !(corrupt = true);
        PermissionsState::User entry;
        entry.name = key;
        if (user->display_name != key) entry.display_name = user->display_name;
        entry.sysadmin = user->sysadmin;
        entry.active = user->active;
        state.users.push_back(std::move(entry));
        return true;
    });
    if (rc != 0) return kv_error(txn, "read users", rc);
    if (corrupt) return Status{StatusCode::store_error, "store: a user record is corrupt"};
    if (impl_->has_groups) {
        rc = txn.scan(kv::Table::groups, "", [&](std::string_view key, std::string_view) {
            state.groups.push_back({std::string(key), {}, 0});
            return true;
        });
        if (rc != 0) return kv_error(txn, "read groups", rc);
        for (auto& group : state.groups) {
            const std::string prefix = records::pair_key(group.name, "");
            std::vector<std::string> members;
            if ((rc = collect_keys(txn, kv::Table::group_members, prefix, members)) != 0)
                return kv_error(txn, "read group members", rc);
            for (const std::string& member : members) group.members.push_back({member.substr(prefix.size()), 0});
        }
    }
    for (GranteeKind kind : {GranteeKind::user, GranteeKind::group, GranteeKind::all_users}) {
        if (Status s = scan_all_grants(*impl_, txn, kind, "", state.grants); !s.ok()) return s;
    }
    if (Status s = scan_everyone(*impl_, txn, nullptr, &state.public_targets); !s.ok()) return s;
    return state;
}

}  // namespace pat
