// Groups and their members. A membership is two rows (group_members and
// user_groups: listing either way is one range); every change of one
// rewrites the member's effective levels on the group's targets.
#include <algorithm>
#include <set>
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"
#include "records.hpp"

namespace pat {
namespace {

Status group_not_found(const std::string& name) {
    return {StatusCode::not_found, "no group '" + name + "'"};
}

Status require_group(kv::Txn& txn, const Store::Impl& /*store*/, const std::string& name) {
    std::string_view value;
    int rc = txn.get(kv::Table::groups, name, value);
    if (rc == kv::kNotFound) return group_not_found(name);
    if (rc != 0) return kv_error(txn, "read group", rc);
    if (!records::decode_group(value))
        return {StatusCode::store_error, "store: the record of group '" + name + "' is corrupt"};
    return Status::success();
}

bool is_member(kv::Txn& txn, const Store::Impl& /*store*/, const std::string& group, const std::string& user, int& rc) {
    std::string_view ignored;
    rc = txn.get(kv::Table::group_members, records::pair_key(group, user), ignored);
    if (rc == kv::kNotFound) {
        rc = 0;
        return false;
    }
    return rc == 0;
}

// Canonical, distinct user names, in order; the first invalid one fails.
Expected<std::vector<std::string>> canonical_users(const std::vector<std::string>& raw) {
    if (raw.empty()) return Status{StatusCode::invalid_argument, "name at least one user"};
    std::vector<std::string> users;
    std::set<std::string> seen;
    for (const std::string& name : raw) {
        auto user = canonical_user_name(name);
        if (!user) return user.status();
        if (seen.insert(*user).second) users.push_back(*user);
    }
    return users;
}

}  // namespace

Status add_membership_in(const Store::Impl& store, kv::Txn& txn, const std::string& group, const std::string& user) {
    int rc = txn.put(kv::Table::group_members, records::pair_key(group, user), {});
    if (rc == 0) rc = txn.put(kv::Table::user_groups, records::pair_key(user, group), {});
    if (rc != 0) return kv_error(txn, "write membership", rc);
    return recompute_membership(store, txn, group, user);
}

Status remove_membership_in(const Store::Impl& store, kv::Txn& txn, const std::string& group, const std::string& user) {
    int rc = txn.del(kv::Table::group_members, records::pair_key(group, user));
    if (rc == 0) rc = txn.del(kv::Table::user_groups, records::pair_key(user, group));
    if (rc != 0 && rc != kv::kNotFound) return kv_error(txn, "delete membership", rc);
    return recompute_membership(store, txn, group, user);
}

Status add_group_in(const Store::Impl& /*store*/, kv::Txn& txn, const std::string& name, std::uint8_t source) {
    int rc = txn.put(kv::Table::groups, name, records::encode_group({source}), kv::Put::no_overwrite);
    if (rc == kv::kKeyExists) return {StatusCode::already_exists, "group '" + name + "' already exists"};
    return rc == 0 ? Status::success() : kv_error(txn, "write group", rc);
}

// Removes the group's grants first (so that recomputing its members finds
// none of them), then its memberships, then the group.
Status delete_group_in(const Store::Impl& store, kv::Txn& txn, const std::string& name) {
    const std::string prefix = records::pair_key(name, "");
    std::vector<std::string> grants, members;
    int rc = collect_keys(txn, kv::Table::group_grants, prefix, grants);
    if (rc == 0) rc = collect_keys(txn, kv::Table::group_members, prefix, members);
    if (rc != 0) return kv_error(txn, "read group", rc);
    for (const std::string& grant : grants) {
        if ((rc = txn.del(kv::Table::group_grants, grant)) != 0) return kv_error(txn, "delete group grant", rc);
    }
    for (const std::string& member : members) {
        const std::string user = member.substr(prefix.size());
        if ((rc = txn.del(kv::Table::group_members, member)) != 0 ||
            (rc = txn.del(kv::Table::user_groups, records::pair_key(user, name))) != 0) {
            if (rc != kv::kNotFound) return kv_error(txn, "delete membership", rc);
        }
        for (const std::string& grant : grants) {
            if (Status s = recompute_effective(store, txn, user, std::string_view(grant).substr(prefix.size()));
                !s.ok())
                return s;
        }
    }
    rc = txn.del(kv::Table::groups, name);
    if (rc == kv::kNotFound) return group_not_found(name);
    return rc == 0 ? Status::success() : kv_error(txn, "delete group", rc);
}

Status Store::add_group(std::string_view raw_name, const AuditContext& audit) {
    auto name = canonical_group_name(raw_name);
    if (!name) return name.status();
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        if (Status s = add_group_in(*impl_, txn, *name, 0); !s.ok()) return s;
        return append_audit(*impl_, txn, AuditAction::group_added, audit, {}, {}, "group " + *name);
    });
}

Status Store::delete_group(std::string_view raw_name, const AuditContext& audit) {
    auto name = canonical_group_name(raw_name);
    if (!name) return name.status();
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    return run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            if (Status s = delete_group_in(*impl_, txn, *name); !s.ok()) return s;
            return append_audit(*impl_, txn, AuditAction::group_deleted, audit, {}, {}, "group " + *name);
        },
        Space::reserve);  // takes access away
}

Expected<std::vector<GroupInfo>> Store::list_groups() {
    std::vector<GroupInfo> groups;
    if (!impl_->has_groups) return groups;
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    bool corrupt = false;
    rc = txn.scan(kv::Table::groups, "", [&](std::string_view key, std::string_view value) {
        if (!records::decode_group(value)) {
            corrupt = true;
            return false;
        }
        groups.push_back({std::string(key), 0});
        return true;
    });
    if (rc != 0) return kv_error(txn, "read groups", rc);
    if (corrupt) return Status{StatusCode::store_error, "store: a group record is corrupt"};
    for (GroupInfo& group : groups) {
        rc = txn.scan(kv::Table::group_members, records::pair_key(group.name, ""),
                      [&](std::string_view, std::string_view) {
                          ++group.members;
                          return true;
                      });
        if (rc != 0) return kv_error(txn, "read group members", rc);
    }
    return groups;
}

Expected<std::vector<std::string>> Store::list_group_members(std::string_view raw_group) {
    auto group = canonical_group_name(raw_group);
    if (!group) return group.status();
    if (!impl_->has_groups) return group_not_found(*group);
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    if (Status s = require_group(txn, *impl_, *group); !s.ok()) return s;
    const std::string prefix = records::pair_key(*group, "");
    std::vector<std::string> members;
    rc = collect_keys(txn, kv::Table::group_members, prefix, members);
    if (rc != 0) return kv_error(txn, "read group members", rc);
    for (std::string& member : members) member.erase(0, prefix.size());
    return members;
}

Expected<std::vector<std::string>> Store::list_user_groups(std::string_view raw_user) {
    auto user = canonical_user_name(raw_user);
    if (!user) return user.status();
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    std::string_view ignored;
    rc = txn.get(kv::Table::users, *user, ignored);
    if (rc == kv::kNotFound) return Status{StatusCode::not_found, "no user '" + *user + "'"};
    if (rc != 0) return kv_error(txn, "read user", rc);
    std::vector<std::string> groups;
    if (!impl_->has_groups) return groups;
    const std::string prefix = records::user_prefix(*user);
    rc = collect_keys(txn, kv::Table::user_groups, prefix, groups);
    if (rc != 0) return kv_error(txn, "read memberships", rc);
    for (std::string& group : groups) group.erase(0, prefix.size());
    return groups;
}

Status Store::add_group_members(std::string_view raw_group, const std::vector<std::string>& raw_users,
                                const AuditContext& audit) {
    auto group = canonical_group_name(raw_group);
    if (!group) return group.status();
    auto users = canonical_users(raw_users);
    if (!users) return users.status();
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        if (Status s = require_group(txn, *impl_, *group); !s.ok()) return s;
        for (const std::string& user : *users) {
            std::string_view ignored;
            int rc = txn.get(kv::Table::users, user, ignored);
            if (rc == kv::kNotFound) return {StatusCode::not_found, "no user '" + user + "'"};
            if (rc != 0) return kv_error(txn, "read user", rc);
            if (is_member(txn, *impl_, *group, user, rc))
                return {StatusCode::already_exists, "'" + user + "' is already a member of group '" + *group + "'"};
            if (rc != 0) return kv_error(txn, "read membership", rc);
            if (Status s = add_membership_in(*impl_, txn, *group, user); !s.ok()) return s;
            if (Status s = append_audit(*impl_, txn, AuditAction::member_added, audit, user, {}, "group " + *group);
                !s.ok())
                return s;
        }
        return Status::success();
    });
}

Status Store::remove_group_members(std::string_view raw_group, const std::vector<std::string>& raw_users,
                                   const AuditContext& audit) {
    auto group = canonical_group_name(raw_group);
    if (!group) return group.status();
    auto users = canonical_users(raw_users);
    if (!users) return users.status();
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    return run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            if (Status s = require_group(txn, *impl_, *group); !s.ok()) return s;
            for (const std::string& user : *users) {
                int rc = 0;
                if (!is_member(txn, *impl_, *group, user, rc)) {
                    if (rc != 0) return kv_error(txn, "read membership", rc);
                    return {StatusCode::not_found, "'" + user + "' is not a member of group '" + *group + "'"};
                }
                if (Status s = remove_membership_in(*impl_, txn, *group, user); !s.ok()) return s;
                if (Status s =
                        append_audit(*impl_, txn, AuditAction::member_removed, audit, user, {}, "group " + *group);
                    !s.ok())
                    return s;
            }
            return Status::success();
        },
        Space::reserve);  // takes access away
}

}  // namespace pat
