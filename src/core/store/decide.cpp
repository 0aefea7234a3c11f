// The decision on the request path. It runs for every protected request:
// no allocation, no write, one read snapshot shared by the decisions made
// while the store does not change.
#include <algorithm>
#include <cstring>

#include "impl.hpp"
#include "pat/decision.hpp"
#include "pat/names.hpp"
#include "records.hpp"

namespace pat {
namespace {

void copy_field(char* out, std::size_t capacity, std::string_view value) noexcept {
    std::size_t n = std::min(value.size(), capacity - 1);
    std::memcpy(out, value.data(), n);
    out[n] = '\0';
}

// Renews the cached read transaction (or begins it the first time). When a
// writer has grown the map beyond ours, LMDB says MDB_MAP_RESIZED: adopt
// the new size and try once more.
int renew_snapshot(Store::Impl& store) noexcept {
    for (int attempt = 0; attempt < 2; ++attempt) {
        int rc = store.cached_read != nullptr ? mdb_txn_renew(store.cached_read)
                                              : mdb_txn_begin(store.env, nullptr, MDB_RDONLY, &store.cached_read);
        if (rc == 0) store.snapshot_live = true;
        if (rc != MDB_MAP_RESIZED) return rc;
        if (store.cached_read != nullptr) {
            mdb_txn_abort(store.cached_read);
            store.cached_read = nullptr;
        }
        rc = mdb_env_set_mapsize(store.env, 0);
        if (rc != 0) return rc;
    }
    return MDB_MAP_RESIZED;
}

// A read transaction showing the newest committed state. The snapshot of
// the previous decision is reused when no write has committed since: LMDB's
// meta page says which transaction is the newest, and a reused snapshot
// keeps its tables open (a renewed transaction must look every named table
// up again, about a third of a decision's LMDB time). When anything was
// committed, the snapshot is renewed, so a revocation is seen by the very
// next decision either way. release_snapshot() ends an idle snapshot so it
// does not keep writers from reusing freed pages.
//
// A renewed snapshot takes its transaction id from PATH-lock, which nginx's
// workers must be able to write (docs/design.md, trust boundaries): a
// process of the workers' user could point readers at the data file's older
// meta page, the state before the last change (a revoked token valid
// again). The data file, which it cannot write, says which transaction is
// newest (mdb_env_info reads its meta pages), so a snapshot that disagrees
// is refused - except in the one legitimate case, a commit in flight, whose
// meta page is written just before PATH-lock is updated. That case is brief
// and only ever moves forward: a snapshot may lag behind a transaction no
// snapshot has agreed with yet, for at most kMaxLagMs. Anything else (the
// lock file ahead of the data file, or behind a transaction already agreed
// with) fails the decision closed.
constexpr std::int64_t kMaxLagMs = 1000;

bool agrees_with_data_file(Store::Impl& store, std::uint64_t newest, std::int64_t now) noexcept {
    const std::uint64_t seen = mdb_txn_id(store.cached_read);
    if (seen == newest) {
        store.agreed_txnid = newest;
        store.lagging_since_ms = 0;
        return true;
    }
    if (seen > newest || newest <= store.agreed_txnid) return false;
    if (store.lagging_since_ms == 0) store.lagging_since_ms = now;
    return now - store.lagging_since_ms <= kMaxLagMs;
}

// 0, or an LMDB error; MDB_BAD_TXN when PATH-lock disagrees with the file.
int current_snapshot(Store::Impl& store, std::int64_t now) noexcept {
    if (store.env == nullptr) return MDB_BAD_TXN;  // a store over the fleet source: decisions are a replica's
    MDB_envinfo info;
    if (mdb_env_info(store.env, &info) != 0) return MDB_BAD_TXN;
    if (store.snapshot_live) {
        if (mdb_txn_id(store.cached_read) == info.me_last_txnid) return 0;
        mdb_txn_reset(store.cached_read);
        store.snapshot_live = false;
    }
    if (const int rc = renew_snapshot(store); rc != 0) return rc;
    if (agrees_with_data_file(store, info.me_last_txnid, now)) return 0;
    mdb_txn_reset(store.cached_read);
    store.snapshot_live = false;
    return MDB_BAD_TXN;
}

// Raises level to the grant stored under key, if any. False when the store
// cannot be read or the grant does not decode.
bool raise_to_grant(MDB_txn* txn, MDB_dbi table, std::string_view key, Level& level) noexcept {
    std::string_view value;
    int rc = lmdb::get(txn, table, key, value);
    if (rc == MDB_NOTFOUND) return true;
    if (rc != 0) return false;
    auto granted = records::decode_level(value);
    if (!granted) return false;
    level = std::max(level, *granted);
    return true;
}

// Raises level to the all-users default of target, and to read when the
// target is public (public access reads for everyone, signed in or not).
bool raise_to_everyone(MDB_txn* txn, const Store::Impl& store, std::string_view target, Level& level) noexcept {
    if (!store.has_groups) return true;  // schema 1, read as it is: no defaults
    std::string_view value;
    int rc = lmdb::get(txn, store.everyone, target, value);
    if (rc == MDB_NOTFOUND) return true;
    if (rc != 0) return false;
    auto everyone = records::decode_everyone(value);
    if (!everyone) return false;
    level = std::max({level, everyone->all_users, everyone->is_public ? Level::read : Level::none});
    return true;
}

// The user's level right now: the highest of their effective level (their
// own grants and their groups', resolved at write time) and the all-users
// default, on the project and (for a repository need) the repository; and
// admin for a sysadmin or the owner of a personal project. At most four
// lookups whatever the number of groups; stops as soon as `required` is
// reached (a project-wide grant costs one lookup).
bool user_level(MDB_txn* txn, const Store::Impl& store, std::string_view user, bool sysadmin, std::string_view key,
                std::string_view slug, Level required, Level& level) noexcept {
    char owner[kMaxUserName + 1];
    if (sysadmin || personal_project_owner(key, owner) == user) {
        level = Level::admin;
        return true;
    }
    level = Level::none;
    char grant_key[records::kMaxGrantKey];
    std::size_t n = records::project_grant_key(user, key, grant_key);
    if (n == 0 || !raise_to_grant(txn, store.effective, {grant_key, n}, level)) return false;
    if (level >= required) return true;
    if (!raise_to_everyone(txn, store, key, level)) return false;
    if (slug.empty() || level >= required) return true;
    n = records::repo_grant_key(user, key, slug, grant_key);
    if (n == 0 || !raise_to_grant(txn, store.effective, {grant_key, n}, level)) return false;
    if (level >= required) return true;
    // The repository's target key is the grant key without "user\0".
    return raise_to_everyone(txn, store, {grant_key + user.size() + 1, n - user.size() - 1}, level);
}

// The chain of checks, in order; the first that fails names the reason.
// Fills the identity (the Decision's private fields, handed in by decide())
// as soon as the token is found. Inlined into decide(): the hot path stays
// one function, as before the split.
[[gnu::always_inline]] inline Reason check_request(Store::Impl& store, TokenHasher& hasher,
                                                   const AccessRequest& request, std::int64_t now,
                                                   char (&token_id)[kTokenIdLength + 1],
                                                   char (&owner)[kMaxUserName + 1]) noexcept {
    switch (check_token_format(request.token)) {
        case TokenFormat::malformed: return Reason::malformed_token;
        case TokenFormat::bad_checksum: return Reason::bad_checksum;
        case TokenFormat::valid: break;
    }
    TokenDigest digest;
    if (!hasher.digest(request.token, digest)) return Reason::store_error;
    if (current_snapshot(store, now) != 0) return Reason::store_error;
    MDB_txn* txn = store.cached_read;

    std::string_view record;
    int rc = lmdb::get(txn, store.tokens, {reinterpret_cast<const char*>(digest.data()), digest.size()}, record);
    if (rc == MDB_NOTFOUND) return Reason::unknown_token;
    auto token = rc == 0 ? records::decode_token(record) : std::nullopt;
    if (!token) return Reason::store_error;
    copy_field(token_id, sizeof token_id, token->id);
    copy_field(owner, sizeof owner, token->owner);

    if (token->revoked) return Reason::revoked;
    if (token->rotated) return Reason::rotated;
    if (token->expires_ms != 0 && now >= token->expires_ms) return Reason::expired;
    if (request.has_basic_user) {
        char basic_user[kMaxUserName];
        std::size_t n = canonical_user_name(request.basic_user, basic_user);
        if (n == 0 || std::string_view(basic_user, n) != token->owner) return Reason::wrong_user;
    }

    rc = lmdb::get(txn, store.users, token->owner, record);
    if (rc == MDB_NOTFOUND) return Reason::user_unknown;
    auto user = rc == 0 ? records::decode_user(record) : std::nullopt;
    if (!user) return Reason::store_error;
    if (!user->active) return Reason::user_disabled;

    const Need need = request.need;
    if (need == Need::authenticated) return Reason::allowed;
    if (need == Need::unrecognised_route) return Reason::route_not_allowed;

    if (need == Need::sysadmin) {
        // No target: the token's level, then the user's global flag.
        if (!token_allows(token->permissions, need)) return Reason::token_level_too_low;
        return user->sysadmin ? Reason::allowed : Reason::user_level_too_low;
    }

    char key[kMaxProjectKey];
    char slug[kMaxRepoSlug];
    std::size_t key_len = canonical_project_key(request.project, key);
    std::size_t slug_len = 0;
    if (is_repo_need(need)) slug_len = canonical_repo_slug(request.repo, slug);
    if (key_len == 0 || (is_repo_need(need) && slug_len == 0)) return Reason::invalid_target;

    if (!token_allows(token->permissions, need)) return Reason::token_level_too_low;
    const Level required = user_level_required(need);
    Level level = Level::none;
    if (!user_level(txn, store, token->owner, user->sysadmin, {key, key_len}, {slug, slug_len}, required, level))
        return Reason::store_error;
    return level >= required ? Reason::allowed : Reason::user_level_too_low;
}

}  // namespace

Decision Store::decide(TokenHasher& hasher, const AccessRequest& request, std::int64_t now) noexcept {
    Decision decision;
    decision.reason = check_request(*impl_, hasher, request, now, decision.token_id_, decision.user_);
    return decision;
}

namespace {

// A request without credentials: only a repository read, only where the
// project or the repository is public.
Reason check_public_read(Store::Impl& store, const AccessRequest& request, std::int64_t now) noexcept {
    if (request.need != Need::repo_read) return Reason::no_credentials;
    char key[kMaxProjectKey];
    char slug[kMaxRepoSlug];
    const std::size_t key_len = canonical_project_key(request.project, key);
    const std::size_t slug_len = canonical_repo_slug(request.repo, slug);
    if (key_len == 0 || slug_len == 0) return Reason::no_credentials;
    if (current_snapshot(store, now) != 0) return Reason::store_error;
    if (!store.has_groups) return Reason::no_credentials;  // schema 1: nothing is public
    char target[records::kMaxGrantKey];
    for (const std::string_view slug_part : {std::string_view(), std::string_view(slug, slug_len)}) {
        const std::size_t n = records::target_key({key, key_len}, slug_part, target);
        if (n == 0) return Reason::no_credentials;
        std::string_view value;
        const int rc = lmdb::get(store.cached_read, store.everyone, {target, n}, value);
        if (rc == MDB_NOTFOUND) continue;
        if (rc != 0) return Reason::store_error;
        const auto everyone = records::decode_everyone(value);
        if (!everyone) return Reason::store_error;
        if (everyone->is_public) return Reason::allowed;
    }
    return Reason::no_credentials;
}

}  // namespace

Decision Store::decide_public(const AccessRequest& request, std::int64_t now) noexcept {
    Decision decision;
    decision.reason = check_public_read(*impl_, request, now);
    return decision;
}

void Store::release_snapshot() noexcept {
    if (impl_->snapshot_live) {
        mdb_txn_reset(impl_->cached_read);
        impl_->snapshot_live = false;
    }
}

}  // namespace pat
