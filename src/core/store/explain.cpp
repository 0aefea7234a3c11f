// Why a user has their level (patctl check's "via" line). Reads the grants
// themselves, not the effective table, to name the one that decided; the
// level it finds is the one decide() compares with (both are the highest of
// the same grants), which the unit tests check.
#include <string>
#include <vector>

#include "impl.hpp"
#include "pat/names.hpp"
#include "records.hpp"

namespace pat {
namespace {

// Takes candidate when it is strictly higher: candidates come in the order
// of preference, so the first of equal levels stays.
void consider(LevelSource& best, LevelSource::Kind kind, Level level, std::string_view group, std::string_view key,
              std::string_view slug) {
    if (level <= best.level) return;
    best = LevelSource{kind, level, std::string(group), std::string(key), std::string(slug)};
}

Expected<Level> level_at(kv::Txn& txn, kv::Table table, std::string_view key) {
    std::string_view value;
    int rc = txn.get(table, key, value);
    if (rc == kv::kNotFound) return Level::none;
    if (rc != 0) return kv_error(txn, "read grant", rc);
    auto level = records::decode_level(value);
    if (!level) return Status{StatusCode::store_error, "store: a grant record is corrupt"};
    return *level;
}

}  // namespace

Expected<LevelSource> Store::explain_level(std::string_view raw_user, std::string_view raw_key,
                                           std::string_view raw_slug) {
    auto user = canonical_user_name(raw_user);
    if (!user) return user.status();
    auto key = canonical_project_key(raw_key);
    if (!key) return key.status();
    std::string slug;
    if (!raw_slug.empty()) {
        auto canonical = canonical_repo_slug(raw_slug);
        if (!canonical) return canonical.status();
        slug = *canonical;
    }
    auto reading = impl_->engine->read();
    if (!reading) return reading.status();
    kv::Txn& txn = **reading;
    int rc = 0;
    std::string_view record;
    rc = txn.get(kv::Table::users, *user, record);
    if (rc == kv::kNotFound) return Status{StatusCode::not_found, "no user '" + *user + "'"};
    if (rc != 0) return kv_error(txn, "read user", rc);
    auto view = records::decode_user(record);
    if (!view) return Status{StatusCode::store_error, "store: the record of user '" + *user + "' is corrupt"};

    LevelSource best;
    if (view->sysadmin) return LevelSource{LevelSource::Kind::sysadmin, Level::admin, {}, {}, {}};
    char owner[kMaxUserName + 1];
    if (personal_project_owner(*key, owner) == *user)
        return LevelSource{LevelSource::Kind::personal_project, Level::admin, {}, *key, {}};

    // The targets, most specific first.
    std::vector<std::string_view> slugs;
    if (!slug.empty()) slugs.push_back(slug);
    slugs.push_back({});
    for (std::string_view s : slugs) {
        auto level = level_at(txn, kv::Table::grants, records::pair_key(*user, records::target_key(*key, s)));
        if (!level) return level.status();
        consider(best, LevelSource::Kind::user_grant, *level, {}, *key, s);
    }
    if (impl_->has_groups) {
        std::vector<std::string> memberships;
        const std::string prefix = records::user_prefix(*user);
        if ((rc = collect_keys(txn, kv::Table::user_groups, prefix, memberships)) != 0)
            return kv_error(txn, "read memberships", rc);
        for (const std::string& membership : memberships) {
            const std::string_view group = std::string_view(membership).substr(prefix.size());
            for (std::string_view s : slugs) {
                auto level =
                    level_at(txn, kv::Table::group_grants, records::pair_key(group, records::target_key(*key, s)));
                if (!level) return level.status();
                consider(best, LevelSource::Kind::group_grant, *level, group, *key, s);
            }
        }
        std::vector<std::pair<records::EveryoneView, std::string_view>> everyone;
        for (std::string_view s : slugs) {
            std::string_view value;
            rc = txn.get(kv::Table::everyone, records::target_key(*key, s), value);
            if (rc == kv::kNotFound) continue;
            if (rc != 0) return kv_error(txn, "read all-users defaults", rc);
            auto decoded = records::decode_everyone(value);
            if (!decoded) return Status{StatusCode::store_error, "store: an all-users record is corrupt"};
            everyone.emplace_back(*decoded, s);
        }
        for (const auto& [defaults, s] : everyone)
            consider(best, LevelSource::Kind::all_users, defaults.all_users, {}, *key, s);
        for (const auto& [defaults, s] : everyone)
            consider(best, LevelSource::Kind::public_access, defaults.is_public ? Level::read : Level::none, {}, *key,
                     s);
    }
    return best;
}

std::string describe_level_source(const LevelSource& source) {
    const std::string target =
        source.repo.empty() ? "project " + source.project : "repository " + source.project + "/" + source.repo;
    switch (source.kind) {
        case LevelSource::Kind::none: return "no grant";
        case LevelSource::Kind::sysadmin: return "via the sysadmin flag";
        case LevelSource::Kind::personal_project: return "via the personal project " + source.project;
        case LevelSource::Kind::user_grant: return "via the user's own grant on " + target;
        case LevelSource::Kind::group_grant: return "via group \"" + source.group + "\" on " + target;
        case LevelSource::Kind::all_users: return "via all users on " + target;
        case LevelSource::Kind::public_access: return "via public access to " + target;
    }
    return "no grant";
}

}  // namespace pat
