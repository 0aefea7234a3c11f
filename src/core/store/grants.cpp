// Grants of every kind: a user's own, a group's, and the all-users default
// of a project or repository, each read|write|admin on KEY or KEY/slug; and
// the public (anonymous read) flag, which shares the everyone table with
// the all-users default. Each change rewrites the effective levels it
// touches in the same transaction (effective.cpp).
#include <algorithm>
#include <string>

#include "impl.hpp"
#include "pat/names.hpp"
#include "records.hpp"

namespace pat {
namespace {

Status validate_grant_level(Level level) {
    if (level == Level::none) return {StatusCode::invalid_argument, "a grant's level is read, write or admin"};
    return Status::success();
}

// The canonical target: "KEY" or "KEY/slug", and its description.
struct Target {
    std::string key;
    std::string slug;
    std::string stored;       // records::target_key
    std::string description;  // "project KEY" or "repository KEY/slug"
};

Expected<Target> canonical_target(std::string_view raw_key, std::string_view raw_slug) {
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    Target target{*key, {}, *key, "project " + *key};
    if (!raw_slug.empty()) {
        auto slug = canonical_repo_slug(raw_slug);
        if (!slug) return slug.status();
        target.slug = *slug;
        target.stored = records::target_key(*key, *slug);
        target.description = "repository " + target.stored;
    }
    return target;
}

struct CanonicalGrantee {
    GranteeKind kind;
    std::string name;
    std::string description;  // "user alice", "group backend", "all users"
};

Expected<CanonicalGrantee> canonical_grantee(const Grantee& grantee) {
    switch (grantee.kind) {
        case GranteeKind::user: {
            auto name = canonical_user_name(grantee.name);
            if (!name) return name.status();
            return CanonicalGrantee{grantee.kind, *name, "user " + *name};
        }
        case GranteeKind::group: {
            auto name = canonical_group_name(grantee.name);
            if (!name) return name.status();
            return CanonicalGrantee{grantee.kind, *name, "group " + *name};
        }
        case GranteeKind::all_users: return CanonicalGrantee{grantee.kind, {}, "all users"};
    }
    return Status{StatusCode::invalid_argument, "unknown kind of grantee"};
}

Status require_row(kv::Txn& txn, kv::Table table, std::string_view key, const std::string& missing) {
    std::string_view ignored;
    int rc = txn.get(table, key, ignored);
    if (rc == kv::kNotFound) return {StatusCode::not_found, missing};
    return rc == 0 ? Status::success() : kv_error(txn, "read", rc);
}

Status require_grantee(kv::Txn& txn, const Store::Impl& /*store*/, const CanonicalGrantee& grantee) {
    switch (grantee.kind) {
        case GranteeKind::user:
            return require_row(txn, kv::Table::users, grantee.name, "no user '" + grantee.name + "'");
        case GranteeKind::group:
            return require_row(txn, kv::Table::groups, grantee.name, "no group '" + grantee.name + "'");
        case GranteeKind::all_users: return Status::success();
    }
    return Status::success();
}

// The everyone row of target, or an empty view when there is none.
Expected<records::EveryoneView> read_everyone(kv::Txn& txn, const Store::Impl& /*store*/, std::string_view target) {
    std::string_view value;
    int rc = txn.get(kv::Table::everyone, target, value);
    if (rc == kv::kNotFound) return records::EveryoneView{};
    if (rc != 0) return kv_error(txn, "read all-users defaults", rc);
    auto view = records::decode_everyone(value);
    if (!view) return Status{StatusCode::store_error, "store: an all-users record is corrupt"};
    return *view;
}

Status write_everyone(kv::Txn& txn, const Store::Impl& /*store*/, std::string_view target,
                      const records::EveryoneView& view) {
    int rc = view.all_users == Level::none && !view.is_public
                 ? txn.del(kv::Table::everyone, target)
                 : txn.put(kv::Table::everyone, target, records::encode_everyone(view));
    return rc == 0 || rc == kv::kNotFound ? Status::success() : kv_error(txn, "write all-users defaults", rc);
}

// The audit entry of a grant: about the user for a user's grant; for a
// group or all users, the detail names them.
Status audit_grant(const Store::Impl& store, kv::Txn& txn, AuditAction action, const AuditContext& audit,
                   const CanonicalGrantee& grantee, const std::string& detail) {
    if (grantee.kind == GranteeKind::user) return append_audit(store, txn, action, audit, grantee.name, {}, detail);
    return append_audit(store, txn, action, audit, {}, {}, grantee.description + ": " + detail);
}

}  // namespace

// The store-internal forms, shared with apply.cpp.
Status put_grant_in(const Store::Impl& store, kv::Txn& txn, GranteeKind kind, const std::string& name,
                    const std::string& target, Level level) {
    const char value = static_cast<char>(level);
    int rc = 0;
    switch (kind) {
        case GranteeKind::user:
            rc = txn.put(kv::Table::grants, records::pair_key(name, target), std::string_view(&value, 1));
            if (rc != 0) return kv_error(txn, "write grant", rc);
            return store.has_groups ? recompute_effective(store, txn, name, target) : Status::success();
        case GranteeKind::group:
            rc = txn.put(kv::Table::group_grants, records::pair_key(name, target), std::string_view(&value, 1));
            if (rc != 0) return kv_error(txn, "write grant", rc);
            return recompute_group_target(store, txn, name, target);
        case GranteeKind::all_users: {
            auto view = read_everyone(txn, store, target);
            if (!view) return view.status();
            view->all_users = level;
            return write_everyone(txn, store, target, *view);
        }
    }
    return Status::success();
}

// not_found when there is no such grant.
Status delete_grant_in(const Store::Impl& store, kv::Txn& txn, GranteeKind kind, const std::string& name,
                       const std::string& target) {
    int rc = 0;
    switch (kind) {
        case GranteeKind::user:
            rc = txn.del(kv::Table::grants, records::pair_key(name, target));
            if (rc == kv::kNotFound) return {StatusCode::not_found, "no grant"};
            if (rc != 0) return kv_error(txn, "delete grant", rc);
            return store.has_groups ? recompute_effective(store, txn, name, target) : Status::success();
        case GranteeKind::group:
            rc = txn.del(kv::Table::group_grants, records::pair_key(name, target));
            if (rc == kv::kNotFound) return {StatusCode::not_found, "no grant"};
            if (rc != 0) return kv_error(txn, "delete grant", rc);
            return recompute_group_target(store, txn, name, target);
        case GranteeKind::all_users: {
            auto view = read_everyone(txn, store, target);
            if (!view) return view.status();
            if (view->all_users == Level::none) return {StatusCode::not_found, "no grant"};
            view->all_users = Level::none;
            return write_everyone(txn, store, target, *view);
        }
    }
    return Status::success();
}

Status set_public_in(const Store::Impl& store, kv::Txn& txn, const std::string& target, bool on, bool& changed) {
    auto view = read_everyone(txn, store, target);
    if (!view) return view.status();
    changed = view->is_public != on;
    view->is_public = on;
    return write_everyone(txn, store, target, *view);
}

Status Store::set_grant(const Grantee& raw_grantee, std::string_view raw_key, std::string_view raw_slug, Level level,
                        const AuditContext& audit) {
    auto grantee = canonical_grantee(raw_grantee);
    if (!grantee) return grantee.status();
    auto target = canonical_target(raw_key, raw_slug);
    if (!target) return target.status();
    if (Status s = validate_grant_level(level); !s.ok()) return s;
    if (grantee->kind != GranteeKind::user) {
        if (Status s = require_groups(*impl_); !s.ok()) return s;
    }
    return run_write(*impl_, [&](kv::Txn& txn) -> Status {
        if (Status s = require_grantee(txn, *impl_, *grantee); !s.ok()) return s;
        if (Status s = put_grant_in(*impl_, txn, grantee->kind, grantee->name, target->stored, level); !s.ok())
            return s;
        return audit_grant(*impl_, txn, AuditAction::grant_set, audit, *grantee,
                           target->description + " " + std::string(level_name(level)));
    });
}

Status Store::remove_grant(const Grantee& raw_grantee, std::string_view raw_key, std::string_view raw_slug,
                           const AuditContext& audit) {
    auto grantee = canonical_grantee(raw_grantee);
    if (!grantee) return grantee.status();
    auto target = canonical_target(raw_key, raw_slug);
    if (!target) return target.status();
    if (grantee->kind != GranteeKind::user) {
        if (Status s = require_groups(*impl_); !s.ok()) return s;
    }
    return run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            Status s = delete_grant_in(*impl_, txn, grantee->kind, grantee->name, target->stored);
            if (s.code() == StatusCode::not_found) {
                const std::string whose = grantee->kind == GranteeKind::user    ? "'" + grantee->name + "'"
                                          : grantee->kind == GranteeKind::group ? "group '" + grantee->name + "'"
                                                                                : "all users";
                return {StatusCode::not_found, "no grant for " + whose + " on " + target->description};
            }
            if (!s.ok()) return s;
            return audit_grant(*impl_, txn, AuditAction::grant_removed, audit, *grantee, target->description);
        },
        Space::reserve);  // takes access away: works on a full store
}

Status Store::grant_project(std::string_view user, std::string_view key, Level level, const AuditContext& audit) {
    return set_grant(Grantee::user(std::string(user)), key, {}, level, audit);
}

Status Store::grant_repo(std::string_view user, std::string_view key, std::string_view slug, Level level,
                         const AuditContext& audit) {
    if (slug.empty()) return canonical_repo_slug(slug).status();
    return set_grant(Grantee::user(std::string(user)), key, slug, level, audit);
}

Status Store::revoke_project_grant(std::string_view user, std::string_view key, const AuditContext& audit) {
    return remove_grant(Grantee::user(std::string(user)), key, {}, audit);
}

Status Store::revoke_repo_grant(std::string_view user, std::string_view key, std::string_view slug,
                                const AuditContext& audit) {
    if (slug.empty()) return canonical_repo_slug(slug).status();
    return remove_grant(Grantee::user(std::string(user)), key, slug, audit);
}

namespace {

// Grants of one table under prefix ("" for all), as GrantInfo of kind.
Status scan_grants(kv::Txn& txn, kv::Table table, std::string_view prefix, GranteeKind kind,
                   std::vector<GrantInfo>& out) {
    bool corrupt = false;
    // Keys sort a project's grant just before its repositories' grants.
    int rc = txn.scan(table, prefix, [&](std::string_view key, std::string_view value) {
        auto level = records::decode_level(value);
        std::string_view name, target, project, repo;
        if (!level || !records::split_pair_key(key, name, target)) {
            corrupt = true;
            return false;
        }
        records::split_target(target, project, repo);
        GrantInfo grant;
        grant.user = name;
        grant.project = project;
        grant.repo = repo;
        grant.level = *level;
        grant.kind = kind;
        out.push_back(std::move(grant));
        return true;
    });
    if (rc != 0) return kv_error(txn, "read grants", rc);
    if (corrupt) return {StatusCode::store_error, "store: a grant record is corrupt"};
    return Status::success();
}

}  // namespace

// All the all-users defaults (level > none) and public targets of the store.
Status scan_everyone(const Store::Impl& store, kv::Txn& txn, std::vector<GrantInfo>* defaults,
                     std::vector<PublicTarget>* targets) {
    if (!store.has_groups) return Status::success();
    bool corrupt = false;
    int rc = txn.scan(kv::Table::everyone, "", [&](std::string_view key, std::string_view value) {
        auto view = records::decode_everyone(value);
        if (!view) {
            corrupt = true;
            return false;
        }
        std::string_view project, repo;
        records::split_target(key, project, repo);
        if (defaults != nullptr && view->all_users != Level::none) {
            GrantInfo grant;
            grant.project = project;
            grant.repo = repo;
            grant.level = view->all_users;
            grant.kind = GranteeKind::all_users;
            defaults->push_back(std::move(grant));
        }
        if (targets != nullptr && view->is_public) targets->push_back({std::string(project), std::string(repo), 0});
        return true;
    });
    if (rc != 0) return kv_error(txn, "read all-users defaults", rc);
    if (corrupt) return {StatusCode::store_error, "store: an all-users record is corrupt"};
    return Status::success();
}

Status scan_all_grants(const Store::Impl& store, kv::Txn& txn, GranteeKind kind, std::string_view prefix,
                       std::vector<GrantInfo>& out) {
    switch (kind) {
        case GranteeKind::user: return scan_grants(txn, kv::Table::grants, prefix, kind, out);
        case GranteeKind::group:
            return store.has_groups ? scan_grants(txn, kv::Table::group_grants, prefix, kind, out) : Status::success();
        case GranteeKind::all_users: return scan_everyone(store, txn, &out, nullptr);
    }
    return Status::success();
}

Expected<std::vector<GrantInfo>> Store::list_grants(std::optional<std::string_view> raw_user) {
    if (!raw_user) {
        auto reading = impl_->engine->read();
        if (!reading) return reading.status();
        kv::Txn& txn = **reading;
        std::vector<GrantInfo> grants;
        if (Status s = scan_all_grants(*impl_, txn, GranteeKind::user, "", grants); !s.ok()) return s;
        return grants;
    }
    return list_grants_of(Grantee::user(std::string(*raw_user)));
}

Expected<std::vector<GrantInfo>> Store::list_grants_of(const Grantee& raw_grantee) {
    auto grantee = canonical_grantee(raw_grantee);
    if (!grantee) return grantee.status();
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    // A mistyped name is an error, not an empty list.
    if (grantee->kind == GranteeKind::group && !impl_->has_groups)
        return Status{StatusCode::not_found, "no group '" + grantee->name + "'"};
    if (Status s = require_grantee(txn, *impl_, *grantee); !s.ok()) return s;
    std::vector<GrantInfo> grants;
    const std::string prefix = grantee->kind == GranteeKind::all_users ? "" : records::pair_key(grantee->name, "");
    if (Status s = scan_all_grants(*impl_, txn, grantee->kind, prefix, grants); !s.ok()) return s;
    return grants;
}

Status Store::set_public(std::string_view raw_key, std::string_view raw_slug, bool on, const AuditContext& audit) {
    auto target = canonical_target(raw_key, raw_slug);
    if (!target) return target.status();
    if (Status s = require_groups(*impl_); !s.ok()) return s;
    return run_write(
        *impl_,
        [&](kv::Txn& txn) -> Status {
            bool changed = false;
            if (Status s = set_public_in(*impl_, txn, target->stored, on, changed); !s.ok()) return s;
            if (!changed) return Status::success();  // already so: nothing to record
            return append_audit(*impl_, txn, on ? AuditAction::public_set : AuditAction::public_removed, audit, {}, {},
                                target->description);
        },
        on ? Space::ordinary : Space::reserve);
}

Expected<std::vector<PublicTarget>> Store::list_public() {
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    std::vector<PublicTarget> targets;
    if (Status s = scan_everyone(*impl_, txn, nullptr, &targets); !s.ok()) return s;
    return targets;
}

}  // namespace pat
