// The token store: one LMDB file (MDB_NOSUBDIR; LMDB adds PATH-lock beside
// it) with named sub-databases:
//
//   meta           "schema_version" -> "1"
//   users          user name -> user record
//   grants         user "\0" KEY -> level byte            (a project grant)
//                  user "\0" KEY "/" slug -> level byte   (a repository grant)
//                  (one table: the request path touches as few tables as it can)
//   tokens         SHA-256 digest (32 bytes) -> token record
//   token_ids      token id -> digest
//   user_tokens    user "\0" token id -> (empty)   (listing and deletion by owner)
//   audit          8-byte big-endian sequence (time_ms << 16 | n) -> audit record
//   sign_in_failures  hour, user, actor, address -> count, first and last
//                  (failed passwords; at most 1024 rows: src/core/store/audit.cpp)
//
// Every change is one write transaction with default (synchronous) flags, so
// when a call returns the change is on disk and the next reader sees it.
//
// Space: the last 1/32 of the maximum size (at least 512 KiB, at most
// 64 MiB) is a reserve that only the changes taking access away may use:
// revoke_token, set_user_active(false), revoke_*_grant and prune_audit. Any
// other change is refused with "store: full" once only the reserve is left,
// so a full store can always still revoke. Stores made before the reserve
// have it too (it follows from the size).
//
// Threads: one thread may call decide() and release_snapshot() while other
// threads call the other methods; each of those uses its own transactions
// (write transactions queue on LMDB's writer lock). A process needs one
// Store per file: LMDB forbids opening one file twice in a process. (The
// store's usage file, which a Store opens when it lists, is not LMDB: any
// number of objects may open it.)
//
// The nginx workers open the store read_only; patd and patctl write it.
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
#include "pat/status.hpp"

namespace pat {

inline constexpr int kSchemaVersion = 1;

// The store's maximum size, fixed at creation (address space reserved by
// every process that opens it; the file grows only with its data). 16 GiB
// holds over ten million tokens.
inline constexpr std::size_t kDefaultStoreSize = std::size_t{16} << 30;
inline constexpr std::size_t kMinStoreSize = std::size_t{1} << 20;
inline constexpr std::size_t kMaxStoreSize = std::size_t{1} << 40;

struct UserInfo {
    std::string name;
    std::string display_name;
    bool active = true;
    bool sysadmin = false;
};

struct GrantInfo {
    std::string user;
    std::string project;  // canonical KEY
    std::string repo;     // canonical slug; empty for a project grant
    Level level = Level::none;
};

struct TokenInfo {
    std::string id;
    std::string owner;
    std::string name;
    TokenPermissions permissions;
    std::int64_t created_ms = 0;
    std::int64_t expires_ms = 0;             // 0: never
    std::int64_t last_authenticated_ms = 0;  // 0: never
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
    // Opens an existing store; refuses one of another schema version.
    // A writer (read_write) also clears stale reader slots (mdb_reader_check).
    static Expected<std::unique_ptr<Store>> open(const std::string& path, Mode mode);

    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& path() const;
    // Whether LMDB's lock file (PATH-lock) describes this data file: ok, or
    // a store_error when the file was replaced while some process kept the
    // lock file open (readers would see an older state of this file). Close
    // the store and open it again later. See src/core/store/lock_region.cpp.
    Status check_lock_region() const;

    // ---- the request path: no allocation, no write, one read snapshot, never throws ----
    // Sees every change committed before the call. Consecutive decisions
    // share one snapshot while nothing is committed (see src/core/store/decide.cpp).
    Decision decide(TokenHasher& hasher, const AccessRequest& request, std::int64_t now_ms) noexcept;
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
    // Refused (not an error of the store) when the user is unknown, disabled
    // or the password is wrong; all three give the same message and take the
    // same time. A refusal is counted as password-failed in the bounded
    // failure table (a write that never grows the store past its bound;
    // callers facing the network throttle attempts before they get here).
    Status authenticate_user(std::string_view name, std::string_view password, const AuditContext& audit = {});

    // ---- grants ----
    Status grant_project(std::string_view user, std::string_view key, Level level, const AuditContext& audit = {});
    Status grant_repo(std::string_view user, std::string_view key, std::string_view slug, Level level,
                      const AuditContext& audit = {});
    Status revoke_project_grant(std::string_view user, std::string_view key, const AuditContext& audit = {});
    Status revoke_repo_grant(std::string_view user, std::string_view key, std::string_view slug,
                             const AuditContext& audit = {});
    // All grants, or one user's.
    Expected<std::vector<GrantInfo>> list_grants(std::optional<std::string_view> user);

    // ---- tokens ----
    // The owner proves who they are with their password; there is no other
    // way to create a token. Omitted permissions default to admin/admin (the
    // user's own level caps them at request time). expiry_days: 1..3650.
    Expected<CreatedToken> create_token(std::string_view owner, std::string_view password, std::string_view name,
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

    // Record uses in the store itself, in one write transaction; unknown ids
    // are skipped. The nginx workers never call it: they only read the store
    // and write uses to the usage file (pat/usage.hpp).
    Status record_token_uses(const std::vector<std::pair<std::string, std::int64_t>>& uses);

    // ---- audit ----
    // Newest first; entries about the user or made by them when user is set.
    // Failed sign-ins appear as one password-failed entry per user, actor,
    // address and hour, at the time of the last one.
    Expected<std::vector<AuditEntry>> list_audit(std::optional<std::string_view> user, std::size_t limit);
    // Deletes the entries (and failed sign-in rows) older than before_ms and
    // records the prune itself (audit-pruned, with the count). Uses the
    // reserve: works on a full store. Returns how many were deleted.
    Expected<std::size_t> prune_audit(std::int64_t before_ms, const AuditContext& audit = {});

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
        std::vector<GrantInfo> grants;
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

    struct Impl;

   private:
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
