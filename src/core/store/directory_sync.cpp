// `patctl directory sync`: the directory's users and groups written into the
// store in one transaction (Store::apply_directory, pat/store.hpp).
#include <map>
#include <set>
#include <string>

#include "impl.hpp"
#include "records.hpp"

namespace pat {
namespace {

constexpr std::string_view kDryRun = "directory sync: dry run";
constexpr std::uint8_t kFromDirectory = 1;  // records::GroupView::source

class Sync {
   public:
    Sync(Store::Impl& store, kv::Txn& txn, const AuditContext& audit, std::vector<std::string>& changes)
        : store_(store), txn_(txn), audit_(audit), changes_(changes) {}

    Status users(const std::vector<DirectorySnapshot::User>& wanted) {
        std::set<std::string> listed;
        for (const auto& user : wanted) listed.insert(user.name);
        // The store's users, read first: writes and a cursor do not mix.
        std::map<std::string, records::UserView> held;
        std::vector<std::string> corrupt;
        std::map<std::string, std::string> displays;  // owns the views' bytes
        int rc = txn_.scan(kv::Table::users, "", [&](std::string_view key, std::string_view value) {
            auto user = records::decode_user(value);
            if (!user) {
                corrupt.emplace_back(key);
                return false;
            }
            std::string& display = displays[std::string(key)];
            display = user->display_name;
            user->display_name = display;
            held.emplace(std::string(key), *user);
            return true;
        });
        if (rc != 0) return kv_error(txn_, "read users", rc);
        if (!corrupt.empty())
            return {StatusCode::store_error, "store: the record of user '" + corrupt[0] + "' is corrupt"};
        for (const auto& user : wanted) {
            if (held.count(user.name) != 0) continue;
            records::UserView made;
            made.active = true;
            made.from_directory = true;
            made.password = records::kNoPassword;
            made.display_name =
                user.display_name.empty() || user.display_name.size() > 256 ? user.name : user.display_name;
            if ((rc = txn_.put(kv::Table::users, user.name, records::encode_user(made))) != 0)
                return kv_error(txn_, "write user", rc);
            if (Status s = note(AuditAction::user_added, user.name, "add user " + user.name); !s.ok()) return s;
            known_.insert(user.name);
        }
        for (auto& [name, user] : held) {
            known_.insert(name);
            if (!user.from_directory || !user.active || listed.count(name) != 0) continue;
            user.active = false;
            if ((rc = txn_.put(kv::Table::users, name, records::encode_user(user))) != 0)
                return kv_error(txn_, "write user", rc);
            if (Status s =
                    note(AuditAction::user_disabled, name, "disable user " + name + " (gone from the directory)");
                !s.ok())
                return s;
        }
        return Status::success();
    }

    Status groups(const std::vector<DirectorySnapshot::Group>& wanted) {
        std::map<std::string, std::uint8_t> held;
        int rc = txn_.scan(kv::Table::groups, "", [&](std::string_view key, std::string_view value) {
            auto group = records::decode_group(value);
            held.emplace(std::string(key), group ? group->source : 0xff);
            return true;
        });
        if (rc != 0) return kv_error(txn_, "read groups", rc);
        std::set<std::string> listed;
        for (const auto& group : wanted) {
            listed.insert(group.name);
            auto found = held.find(group.name);
            if (found != held.end() && found->second != kFromDirectory) {
                changes_.push_back("skip group " + group.name + ": a group of that name was made here");
                continue;
            }
            if (found == held.end()) {
                if (Status s = add_group_in(store_, txn_, group.name, kFromDirectory); !s.ok()) return s;
                if (Status s = note(AuditAction::group_added, {}, "add group " + group.name); !s.ok()) return s;
            }
            std::set<std::string> members;
            for (const std::string& member : group.members) {
                if (known_.count(member) != 0) members.insert(member);
            }
            if (Status s = members_of(group.name, members); !s.ok()) return s;
        }
        for (const auto& [name, source] : held) {
            if (source != kFromDirectory || listed.count(name) != 0) continue;
            if (Status s = members_of(name, {}); !s.ok()) return s;
        }
        return Status::success();
    }

   private:
    // Makes the group's members exactly `members`.
    Status members_of(const std::string& group, const std::set<std::string>& members) {
        const std::string prefix = records::pair_key(group, "");
        std::vector<std::string> keys;
        int rc = collect_keys(txn_, kv::Table::group_members, prefix, keys);
        if (rc != 0) return kv_error(txn_, "read members", rc);
        std::set<std::string> current;
        for (const std::string& key : keys) current.insert(key.substr(prefix.size()));
        for (const std::string& user : current) {
            if (members.count(user) != 0) continue;
            if (Status s = remove_membership_in(store_, txn_, group, user); !s.ok()) return s;
            if (Status s = note(AuditAction::member_removed, user, "remove " + user + " from group " + group); !s.ok())
                return s;
        }
        for (const std::string& user : members) {
            if (current.count(user) != 0) continue;
            if (Status s = add_membership_in(store_, txn_, group, user); !s.ok()) return s;
            if (Status s = note(AuditAction::member_added, user, "add " + user + " to group " + group); !s.ok())
                return s;
        }
        return Status::success();
    }

    Status note(AuditAction action, std::string_view user, std::string change) {
        Status s = append_audit(store_, txn_, action, audit_, user, {}, change + " (directory sync)");
        changes_.push_back(std::move(change));
        return s;
    }

    Store::Impl& store_;
    kv::Txn& txn_;
    const AuditContext& audit_;
    std::vector<std::string>& changes_;
    std::set<std::string> known_;  // every user the store holds after users()
};

}  // namespace

Expected<std::vector<std::string>> Store::apply_directory(const DirectorySnapshot& snapshot, bool dry_run,
                                                          const AuditContext& audit) {
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    std::vector<std::string> changes;
    Status s = run_write(*impl_, [&](kv::Txn& txn) -> Status {
        changes.clear();
        Sync sync(*impl_, txn, audit, changes);
        if (Status run = sync.users(snapshot.users); !run.ok()) return run;
        if (Status run = sync.groups(snapshot.groups); !run.ok()) return run;
        if (dry_run) return {StatusCode::refused, std::string(kDryRun)};
        return Status::success();
    });
    if (dry_run && s.code() == StatusCode::refused && s.message() == kDryRun) return changes;
    if (!s.ok()) return s;
    return changes;
}

}  // namespace pat
