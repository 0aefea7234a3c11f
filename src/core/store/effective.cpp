// Group grants resolved at write time. The request path must cost the same
// for a user in fifty groups as for a user in none, so it never walks a
// user's groups: it reads one row of the effective table per target, which
// every change of a grant, a group or a membership rewrites here, inside
// its own write transaction (readers see the change and its effect
// together, or neither).
#include <algorithm>
#include <string>
#include <vector>

#include "impl.hpp"
#include "records.hpp"

namespace pat {
namespace {

// Raises level to the level byte stored under key, if any.
Status raise_to(kv::Txn& txn, kv::Table table, std::string_view key, Level& level) {
    std::string_view value;
    int rc = txn.get(table, key, value);
    if (rc == kv::kNotFound) return Status::success();
    if (rc != 0) return kv_error(txn, "read grant", rc);
    auto granted = records::decode_level(value);
    if (!granted) return {StatusCode::store_error, "store: a grant record is corrupt"};
    level = std::max(level, *granted);
    return Status::success();
}

}  // namespace

int collect_keys(kv::Txn& txn, kv::Table table, std::string_view prefix, std::vector<std::string>& keys) {
    return txn.scan(table, prefix, [&](std::string_view key, std::string_view) {
        keys.emplace_back(key);
        return true;
    });
}

Status require_groups(const Store::Impl& store) {
    if (store.has_groups) return Status::success();
    return {StatusCode::store_error,
            "store: " + store.path + " is schema 1 and opened read-only; a writer (patctl, patd) upgrades it"};
}

Status recompute_effective(const Store::Impl& /*store*/, kv::Txn& txn, std::string_view user, std::string_view target) {
    const std::string key = records::pair_key(user, target);
    Level level = Level::none;
    if (Status s = raise_to(txn, kv::Table::grants, key, level); !s.ok()) return s;
    std::vector<std::string> memberships;  // user "\0" group
    int rc = collect_keys(txn, kv::Table::user_groups, records::user_prefix(user), memberships);
    if (rc != 0) return kv_error(txn, "read memberships", rc);
    for (const std::string& membership : memberships) {
        std::string_view ignored, group;
        records::split_pair_key(membership, ignored, group);
        if (Status s = raise_to(txn, kv::Table::group_grants, records::pair_key(group, target), level); !s.ok())
            return s;
    }
    if (level == Level::none) {
        rc = txn.del(kv::Table::effective, key);
        return rc == 0 || rc == kv::kNotFound ? Status::success() : kv_error(txn, "delete effective level", rc);
    }
    const char value = static_cast<char>(level);
    rc = txn.put(kv::Table::effective, key, std::string_view(&value, 1));
    return rc == 0 ? Status::success() : kv_error(txn, "write effective level", rc);
}

Status recompute_group_target(const Store::Impl& store, kv::Txn& txn, std::string_view group, std::string_view target) {
    std::vector<std::string> members;  // group "\0" user
    const std::string prefix = records::pair_key(group, "");
    int rc = collect_keys(txn, kv::Table::group_members, prefix, members);
    if (rc != 0) return kv_error(txn, "read group members", rc);
    for (const std::string& member : members) {
        if (Status s = recompute_effective(store, txn, std::string_view(member).substr(prefix.size()), target); !s.ok())
            return s;
    }
    return Status::success();
}

Status recompute_membership(const Store::Impl& store, kv::Txn& txn, std::string_view group, std::string_view user) {
    std::vector<std::string> grants;  // group "\0" target
    const std::string prefix = records::pair_key(group, "");
    int rc = collect_keys(txn, kv::Table::group_grants, prefix, grants);
    if (rc != 0) return kv_error(txn, "read group grants", rc);
    for (const std::string& grant : grants) {
        if (Status s = recompute_effective(store, txn, user, std::string_view(grant).substr(prefix.size())); !s.ok())
            return s;
    }
    return Status::success();
}

}  // namespace pat
