// Differential test of the decision: a small reference model of the
// permission table and the grant rules, written from the README (not from
// the code), against the real Store::decide on a real store with random
// users, grants and tokens and well over 100,000 random requests. Every
// request must get the same answer from both: allowed, 401 or 403.
//
// The model's rules (README, "Permissions" and "Names"):
//   - a token has a project level and a repository level, repository >= project;
//   - a need is met when the token's own level covers it AND the user's
//     current level on the target does: repo-X needs token repo >= X and
//     user repo level >= X; project-X needs token project >= X and user
//     project level >= X; repo-fork needs token project admin and user read
//     on the source repository; authenticated needs nothing more;
//   - the user's level on a repository is the highest of their grant on it,
//     their grant on its project, admin if sysadmin, admin if the project is
//     their personal project "~name"; on a project, the highest of the
//     project grant, sysadmin and personal ownership;
//   - (docs/permissions.md, groups) every grant counts the same whether it
//     is the user's own, one of their groups', or the all-users default of
//     the project or repository; a public project or repository is read for
//     every signed-in user;
//   - without credentials (decide_public): a repo-read of a valid name in a
//     public project or a public repository is allowed; anything else is 401;
//   - 401: not the token format, wrong checksum, unknown, revoked, expired,
//     Basic user other than the owner, owner deleted or disabled, rotated;
//   - (docs/token-lifecycle.md, rotation) a rotation gives a new token with
//     the same permissions and the same number of days until expiry (the
//     old span rounded up to whole days, at least one; never stays never);
//     the old token is refused; rotating a token already rotated away
//     revokes every token of its family (all rotated from one original);
//   - 403: a valid credential without the permission, an invalid project key
//     or slug, an unrecognised route;
//   - names compare in canonical form (users lower case, keys upper case,
//     slugs lower case); a slug never ends in ".git".
//
// The store is filled with Store::bulk_load, then changed with the real
// calls a sysadmin makes (revoke_token, set_user_active, delete_user,
// add_user, grant_*, revoke_*_grant) and owners make (rotate_token), and
// the model follows each change.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "pat/decision.hpp"
#include "pat/store.hpp"
#include "store_fixture.hpp"

namespace pat::testing {
namespace {

constexpr std::uint64_t kSeed = 20261128;
constexpr std::size_t kRequests = 150'000;
constexpr std::int64_t kNow = 1'800'000'000'000;  // a fixed "now" for expiry
constexpr std::string_view kOwnersPassword = "the owners' password";

// ---------------------------------------------------------------------------
// The reference model. Levels are 0 (none) to 3 (admin).

enum class Answer { allow, unauthenticated, forbidden };

const char* answer_name(Answer answer) {
    switch (answer) {
        case Answer::allow: return "allow";
        case Answer::unauthenticated: return "401";
        case Answer::forbidden: return "403";
    }
    return "?";
}

bool is_lower(char c) {
    return c >= 'a' && c <= 'z';
}
bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
    return is_lower(c) || is_upper(c) || is_digit(c);
}

std::string to_lower(std::string text) {
    for (char& c : text) c = is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
    return text;
}
std::string to_upper(std::string text) {
    for (char& c : text) c = is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c;
    return text;
}

// [A-Za-z0-9][A-Za-z0-9_.-]*, 1..max characters.
bool is_name(const std::string& text, std::size_t max) {
    if (text.empty() || text.size() > max || !is_alnum(text[0])) return false;
    for (char c : text) {
        if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

bool model_valid_user(const std::string& name) {
    return is_name(name, 64);
}

bool model_valid_key(const std::string& key) {
    if (!key.empty() && key[0] == '~') return model_valid_user(key.substr(1));
    if (key.empty() || key.size() > 128 || !(is_lower(key[0]) || is_upper(key[0]))) return false;
    for (char c : key) {
        if (!is_alnum(c) && c != '_' && c != '-') return false;
    }
    return true;
}

bool model_valid_slug(const std::string& slug) {
    return is_name(slug, 128) && !(slug.size() >= 4 && to_lower(slug.substr(slug.size() - 4)) == ".git");
}

// The token format, from the README: "npat_", 43 base62 characters, then the
// CRC-32 (IEEE) of the first 48 characters as 6 base62 digits, most
// significant first. The CRC is computed bit by bit, unlike the core's table.
constexpr std::string_view kBase62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::string model_checksum(std::string_view text) {
    std::uint32_t crc = 0xFFFFFFFFU;
    for (char c : text) {
        crc ^= static_cast<unsigned char>(c);
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1U) ? 0xEDB88320U : 0U);
    }
    crc ^= 0xFFFFFFFFU;
    std::string digits(6, '0');
    for (int i = 5; i >= 0; --i) {
        digits[static_cast<std::size_t>(i)] = kBase62[crc % 62];
        crc /= 62;
    }
    return digits;
}

bool model_token_format_valid(const std::string& text) {
    if (text.size() != 54 || text.compare(0, 5, "npat_") != 0) return false;
    for (std::size_t i = 5; i < text.size(); ++i) {
        if (kBase62.find(text[i]) == std::string_view::npos) return false;
    }
    return model_checksum(std::string_view(text).substr(0, 48)) == text.substr(48);
}

struct ModelUser {
    bool active = true;
    bool sysadmin = false;
};

struct ModelToken {
    std::string id;
    std::string owner;  // canonical
    int project = 0, repo = 0;
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;  // 0: never
    bool revoked = false;
    bool deleted = false;  // its owner was deleted
    bool rotated = false;  // replaced by a rotation
    std::string family;    // the id of the first token of its rotation chain
};

template <typename Map, typename Key>
int level_in(const Map& map, const Key& key) {
    auto found = map.find(key);
    return found == map.end() ? 0 : found->second;
}

struct Model {
    std::map<std::string, ModelUser> users;                             // canonical name
    std::map<std::pair<std::string, std::string>, int> project_grants;  // user, KEY
    std::map<std::array<std::string, 3>, int> repo_grants;              // user, KEY, slug
    std::map<std::string, ModelToken> tokens;                           // by text
    // Groups: members, and grants like the users' own.
    std::map<std::string, std::set<std::string>> groups;
    std::map<std::pair<std::string, std::string>, int> group_project_grants;  // group, KEY
    std::map<std::array<std::string, 3>, int> group_repo_grants;              // group, KEY, slug
    std::map<std::string, int> all_users_project;                             // KEY
    std::map<std::pair<std::string, std::string>, int> all_users_repo;        // KEY, slug
    std::set<std::string> public_projects;
    std::set<std::pair<std::string, std::string>> public_repos;

    int user_project_level(const std::string& user, const std::string& key) const {
        const ModelUser& u = users.at(user);
        if (u.sysadmin || key == "~" + to_upper(user)) return 3;
        int level = std::max(level_in(project_grants, std::make_pair(user, key)), level_in(all_users_project, key));
        for (const auto& [group, members] : groups) {
            if (members.count(user) != 0)
                level = std::max(level, level_in(group_project_grants, std::make_pair(group, key)));
        }
        if (public_projects.count(key) != 0) level = std::max(level, 1);
        return level;
    }

    int user_repo_level(const std::string& user, const std::string& key, const std::string& slug) const {
        int level =
            std::max({user_project_level(user, key), level_in(repo_grants, std::array<std::string, 3>{user, key, slug}),
                      level_in(all_users_repo, std::make_pair(key, slug))});
        for (const auto& [group, members] : groups) {
            if (members.count(user) != 0)
                level = std::max(level, level_in(group_repo_grants, std::array<std::string, 3>{group, key, slug}));
        }
        if (public_repos.count({key, slug}) != 0) level = std::max(level, 1);
        return level;
    }

    Answer decide_public(const AccessRequest& request) const {
        if (request.need != Need::repo_read) return Answer::unauthenticated;
        const std::string raw_key(request.project), raw_slug(request.repo);
        if (!model_valid_key(raw_key) || !model_valid_slug(raw_slug)) return Answer::unauthenticated;
        const std::string key = to_upper(raw_key);
        const std::string slug = to_lower(raw_slug);
        return public_projects.count(key) != 0 || public_repos.count({key, slug}) != 0 ? Answer::allow
                                                                                       : Answer::unauthenticated;
    }

    Answer decide(const AccessRequest& request, std::int64_t now) const {
        const std::string text(request.token);
        if (!model_token_format_valid(text)) return Answer::unauthenticated;
        auto found = tokens.find(text);
        if (found == tokens.end() || found->second.deleted) return Answer::unauthenticated;
        const ModelToken& token = found->second;
        if (token.revoked || token.rotated) return Answer::unauthenticated;
        if (token.expires_ms != 0 && now >= token.expires_ms) return Answer::unauthenticated;
        auto owner = users.find(token.owner);
        if (owner == users.end() || !owner->second.active) return Answer::unauthenticated;
        if (request.has_basic_user) {
            const std::string basic(request.basic_user);
            if (!model_valid_user(basic) || to_lower(basic) != token.owner) return Answer::unauthenticated;
        }

        // Authenticated from here on.
        const Need need = request.need;
        if (need == Need::unrecognised_route) return Answer::forbidden;
        if (need == Need::authenticated) return Answer::allow;
        // Global administration: the user's flag and a token at its highest level.
        if (need == Need::sysadmin) {
            return owner->second.sysadmin && token.project >= 3 && token.repo >= 3 ? Answer::allow : Answer::forbidden;
        }

        const std::string raw_key(request.project), raw_slug(request.repo);
        const bool repo_target =
            need == Need::repo_read || need == Need::repo_write || need == Need::repo_admin || need == Need::repo_fork;
        if (!model_valid_key(raw_key) || (repo_target && !model_valid_slug(raw_slug))) return Answer::forbidden;
        const std::string key = to_upper(raw_key);
        const std::string slug = to_lower(raw_slug);

        int token_level = 0, needed = 0, user_level = 0;
        switch (need) {
            case Need::repo_read: needed = 1; break;
            case Need::repo_write: needed = 2; break;
            case Need::repo_admin: needed = 3; break;
            case Need::project_read: needed = 1; break;
            case Need::project_write: needed = 2; break;
            case Need::project_admin: needed = 3; break;
            default: break;
        }
        if (need == Need::repo_fork) {
            if (token.project < 3) return Answer::forbidden;
            return user_repo_level(token.owner, key, slug) >= 1 ? Answer::allow : Answer::forbidden;
        }
        if (repo_target) {
            token_level = token.repo;
            user_level = user_repo_level(token.owner, key, slug);
        } else {
            token_level = token.project;
            user_level = user_project_level(token.owner, key);
        }
        return token_level >= needed && user_level >= needed ? Answer::allow : Answer::forbidden;
    }
};

Answer real_answer(Reason reason) {
    switch (verdict_of(reason)) {
        case Verdict::allow: return Answer::allow;
        case Verdict::unauthenticated: return Answer::unauthenticated;
        case Verdict::forbidden: return Answer::forbidden;
        case Verdict::fault: break;
    }
    ADD_FAILURE() << "the store failed: " << reason_name(reason);
    return Answer::allow;  // counted as a disagreement unless the model also allows
}

// ---------------------------------------------------------------------------
// Random data.

class Random {
   public:
    explicit Random(std::uint64_t seed) : engine_(seed) {}
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(engine_); }
    bool chance(double p) { return std::bernoulli_distribution(p)(engine_); }
    template <typename T>
    const T& pick(const std::vector<T>& items) {
        return items[below(items.size())];
    }
    // The same name in a random mix of cases: it must name the same thing.
    std::string random_case(std::string text) {
        for (char& c : text) {
            if (chance(0.3))
                c = is_lower(c) ? static_cast<char>(c - 'a' + 'A') : is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
        }
        return text;
    }
    std::string token_text() {
        std::string text = "npat_";
        for (int i = 0; i < 43; ++i) text += kBase62[below(62)];
        return text + model_checksum(text);
    }

   private:
    std::mt19937_64 engine_;
};

const TokenPermissions kTokenCells[] = {
    {Level::read, Level::read},   {Level::read, Level::write},  {Level::read, Level::admin},
    {Level::write, Level::write}, {Level::write, Level::admin}, {Level::admin, Level::admin},
};

Level level_of(int n) {
    return static_cast<Level>(n);
}

class DifferentialTest : public StoreTest {
   protected:
    Random random_{kSeed};
    Model model_;
    std::vector<std::string> user_names_;    // canonical, every user ever made (some deleted)
    std::vector<std::string> ghost_owners_;  // token owners that never existed
    std::vector<std::string> keys_;          // canonical project keys (not personal)
    std::vector<std::string> slugs_;         // canonical slugs
    std::vector<std::string> token_texts_;   // every token in the store (some deleted)
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> targets_of_;  // user -> granted targets
    std::vector<std::string> group_names_;                                                // canonical
    std::vector<std::pair<std::string, std::string>> shared_targets_;  // all-users defaults and public targets

    void build_groups();
    void change_groups();
    void build_store();
    void change_store();
    void rotate_tokens();
    AccessRequest random_request(std::string& token_storage, std::string& basic_storage, std::string& project_storage,
                                 std::string& repo_storage);
};

void DifferentialTest::build_store() {
    for (int i = 0; i < 160; ++i) {
        std::string name = "u" + std::to_string(i);
        if (i % 7 == 0) name = "dev.ops-" + std::to_string(i);
        if (i % 11 == 0) name = "x_" + std::to_string(i) + ".y";
        user_names_.push_back(name);
    }
    for (int i = 0; i < 8; ++i) ghost_owners_.push_back("ghost" + std::to_string(i));
    for (int i = 0; i < 24; ++i)
        keys_.push_back(i % 5 == 0 ? "P_" + std::to_string(i) + "-X" : "PRJ" + std::to_string(i));
    keys_.push_back("WORK");
    for (int i = 0; i < 10; ++i)
        slugs_.push_back(i % 3 == 0 ? "my.repo-" + std::to_string(i) : "repo" + std::to_string(i));

    Store::BulkLoad load;
    for (const std::string& name : user_names_) {
        const bool sysadmin = random_.chance(0.04);
        load.users.push_back({random_.random_case(name), sysadmin});  // stored canonical
        model_.users[name] = ModelUser{true, sysadmin};
    }
    // Grants: a few per user, on ordinary projects and on other users'
    // personal projects; each (user, target) once.
    for (const std::string& user : user_names_) {
        const std::size_t count = random_.below(10);
        for (std::size_t g = 0; g < count; ++g) {
            const bool personal = random_.chance(0.1);
            const std::string key = personal ? "~" + to_upper(random_.pick(user_names_)) : random_.pick(keys_);
            const int level = 1 + static_cast<int>(random_.below(3));
            const std::string stored_key = personal ? "~" + to_lower(key.substr(1)) : random_.random_case(key);
            if (random_.chance(0.5)) {
                if (!model_.project_grants.emplace(std::make_pair(user, key), level).second) continue;
                load.grants.push_back({user, stored_key, "", level_of(level)});
                targets_of_[user].push_back({key, random_.pick(slugs_)});
            } else {
                const std::string slug = random_.pick(slugs_);
                if (!model_.repo_grants.emplace(std::array<std::string, 3>{user, key, slug}, level).second) continue;
                load.grants.push_back(
                    {random_.random_case(user), stored_key, random_.random_case(slug), level_of(level)});
                targets_of_[user].push_back({key, slug});
            }
        }
    }
    // Tokens: every cell of the table, expiries around "now" (the boundary
    // itself included), some owners that do not exist.
    for (int i = 0; i < 2500; ++i) {
        ModelToken token;
        token.owner = random_.chance(0.02) ? random_.pick(ghost_owners_) : random_.pick(user_names_);
        const TokenPermissions cell = kTokenCells[random_.below(std::size(kTokenCells))];
        token.project = static_cast<int>(cell.project);
        token.repo = static_cast<int>(cell.repo);
        switch (random_.below(6)) {
            case 0: token.expires_ms = kNow - 1 - static_cast<std::int64_t>(random_.below(86'400'000)); break;
            case 1: token.expires_ms = kNow + 1 + static_cast<std::int64_t>(random_.below(86'400'000)); break;
            case 2: token.expires_ms = kNow + static_cast<std::int64_t>(random_.below(3)) - 1; break;  // the edge
            default: token.expires_ms = 0; break;
        }
        Store::BulkLoad::Token row;
        row.owner = random_.random_case(token.owner);
        row.name = "t" + std::to_string(i);
        row.permissions = cell;
        row.text = random_.token_text();
        row.created_ms = kNow - 1000;
        row.expires_ms = token.expires_ms;
        token.created_ms = row.created_ms;
        token_texts_.push_back(row.text);
        model_.tokens[row.text] = token;
        load.tokens.push_back(std::move(row));
    }
    // Every user has one password (hashed once: scrypt is slow), which the
    // owners' rotations give (rotate_tokens).
    auto hash = hash_password(kOwnersPassword);
    ASSERT_TRUE(hash.ok()) << hash.status().message();
    load.password = *hash;
    auto ids = store_->bulk_load(load);
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    ASSERT_EQ(ids->size(), token_texts_.size());
    for (std::size_t i = 0; i < ids->size(); ++i) model_.tokens[token_texts_[i]].id = (*ids)[i];
    for (auto& token : load.tokens) wipe(token.text);
}

// Groups through the real calls: a dozen, one user in all of them, others
// in a few; grants on projects and repositories; all-users defaults and
// public targets.
void DifferentialTest::build_groups() {
    const AuditContext audit{"differential-test", "local"};
    for (int i = 0; i < 12; ++i)
        group_names_.push_back(i % 4 == 0 ? "team " + std::to_string(i) : "g" + std::to_string(i));
    const std::string& everywhere = user_names_[1];
    for (const std::string& group : group_names_) {
        ASSERT_TRUE(store_->add_group(random_.random_case(group), audit).ok());
        std::set<std::string>& members = model_.groups[group];
        members.insert(everywhere);
        for (std::size_t m = random_.below(20); m > 0; --m) members.insert(random_.pick(user_names_));
        std::vector<std::string> names;
        for (const std::string& member : members) names.push_back(random_.random_case(member));
        ASSERT_TRUE(store_->add_group_members(group, names, audit).ok());
        for (std::size_t g = 1 + random_.below(4); g > 0; --g) {
            const std::string& key = random_.pick(keys_);
            const std::string& slug = random_.pick(slugs_);
            const int level = 1 + static_cast<int>(random_.below(3));
            const bool repo = random_.chance(0.5);
            ASSERT_TRUE(store_
                            ->set_grant(Grantee::group(group), random_.random_case(key),
                                        repo ? random_.random_case(slug) : std::string(), level_of(level), audit)
                            .ok());
            if (repo)
                model_.group_repo_grants[{group, key, slug}] = level;
            else
                model_.group_project_grants[{group, key}] = level;
            for (const std::string& member : members) targets_of_[member].push_back({key, slug});
        }
    }
    for (int i = 0; i < 6; ++i) {
        const std::string& key = random_.pick(keys_);
        const std::string& slug = random_.pick(slugs_);
        const int level = 1 + static_cast<int>(random_.below(3));
        if (random_.chance(0.5)) {
            ASSERT_TRUE(store_->set_grant(Grantee::all_users(), key, "", level_of(level), audit).ok());
            model_.all_users_project[key] = level;
        } else {
            ASSERT_TRUE(store_->set_grant(Grantee::all_users(), key, slug, level_of(level), audit).ok());
            model_.all_users_repo[{key, slug}] = level;
        }
        shared_targets_.push_back({key, slug});
    }
    for (int i = 0; i < 6; ++i) {
        const std::string& key = random_.pick(keys_);
        const std::string& slug = random_.pick(slugs_);
        if (i % 3 == 0) {
            ASSERT_TRUE(store_->set_public(random_.random_case(key), "", true, audit).ok());
            model_.public_projects.insert(key);
        } else {
            ASSERT_TRUE(store_->set_public(key, random_.random_case(slug), true, audit).ok());
            model_.public_repos.insert({key, slug});
        }
        shared_targets_.push_back({key, slug});
    }
}

// Memberships, group grants, defaults and public flags changed; a group deleted.
void DifferentialTest::change_groups() {
    const AuditContext audit{"differential-test", "local"};
    for (int i = 0; i < 40; ++i) {
        const std::string& group = random_.pick(group_names_);
        if (model_.groups.count(group) == 0) continue;
        std::set<std::string>& members = model_.groups[group];
        const std::string& user = random_.pick(user_names_);
        const std::string& key = random_.pick(keys_);
        const std::string& slug = random_.pick(slugs_);
        switch (random_.below(6)) {
            case 0:
                if (model_.users.count(user) != 0 && members.insert(user).second) {
                    ASSERT_TRUE(store_->add_group_members(group, {random_.random_case(user)}, audit).ok());
                }
                break;
            case 1:
                if (!members.empty()) {
                    const std::string gone =
                        *std::next(members.begin(), static_cast<long>(random_.below(members.size())));
                    ASSERT_TRUE(store_->remove_group_members(group, {gone}, audit).ok());
                    members.erase(gone);
                }
                break;
            case 2: {
                const int level = 1 + static_cast<int>(random_.below(3));
                ASSERT_TRUE(store_->set_grant(Grantee::group(group), key, "", level_of(level), audit).ok());
                model_.group_project_grants[{group, key}] = level;
                for (const std::string& member : members) targets_of_[member].push_back({key, slug});
                break;
            }
            case 3:
                if (model_.group_repo_grants.erase({group, key, slug}) == 1) {
                    ASSERT_TRUE(store_->remove_grant(Grantee::group(group), key, slug, audit).ok());
                }
                if (model_.group_project_grants.erase({group, key}) == 1) {
                    ASSERT_TRUE(store_->remove_grant(Grantee::group(group), key, "", audit).ok());
                }
                break;
            case 4:
                if (model_.all_users_project.erase(key) == 1) {
                    ASSERT_TRUE(store_->remove_grant(Grantee::all_users(), key, "", audit).ok());
                }
                break;
            default: {
                const bool on = random_.chance(0.5);
                ASSERT_TRUE(store_->set_public(key, slug, on, audit).ok());
                if (on)
                    model_.public_repos.insert({key, slug});
                else
                    model_.public_repos.erase({key, slug});
                shared_targets_.push_back({key, slug});
                break;
            }
        }
    }
    const std::string doomed = group_names_[3];
    ASSERT_TRUE(store_->delete_group(random_.random_case(doomed), audit).ok());
    model_.groups.erase(doomed);
    std::erase_if(model_.group_project_grants, [&](const auto& grant) { return grant.first.first == doomed; });
    std::erase_if(model_.group_repo_grants, [&](const auto& grant) { return grant.first[0] == doomed; });
}

void DifferentialTest::change_store() {
    const AuditContext audit{"differential-test", "local"};
    // Revocations (the real call a sysadmin makes).
    for (const std::string& text : token_texts_) {
        ModelToken& token = model_.tokens[text];
        if (!random_.chance(0.05) || token.revoked || token.rotated) continue;  // those are gone already
        ASSERT_TRUE(store_->revoke_token(Actor::system(), token.id, audit).ok());
        token.revoked = true;
    }
    // Disabled users, a few enabled again.
    for (const std::string& user : user_names_) {
        if (!random_.chance(0.08)) continue;
        ASSERT_TRUE(store_->set_user_active(user, false, audit).ok());
        model_.users[user].active = false;
        if (random_.chance(0.2)) {
            ASSERT_TRUE(store_->set_user_active(random_.random_case(user), true, audit).ok());
            model_.users[user].active = true;
        }
    }
    // Grants raised, lowered and removed.
    for (int i = 0; i < 60; ++i) {
        const std::string& user = random_.pick(user_names_);
        const std::string& key = random_.pick(keys_);
        const std::string& slug = random_.pick(slugs_);
        const int level = 1 + static_cast<int>(random_.below(3));
        switch (random_.below(4)) {
            case 0:
                ASSERT_TRUE(store_->grant_project(user, random_.random_case(key), level_of(level), audit).ok());
                model_.project_grants[{user, key}] = level;
                targets_of_[user].push_back({key, slug});
                break;
            case 1:
                ASSERT_TRUE(store_->grant_repo(user, key, random_.random_case(slug), level_of(level), audit).ok());
                model_.repo_grants[{user, key, slug}] = level;
                targets_of_[user].push_back({key, slug});
                break;
            case 2:
                if (model_.project_grants.erase({user, key}) == 1) {
                    ASSERT_TRUE(store_->revoke_project_grant(user, key, audit).ok());
                }
                break;
            default:
                if (model_.repo_grants.erase({user, key, slug}) == 1) {
                    ASSERT_TRUE(store_->revoke_repo_grant(user, key, slug, audit).ok());
                }
                break;
        }
    }
    // Deleted users: their grants and tokens go with them. Two come back
    // under the same name, with nothing of what they had.
    int readded = 0;
    for (const std::string& user : user_names_) {
        if (!random_.chance(0.04)) continue;
        ASSERT_TRUE(store_->delete_user(random_.random_case(user), audit).ok());
        model_.users.erase(user);
        std::erase_if(model_.project_grants, [&](const auto& grant) { return grant.first.first == user; });
        std::erase_if(model_.repo_grants, [&](const auto& grant) { return grant.first[0] == user; });
        for (auto& [group, members] : model_.groups) members.erase(user);
        for (auto& [text, token] : model_.tokens) {
            if (token.owner == user) token.deleted = true;
        }
        if (readded < 2) {
            ASSERT_TRUE(store_->add_user(user, "", false, "a password for " + user, audit).ok());
            model_.users[user] = ModelUser{true, false};
            ++readded;
        }
    }
}

// Rotations, the owners' own call (with their password): a few owners
// rotate some of their tokens, some successors again, and some rotate a
// token already rotated away (reuse: its family is revoked).
void DifferentialTest::rotate_tokens() {
    constexpr std::int64_t kDay = 86'400'000;
    const AuditContext audit{"differential-test", "local"};
    std::map<std::string, std::vector<std::string>> live;  // owner -> texts of tokens rotatable now
    for (const std::string& text : token_texts_) {
        const ModelToken& token = model_.tokens[text];
        if (model_.users.count(token.owner) != 0 && !token.revoked) live[token.owner].push_back(text);
    }
    std::size_t owners = 0, rotations = 0, reuses = 0;
    for (auto& [owner, texts] : live) {
        if (owners == 5) break;  // each rotation checks a password (scrypt): a few suffice
        if (texts.size() < 3 || !random_.chance(0.3)) continue;
        ++owners;
        const std::string_view password = kOwnersPassword;
        std::vector<std::string> retired;
        for (int r = 0; r < 2; ++r) {
            std::string text = texts[random_.below(texts.size())];
            if (model_.tokens[text].rotated) continue;
            for (int chain = 0; chain < 3; ++chain) {  // rotate the successor again, sometimes
                const ModelToken old = model_.tokens[text];
                auto rotated = store_->rotate_token(random_.random_case(owner), password, old.id, kNow, audit);
                ASSERT_TRUE(rotated.ok()) << rotated.status().message();
                ++rotations;
                ModelToken successor = old;
                successor.id = rotated->info.id;
                successor.created_ms = kNow;
                if (old.expires_ms != 0) {
                    const std::int64_t span = old.expires_ms - old.created_ms;
                    const std::int64_t days =
                        std::min<std::int64_t>(std::max<std::int64_t>(1, (span + kDay - 1) / kDay), 3650);
                    successor.expires_ms = kNow + days * kDay;
                }
                successor.family = old.family.empty() ? old.id : old.family;
                model_.tokens[text].rotated = true;
                model_.tokens[text].family = successor.family;
                retired.push_back(text);
                model_.tokens[rotated->text] = successor;
                token_texts_.push_back(rotated->text);
                texts.push_back(rotated->text);
                text = rotated->text;
                wipe(rotated->text);
                if (!random_.chance(0.4)) break;
            }
        }
        if (!retired.empty() && random_.chance(0.6)) {
            const ModelToken& reused = model_.tokens[random_.pick(retired)];
            auto refused = store_->rotate_token(owner, password, reused.id, kNow, audit);
            ASSERT_EQ(refused.status().code(), StatusCode::invalid_argument) << refused.status().message();
            ++reuses;
            for (auto& [other_text, token] : model_.tokens) {
                if (!token.rotated && !token.family.empty() && token.family == reused.family) token.revoked = true;
            }
        }
    }
    std::printf("differential test: %zu owners rotated %zu tokens, %zu reuses revoked a family\n", owners, rotations,
                reuses);
    ASSERT_GT(rotations, 5U);
    ASSERT_GT(reuses, 0U);
}

AccessRequest DifferentialTest::random_request(std::string& token_storage, std::string& basic_storage,
                                               std::string& project_storage, std::string& repo_storage) {
    AccessRequest request;
    // The credential.
    const std::string& known = random_.pick(token_texts_);
    const ModelToken& token = model_.tokens[known];
    const std::size_t kind = random_.below(100);
    if (kind < 82) {
        token_storage = known;
    } else if (kind < 88) {
        token_storage = random_.token_text();  // well-formed, unknown
    } else if (kind < 94) {
        token_storage = known;  // one character changed: a checksum failure
        const std::size_t at = 5 + random_.below(49);
        token_storage[at] = token_storage[at] == 'a' ? 'b' : 'a';
    } else {
        switch (random_.below(5)) {
            case 0: token_storage = known.substr(0, 53); break;
            case 1: token_storage = "xpat_" + known.substr(5); break;
            case 2:
                token_storage = known;
                token_storage[10] = '-';
                break;
            case 3: token_storage = ""; break;
            default: token_storage = known + "A"; break;
        }
    }
    request.token = token_storage;
    if (random_.chance(0.5)) {
        request.has_basic_user = true;
        const std::size_t who = random_.below(100);
        if (who < 75) {
            basic_storage = random_.random_case(token.owner);
        } else if (who < 90) {
            basic_storage = random_.pick(user_names_);
        } else if (who < 95) {
            basic_storage = token.owner + "x";
        } else {
            basic_storage = random_.chance(0.5) ? std::string("not a name") : std::string();
        }
        request.basic_user = basic_storage;
    }

    // The need and its target.
    request.need = kAllNeeds[random_.below(std::size(kAllNeeds))];
    if (request.need == Need::authenticated || request.need == Need::unrecognised_route) return request;
    const std::size_t where = random_.below(100);
    const auto& granted = targets_of_[token.owner];
    if (where < 55 && !granted.empty()) {
        const auto& target = granted[random_.below(granted.size())];
        project_storage = target.first;
        repo_storage = random_.chance(0.8) ? target.second : random_.pick(slugs_);
    } else if (where < 63 && !shared_targets_.empty()) {
        const auto& target = random_.pick(shared_targets_);  // an all-users default or a public target
        project_storage = target.first;
        repo_storage = random_.chance(0.8) ? target.second : random_.pick(slugs_);
    } else if (where < 70) {
        project_storage = "~" + token.owner;  // the owner's personal project
        repo_storage = random_.pick(slugs_);
    } else if (where < 80) {
        project_storage = "~" + random_.pick(user_names_);
        repo_storage = random_.pick(slugs_);
    } else if (where < 95) {
        project_storage = random_.pick(keys_);
        repo_storage = random_.pick(slugs_);
    } else {
        // Not names at all.
        const std::string bad_keys[] = {"1PRJ", "PR J", "", "~", "~bad name", std::string(129, 'K'), "PRJ/1"};
        const std::string bad_slugs[] = {"repo.git", "REPO.GIT", "", ".hidden", "a/b", std::string(129, 'r'), "-x"};
        if (random_.chance(0.5)) {
            project_storage = bad_keys[random_.below(std::size(bad_keys))];
            repo_storage = random_.pick(slugs_);
        } else {
            project_storage = random_.pick(keys_);
            repo_storage = bad_slugs[random_.below(std::size(bad_slugs))];
        }
    }
    project_storage = random_.random_case(project_storage);
    repo_storage = random_.random_case(repo_storage);
    request.project = project_storage;
    if (is_repo_need(request.need)) request.repo = repo_storage;
    return request;
}

std::string describe(const AccessRequest& request, const Model& model) {
    std::ostringstream out;
    const std::string text(request.token);
    auto token = model.tokens.find(text);
    out << "need " << need_name(request.need) << " on '" << request.project << "' / '" << request.repo << "'";
    if (request.has_basic_user) out << ", Basic user '" << request.basic_user << "'";
    if (token == model.tokens.end()) {
        out << ", token not in the store (format " << (model_token_format_valid(text) ? "valid" : "invalid") << ")";
    } else {
        const ModelToken& t = token->second;
        out << ", token " << t.id << " of " << t.owner << " (project " << t.project << ", repo " << t.repo
            << ", expires " << t.expires_ms << (t.revoked ? ", revoked" : "") << (t.deleted ? ", owner deleted" : "")
            << (t.rotated ? ", rotated" : "") << ")";
    }
    return out.str();
}

TEST_F(DifferentialTest, TheDecisionAgreesWithAReferenceModelOfTheReadme) {
    build_store();
    if (HasFatalFailure()) return;
    build_groups();
    if (HasFatalFailure()) return;
    rotate_tokens();
    if (HasFatalFailure()) return;
    change_store();
    if (HasFatalFailure()) return;
    change_groups();
    if (HasFatalFailure()) return;

    std::map<Answer, std::size_t> answers;
    std::map<Reason, std::size_t> reasons;
    std::map<Answer, std::size_t> anonymous_answers;
    std::size_t disagreements = 0;
    std::string token, basic, project, repo;
    for (std::size_t i = 0; i < kRequests; ++i) {
        const AccessRequest request = random_request(token, basic, project, repo);
        // One request in ten comes without credentials (decide_public).
        const bool anonymous = random_.chance(0.1);
        const Answer expected = anonymous ? model_.decide_public(request) : model_.decide(request, kNow);
        const Decision decision =
            anonymous ? store_->decide_public(request, kNow) : store_->decide(hasher_, request, kNow);
        if (anonymous) ++anonymous_answers[expected];
        const Answer actual = real_answer(decision.reason);
        ++answers[expected];
        ++reasons[decision.reason];
        if (actual != expected) {
            if (++disagreements <= 10) {
                ADD_FAILURE() << "request " << i << ": model " << answer_name(expected) << ", store "
                              << answer_name(actual) << " (" << reason_name(decision.reason)
                              << "): " << describe(request, model_);
            }
        }
    }
    std::printf(
        "differential test: seed %llu, %zu users, %zu grants, %zu tokens; %zu requests: "
        "%zu allowed, %zu 401, %zu 403; %zu disagreements\n",
        static_cast<unsigned long long>(kSeed), model_.users.size(),
        model_.project_grants.size() + model_.repo_grants.size(), model_.tokens.size(), kRequests,
        answers[Answer::allow], answers[Answer::unauthenticated], answers[Answer::forbidden], disagreements);
    std::printf("differential test: %zu groups; %zu requests without credentials: %zu allowed, %zu 401\n",
                model_.groups.size(), anonymous_answers[Answer::allow] + anonymous_answers[Answer::unauthenticated],
                anonymous_answers[Answer::allow], anonymous_answers[Answer::unauthenticated]);
    EXPECT_EQ(disagreements, 0U);
    EXPECT_GT(anonymous_answers[Answer::allow], 100U);

    // The random requests reached every way a decision can go (but a store
    // fault): otherwise a broken generator could make the test pass vacuously.
    for (Reason reason :
         {Reason::allowed, Reason::malformed_token, Reason::bad_checksum, Reason::unknown_token, Reason::revoked,
          Reason::expired, Reason::wrong_user, Reason::user_unknown, Reason::user_disabled, Reason::invalid_target,
          Reason::token_level_too_low, Reason::user_level_too_low, Reason::route_not_allowed, Reason::no_credentials,
          Reason::rotated}) {
        EXPECT_GT(reasons[reason], 100U) << "too few requests ended in: " << reason_name(reason);
    }
    EXPECT_EQ(reasons[Reason::store_error], 0U);
}

}  // namespace
}  // namespace pat::testing
