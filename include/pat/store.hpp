// The token store: one LMDB file (MDB_NOSUBDIR; LMDB adds PATH-lock beside
// it) with named sub-databases (schema 2):
//
//   meta           "schema_version" -> "2"; "token_policy" -> the token policy
//                  (pat/token_policy.hpp; absent: no limits)
//                  "expiry-notified\0" token id -> threshold sent (pat/token_inventory.hpp)
//   users          user name -> user record
//   grants         user "\0" KEY -> level byte            (a user's own project grant)
//                  user "\0" KEY "/" slug -> level byte   (a user's own repository grant)
//   groups         group name -> group record
//   group_members  group "\0" user -> (empty)
//   user_groups    user "\0" group -> (empty)             (the same pairs, by user)
//   group_grants   group "\0" KEY[ "/" slug] -> level byte
//   everyone       KEY[ "/" slug] -> all-users level byte, flags byte (1: public)
//   effective      user "\0" KEY[ "/" slug] -> level byte: the highest of the
//                  user's own grant and their groups' grants on exactly that
//                  target, rewritten in the transaction of every change of a
//                  grant, a group or a membership (src/core/store/effective.cpp)
//   tokens         SHA-256 digest (32 bytes) -> token record (format 1; format 2
//                  for a token a rotation made or replaced: a rotated flag and
//                  the family's first token id; src/core/store/records.cpp)
//   token_ids      token id -> digest
//   user_tokens    user "\0" token id -> (empty)   (listing and deletion by owner)
//   audit          8-byte big-endian sequence (time_ms << 16 | n) -> audit record
//   sign_in_failures  hour, user, actor, address -> count, first and last
//                  (failed passwords; at most 1024 rows: src/core/store/audit.cpp)
//
// The request path reads effective and everyone only: a user in fifty
// groups costs what a user in none does (at most two lookups for a project,
// four for a repository, besides the token and the user).
//
// Schema 1 (before groups) had no groups, group_members, user_groups,
// group_grants, everyone or effective table. A writer (read_write open)
// upgrades such a store in place, once, in one transaction (upgraded_from()
// tells); a reader reads it as it is (the grants are then the effective
// levels) and Store::schema_outdated() tells it to reopen after an upgrade.
// Any other schema is refused.
//
// Every change is one write transaction with default (synchronous) flags, so
// when a call returns the change is on disk and the next reader sees it.
//
// Space: the last 1/32 of the maximum size (at least 512 KiB, at most
// 64 MiB) is a reserve that only the changes taking access away may use:
// revoke_token, set_user_active(false), removing grants, memberships and
// public access, delete_group and prune_audit (and the family revocation of
// a reused rotation, rotate_token). Any other change is refused
// with "store: full" once only the reserve is left, so a full store can
// always still revoke. Stores made before the reserve have it too (it
// follows from the size).
//
// Threads: one thread may call decide() and release_snapshot() while other
// threads call the other methods; each of those uses its own transactions
// (write transactions queue on LMDB's writer lock). A process needs one
// Store per file: LMDB forbids opening one file twice in a process. (The
// store's usage file, which a Store opens when it lists, is not LMDB: any
// number of objects may open it.)
//
// The nginx workers open the store read_only; patd and patctl write it.
//
// Engines (pat/kv.hpp): the tables above are kv::Tables, and the rules
// (users, grants, groups, tokens, audit, apply, directory sync) read and
// write them through a kv::Engine only: LMDB's for a store opened from a
// file (open/create; engine() gives it, e.g. to the fleet follower, which
// writes its changes and put_replica_state in one engine().write), or the
// one given to Store::over (the fleet's PostgreSQL source). What only LMDB
// has stays LMDB-native and answers a store_error on Store::over: decide()
// and decide_public() (the request path: no virtual call), backup_to,
// bulk_load, check_lock_region and the usage file. A fleet replica also has
// its own LMDB table "replica" (pat/replica.hpp), which is not a kv::Table.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pat/audit.hpp"
#include "pat/decision.hpp"
#include "pat/password.hpp"
#include "pat/permission.hpp"
#include "pat/replica.hpp"
#include "pat/status.hpp"
#include "pat/token_policy.hpp"

namespace pat {

namespace kv {
class Engine;
class Txn;
}  // namespace kv
class LmdbEngine;

inline constexpr int kSchemaVersion = 2;

// The store's maximum size, fixed at creation (address space reserved by
// every process that opens it; the file grows only with its data). 16 GiB
// holds over ten million tokens.
inline constexpr std::size_t kDefaultStoreSize = std::size_t{16} << 30;
inline constexpr std::size_t kMinStoreSize = std::size_t{1} << 20;
inline constexpr std::size_t kMaxStoreSize = std::size_t{1} << 40;

// Where a user came from: made here (patctl, apply), or by the directory
// (first sign-in with a directory password, `patctl directory sync`).
enum class UserSource : std::uint8_t { local, directory };

struct UserInfo {
    std::string name;
    std::string display_name;
    bool active = true;
    bool sysadmin = false;
    UserSource source = UserSource::local;
    // A password of the store's own: such a user signs in here only, never
    // through the directory (pat/sign_in.hpp).
    bool has_password = false;
};

std::string_view user_source_name(UserSource source);  // "local", "directory"

// What create_token refuses before any password is checked (invalid_argument):
// a bad name, permissions or expiry. Callers that sign in first ask it
// before the sign-in, so that a bad request never costs a password check.
Status check_token_request(std::string_view name, std::optional<TokenPermissions> permissions,
                           std::optional<int> expiry_days);

class SignIn;             // pat/sign_in.hpp
struct TokenSelection;    // pat/token_inventory.hpp
struct ExpiryNotice;      // pat/token_inventory.hpp
struct ExpiryNoticesDue;  // pat/token_inventory.hpp

// What the directory says (pat/directory.hpp's lists, without the network):
// the input of Store::apply_directory. Names canonical.
struct DirectorySnapshot {
    struct User {
        std::string name;
        std::string display_name;
    };
    struct Group {
        std::string name;
        std::vector<std::string> members;
    };
    std::vector<User> users;
    std::vector<Group> groups;
};

// Who a grant is given to: one user, one group, or every signed-in user
// (Bitbucket's "all licensed users" default of a project or repository).
enum class GranteeKind : std::uint8_t { user, group, all_users };

struct Grantee {
    GranteeKind kind = GranteeKind::user;
    std::string name;  // the user or the group; empty for all_users

    static Grantee user(std::string name) { return {GranteeKind::user, std::move(name)}; }
    static Grantee group(std::string name) { return {GranteeKind::group, std::move(name)}; }
    static Grantee all_users() { return {GranteeKind::all_users, {}}; }
};

struct GrantInfo {
    std::string user;     // the grantee's canonical name: a user or a group; empty for all users
    std::string project;  // canonical KEY
    std::string repo;     // canonical slug; empty for a project grant
    Level level = Level::none;
    GranteeKind kind = GranteeKind::user;
    std::size_t line = 0;  // where a permissions file names it (apply's errors); 0: nowhere
};

struct GroupInfo {
    std::string name;
    std::size_t members = 0;
};

// A project or repository readable without credentials.
struct PublicTarget {
    std::string project;  // canonical KEY
    std::string repo;     // canonical slug; empty for the whole project
    std::size_t line = 0;
};

// Why a user has the level they have on a target (patctl check): the grant
// that decided, the highest one; on a tie the most specific (sysadmin,
// personal project, the user's own grant, a group's (first by name), all
// users, public access; a repository grant before its project's).
struct LevelSource {
    enum class Kind : std::uint8_t {
        none,
        sysadmin,
        personal_project,
        user_grant,
        group_grant,
        all_users,
        public_access
    };
    Kind kind = Kind::none;
    Level level = Level::none;
    std::string group;    // group_grant: the group
    std::string project;  // the grant's target (canonical); empty for sysadmin
    std::string repo;     // empty for a project grant
};
// "via group \"backend\" on project WORK", "via the sysadmin flag", ...
std::string describe_level_source(const LevelSource& source);

// Everything a permissions file states (patctl apply / export): users
// (never passwords), groups with their members, grants of every kind and
// public access. Names are canonical after Store::export_state; apply
// canonicalises what it is given.
struct PermissionsState {
    struct User {
        std::string name;
        std::string display_name;  // empty: the name
        bool sysadmin = false;
        bool active = true;
        std::size_t line = 0;
    };
    struct Member {
        std::string name;
        std::size_t line = 0;
    };
    struct Group {
        std::string name;
        std::vector<Member> members;
        std::size_t line = 0;
    };
    std::vector<User> users;
    std::vector<Group> groups;
    std::vector<GrantInfo> grants;
    std::vector<PublicTarget> public_targets;
};

struct ApplyOptions {
    bool dry_run = false;  // compute and report the changes, write nothing
    bool prune = false;    // remove what the state does not name (users: disabled, never deleted; never tokens)
};

struct TokenInfo {
    std::string id;
    std::string owner;
    std::string name;
    TokenPermissions permissions;
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;             // 0: never
    std::int64_t last_authenticated_ms = 0;  // 0: never
    // The client addresses of the last uses (at most 5 distinct, most recent
    // first), from the usage file (pat/usage.hpp) or the fleet's pat_usage.
    std::vector<std::string> last_used_ips;
};

// A token revoked by its text (Store::revoke_tokens_by_value).
struct RevokedByValue {
    std::string id;
    std::string owner;
};

// The result of a creation: the text exists only here. Wipe it after showing.
struct CreatedToken {
    TokenInfo info;
    std::string text;
    ~CreatedToken();
};

// Who asks for a change of existing tokens. The sysadmin running patctl on
// the server acts as the system; the management API acts as the signed-in
// user. Nobody acts for token creation: only the owner's password creates.
struct Actor {
    std::string user;  // canonical; empty for the system
    bool sysadmin = false;

    static Actor system() { return Actor{"", true}; }
};

struct TokenChange {
    std::optional<Level> project;
    std::optional<Level> repo;
    std::optional<std::string> name;
};

class Store {
   public:
    enum class Mode { read_only, read_write };

    // Creates a new, empty store of the current schema. Refuses an existing
    // one. A store that reaches max_size refuses further changes, cleanly.
    static Expected<std::unique_ptr<Store>> create(const std::string& path, std::size_t max_size = kDefaultStoreSize);
    // Opens an existing store; refuses one of an unknown schema version.
    // A writer (read_write) upgrades a schema-1 store in place (one
    // transaction; upgraded_from() says so) and clears stale reader slots
    // (mdb_reader_check).
    static Expected<std::unique_ptr<Store>> open(const std::string& path, Mode mode);

    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& path() const;
    // The schema the store has now: 1 (read-only, not upgraded yet) or 2.
    int schema_version() const;
    // The schema this open upgraded the store from (1), or 0 when it did not.
    int upgraded_from() const;
    // True when this store was opened (read-only) at schema 1 and a writer
    // has upgraded the file since: close it and open it again, to see group
    // grants, all-users defaults and public access. Reads the file's meta
    // table (a short read transaction); false when it cannot tell.
    bool schema_outdated() const;
    // Whether LMDB's lock file (PATH-lock) describes this data file: ok, or
    // a store_error when the file was replaced while some process kept the
    // lock file open (readers would see an older state of this file). Close
    // the store and open it again later. See src/core/store/lock_region.cpp.
    Status check_lock_region() const;

    // ---- the request path: no allocation, no write, one read snapshot, never throws ----
    // Sees every change committed before the call. Consecutive decisions
    // share one snapshot while nothing is committed (see src/core/store/decide.cpp).
    Decision decide(TokenHasher& hasher, const AccessRequest& request, std::int64_t now_ms) noexcept;
    // A request without credentials: allowed (with no identity) only for a
    // repo-read need on a public repository or a repository of a public
    // project; otherwise no_credentials (401), or store_error. Same snapshot
    // rules as decide().
    Decision decide_public(const AccessRequest& request, std::int64_t now_ms) noexcept;
    // Ends the snapshot decide() keeps between calls. Call it when idle (the
    // module does, once a second): an open snapshot keeps writers from
    // reusing the pages they free, so the file would grow.
    void release_snapshot() noexcept;

    // ---- users ----
    Status add_user(std::string_view name, std::string_view display_name, bool sysadmin, std::string_view password,
                    const AuditContext& audit = {});
    Status set_password(std::string_view name, std::string_view password, const AuditContext& audit = {});
    Status set_user_active(std::string_view name, bool active, const AuditContext& audit = {});
    // Also deletes the user's grants and tokens.
    Status delete_user(std::string_view name, const AuditContext& audit = {});
    Expected<std::vector<UserInfo>> list_users();
    Expected<UserInfo> get_user(std::string_view name);
    // A user who has no password (made by apply, or by the directory): they
    // sign in only through the directory. Audited like add_user.
    Status add_user_without_password(std::string_view name, std::string_view display_name, bool sysadmin,
                                     const AuditContext& audit = {});
    // Refused (not an error of the store) when the user is unknown, disabled
    // or the password is wrong; all three give the same message and take the
    // same time. A refusal is counted as password-failed in the bounded
    // failure table (a write that never grows the store past its bound;
    // callers facing the network throttle attempts before they get here).
    Status authenticate_user(std::string_view name, std::string_view password, const AuditContext& audit = {});
    // After the directory accepted `name`'s password (pat/sign_in.hpp): in
    // one write transaction, the user as the store holds them, created
    // (source directory, no password) when absent. A disabled user is
    // refused with authenticate_user's answer, and counted like it.
    Expected<UserInfo> admit_directory_user(std::string_view name, std::string_view display_name,
                                            const AuditContext& audit = {});
    // A password the directory refused: counted in the failure table like
    // authenticate_user's refusals. Returns that refusal.
    Status refuse_sign_in(std::string_view name, const AuditContext& audit = {});

    // ---- grants ----
    Status grant_project(std::string_view user, std::string_view key, Level level, const AuditContext& audit = {});
    Status grant_repo(std::string_view user, std::string_view key, std::string_view slug, Level level,
                      const AuditContext& audit = {});
    Status revoke_project_grant(std::string_view user, std::string_view key, const AuditContext& audit = {});
    Status revoke_repo_grant(std::string_view user, std::string_view key, std::string_view slug,
                             const AuditContext& audit = {});
    // All users' own grants, or one user's.
    Expected<std::vector<GrantInfo>> list_grants(std::optional<std::string_view> user);

    // Grants of any kind (project: slug empty). A group or user must exist.
    Status set_grant(const Grantee& grantee, std::string_view key, std::string_view slug, Level level,
                     const AuditContext& audit = {});
    Status remove_grant(const Grantee& grantee, std::string_view key, std::string_view slug,
                        const AuditContext& audit = {});
    // One grantee's grants (a user's own, a group's, or the all-users defaults).
    Expected<std::vector<GrantInfo>> list_grants_of(const Grantee& grantee);
    // The user's level on a project (slug empty) or repository right now, and
    // the grant that gives it: what decide() compares with the need.
    Expected<LevelSource> explain_level(std::string_view user, std::string_view key, std::string_view slug);

    // ---- groups ----
    Status add_group(std::string_view name, const AuditContext& audit = {});
    // Also removes its memberships and grants.
    Status delete_group(std::string_view name, const AuditContext& audit = {});
    Expected<std::vector<GroupInfo>> list_groups();
    Expected<std::vector<std::string>> list_group_members(std::string_view group);
    Expected<std::vector<std::string>> list_user_groups(std::string_view user);
    // All or nothing: every user must exist; adding a member twice or
    // removing a non-member is an error naming them.
    Status add_group_members(std::string_view group, const std::vector<std::string>& users,
                             const AuditContext& audit = {});
    Status remove_group_members(std::string_view group, const std::vector<std::string>& users,
                                const AuditContext& audit = {});

    // ---- public access (anonymous read) ----
    Status set_public(std::string_view key, std::string_view slug, bool on, const AuditContext& audit = {});
    Expected<std::vector<PublicTarget>> list_public();

    // ---- permissions as a file (patctl apply / export) ----
    // Makes the store say what state says, in one transaction, and returns
    // the changes, one line each ("add user bob", "grant group backend write
    // on project WORK"); none when it already does. Errors name the entry
    // (and its line, when set). dry_run: nothing is written.
    Expected<std::vector<std::string>> apply(const PermissionsState& state, const ApplyOptions& options,
                                             const AuditContext& audit = {});
    // `patctl directory sync`, in one write transaction: users the directory
    // has and the store does not are created (source directory, no
    // password); users of source directory it no longer has are disabled
    // (never deleted; local users are never touched); each directory group
    // is created (source directory) and its members made exactly the
    // directory's (store users only); a group of source directory the
    // directory no longer has is emptied (its grants kept); a local group of
    // the same name is left alone. Returns the changes, one line each.
    // dry_run: nothing is written.
    Expected<std::vector<std::string>> apply_directory(const DirectorySnapshot& snapshot, bool dry_run,
                                                       const AuditContext& audit = {});
    // The state as apply reads it, sorted: apply(export_state()) changes nothing.
    Expected<PermissionsState> export_state();

    // ---- tokens ----
    // The owner proves who they are with their password; there is no other
    // way to create a token. Omitted permissions default to admin/admin (the
    // user's own level caps them at request time). expiry_days: 1..3650.
    Expected<CreatedToken> create_token(std::string_view owner, std::string_view password, std::string_view name,
                                        std::optional<TokenPermissions> permissions, std::optional<int> expiry_days,
                                        std::int64_t now_ms, const AuditContext& audit = {});
    // The same for a user sign_in() accepted (a directory user has no
    // password here to check again); refused unless signed_in.ok().
    Expected<CreatedToken> create_token(const SignIn& signed_in, std::string_view name,
                                        std::optional<TokenPermissions> permissions, std::optional<int> expiry_days,
                                        std::int64_t now_ms, const AuditContext& audit = {});
    // All tokens, or one user's; ordered by owner then creation. Listing,
    // get_token and modify_token show last_authenticated_ms as the newer of
    // the token's record and the usage file (pat/usage.hpp), where the nginx
    // workers write uses; a missing or damaged usage file is no error.
    Expected<std::vector<TokenInfo>> list_tokens(std::optional<std::string_view> owner);
    Expected<TokenInfo> get_token(std::string_view id);
    // The owner or a sysadmin; anyone else gets not_found (no existence leak).
    Expected<TokenInfo> modify_token(const Actor& actor, std::string_view id, const TokenChange& change,
                                     const AuditContext& audit = {});
    // Also drops the token's usage-file entry (best effort; delete_user does
    // the same for the user's tokens).
    Status revoke_token(const Actor& actor, std::string_view id, const AuditContext& audit = {});
    // Revoking by the token's text, for whoever holds a leaked one (no
    // actor: knowing the token is the authority). Every entry is hashed and
    // looked up, whatever its shape; the live tokens among them are revoked
    // as revoke_token does, in one write transaction (usable on a full
    // store), each audited token-revoked with detail "by value". Returns the
    // tokens revoked (malformed, unknown, already revoked: none).
    Expected<std::vector<RevokedByValue>> revoke_tokens_by_value(const std::vector<std::string_view>& texts,
                                                                 const AuditContext& audit = {});
    // One token: invalid_argument when it is not a token's format or
    // checksum, not_found when no live token has it.
    Expected<RevokedByValue> revoke_token_by_value(std::string_view text, const AuditContext& audit = {});

    // Rotation (src/core/store/rotate.cpp, docs/token-lifecycle.md): only
    // the owner, proving who they are as for create_token (nobody rotates a
    // token of someone else: not_found, as for a token that does not exist).
    // Returns a new token with the same name and permissions and an expiry
    // of the same number of days (none stays none), made by the creation's
    // rules; the old token is refused from the next request on (Reason::
    // rotated) and no longer listed. Rotating a token that was already
    // rotated away revokes every live token of its family (every token
    // rotated from the same original; one token-family-revoked audit entry
    // each) and answers invalid_argument, naming them.
    Expected<CreatedToken> rotate_token(std::string_view owner, std::string_view password, std::string_view id,
                                        std::int64_t now_ms, const AuditContext& audit = {});
    Expected<CreatedToken> rotate_token(const SignIn& signed_in, std::string_view id, std::int64_t now_ms,
                                        const AuditContext& audit = {});
    // The owner of a token rotate_token would consider (live, or rotated
    // away; not revoked), whose password patctl then asks for; not_found
    // otherwise.
    Expected<std::string> rotation_owner(std::string_view id);

    // Record uses in the store itself, in one write transaction; unknown ids
    // are skipped. The nginx workers never call it: they only read the store
    // and write uses to the usage file (pat/usage.hpp).
    Status record_token_uses(const std::vector<std::pair<std::string, std::int64_t>>& uses);

    // ---- token inventory and expiry warnings (pat/token_inventory.hpp) ----
    // The tokens list_tokens(selection.owner) lists that the selection
    // selects at now_ms (with their last use merged in, as listed).
    Expected<std::vector<TokenInfo>> select_tokens(const TokenSelection& selection, std::int64_t now_ms);
    // Revokes every selected token in one write transaction, one
    // token-revoked audit entry each (its detail names the selection), and
    // drops their expiry-warning rows; uses the reserve (works on a full
    // store). A selection without any criterion is refused. dry_run: writes
    // nothing. Returns the tokens (would be) revoked; a token revoked
    // meanwhile by someone else is left out.
    Expected<std::vector<TokenInfo>> revoke_selected_tokens(const TokenSelection& selection, std::int64_t now_ms,
                                                            bool dry_run, const AuditContext& audit = {});
    // The warnings due at now_ms for thresholds (ascending days): live tokens
    // with an expiry, of active owners, for which expiry_threshold_due says
    // so given their expiry-warning row; and the rows gone stale. One read.
    Expected<ExpiryNoticesDue> expiry_notices_due(const std::vector<int>& thresholds, std::int64_t now_ms);
    // After the warning went out: its row (threshold) and a
    // token-expiry-warned audit entry, in one write transaction. not_found
    // when the token was revoked meanwhile.
    Status record_expiry_notice(const ExpiryNotice& notice, const AuditContext& audit = {});
    // Deletes these tokens' expiry-warning rows (stale ones), one write
    // transaction; not audited (the rows are the notifier's bookkeeping).
    Status forget_expiry_notices(const std::vector<std::string>& ids);

    // ---- audit ----
    // Newest first; entries about the user or made by them when user is set.
    // Failed sign-ins appear as one password-failed entry per user, actor,
    // address and hour, at the time of the last one.
    Expected<std::vector<AuditEntry>> list_audit(std::optional<std::string_view> user, std::size_t limit);
    // Deletes the entries (and failed sign-in rows) older than before_ms and
    // records the prune itself (audit-pruned, with the count). Uses the
    // reserve: works on a full store. Returns how many were deleted.
    Expected<std::size_t> prune_audit(std::int64_t before_ms, const AuditContext& audit = {});

    // ---- token policy (pat/token_policy.hpp) ----
    // The policy now: the defaults (no limit) when none was ever set; a
    // store_error when its record is damaged (creation then fails closed).
    Expected<TokenPolicy> token_policy();
    // Applies update to the policy in one write transaction, audited as
    // policy-changed with what changed ("max-expiry-days:none->90"); nothing
    // is written when nothing changes. invalid_argument for a policy that
    // validate_token_policy refuses. Existing tokens stay as they are: the
    // result counts those beyond the new maxima (now_ms: what is live).
    Expected<TokenPolicyChange> set_token_policy(const TokenPolicyUpdate& update, std::int64_t now_ms,
                                                 const AuditContext& audit = {});

    // ---- backup (patctl backup) ----
    // Writes a consistent copy of this store, as of one read snapshot (writers
    // go on meanwhile), to dest: page for page (not compacted), into a new
    // file in dest's directory, mode 0600, synced, then renamed to dest. An
    // existing dest is refused unless replace; dest may not be this store or
    // one of the files LMDB and the workers keep beside it. Nothing is opened
    // at dest with LMDB (no dest-lock appears), and the usage file is not
    // copied (it holds only last-use times). On failure nothing is left.
    Status backup_to(const std::string& dest, bool replace);

    // ---- bulk seeding (benchmarks and soak tests; no CLI or API exposes it) ----
    // Writes users (all with one password hash), grants and tokens whose text
    // the caller generated, in write transactions of at most batch_size
    // records each: a crash leaves whole batches, never a partial record.
    // Returns the new tokens' ids in input order. Not audited.
    struct BulkLoad {
        struct User {
            std::string name;
            bool sysadmin = false;
        };
        std::vector<User> users;
        PasswordHash password;
        std::vector<GrantInfo> grants;  // of users and groups
        struct Group {
            std::string name;
            std::vector<std::string> members;
        };
        std::vector<Group> groups;
        struct Token {
            std::string owner;
            std::string name;
            TokenPermissions permissions;
            std::string text;  // wiped by the caller
            std::int64_t created_ms = 0;
            std::int64_t expires_ms = 0;
        };
        std::vector<Token> tokens;
    };
    Expected<std::vector<std::string>> bulk_load(const BulkLoad& load, std::size_t batch_size = 50'000);

    // ---- fleet mode (docs/fleet.md) ----
    // A store whose records live in another engine (the fleet's PostgreSQL
    // source, src/fleet/): the same rules, reads and writes; decide(),
    // backup_to, bulk_load and the usage file are LMDB's only and answer
    // with a store_error. Refuses an engine whose meta holds another schema.
    static Expected<std::unique_ptr<Store>> over(std::unique_ptr<kv::Engine> engine);
    // The engine the rules run over: the follower applies change-log rows
    // through it, fleet import and verify read every table through it.
    kv::Engine& engine();
    // The replica's own state (pat/replica.hpp); nullopt on a single-host
    // store. One short read transaction.
    Expected<std::optional<ReplicaState>> replica_state();
    // Writes the replica state, inside a write transaction of engine() (the
    // follower's, with the changes it applies). LMDB stores only.
    Status put_replica_state(kv::Txn& txn, const ReplicaState& state);

    struct Impl;

   private:
    friend class LmdbEngine;  // LmdbEngine::open keeps a Store of its own
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// patctl restore: replaces the store at store_path with the copy at source.
// source must be a whole LMDB file holding an nginx-pat store of this
// schema; it is checked without creating anything beside it (no
// source-lock). It is copied to a new file in the store's directory with the
// current store's owner, group and mode (when the store is absent: the
// directory's owner and group, mode 0640; the owner is given only when
// running as root), synced, checked again and renamed over store_path: every
// reader sees either the old store or the new one. Any failure before the
// rename leaves everything as it was. The usage file is left as it is.
//
// Then it waits up to `wait` until the store's lock file agrees with the new
// file (the workers and patd let go of the old one within about a second;
// Store::check_lock_region): in_use tells whether it did.
struct Restored {
    bool in_use = false;
};
Expected<Restored> restore_store(const std::string& source, const std::string& store_path, std::int64_t wait_ms);

// Milliseconds since the epoch, from the system clock.
std::int64_t now_ms();

}  // namespace pat
