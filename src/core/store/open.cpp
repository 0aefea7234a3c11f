// Opening and creating the store: environment flags, sub-databases, schema.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "access.hpp"
#include "copy.hpp"
#include "impl.hpp"
#include "lmdb_kv.hpp"
#include "pat/token.hpp"

namespace pat {
namespace {

constexpr unsigned kMaxDbs = 32;
constexpr std::string_view kSchemaKey = "schema_version";
// The data file holds password hashes: owner and group only. Workers (the
// group) need read access to it and write access to PATH-lock.
constexpr mdb_mode_t kFileMode = 0640;

struct DbiSlot {
    const char* name;
    MDB_dbi Store::Impl::*slot;
};
constexpr DbiSlot kDatabases[] = {
    {"meta", &Store::Impl::meta},           {"users", &Store::Impl::users},
    {"grants", &Store::Impl::grants},       {"tokens", &Store::Impl::tokens},
    {"token_ids", &Store::Impl::token_ids}, {"user_tokens", &Store::Impl::user_tokens},
    {"audit", &Store::Impl::audit},
};
// Added by schema 2: created with the store, or by the upgrade of a schema-1 store.
constexpr DbiSlot kSchema2Databases[] = {
    {"groups", &Store::Impl::groups},           {"group_members", &Store::Impl::group_members},
    {"user_groups", &Store::Impl::user_groups}, {"group_grants", &Store::Impl::group_grants},
    {"everyone", &Store::Impl::everyone},       {"effective", &Store::Impl::effective},
};

// max_size is set only when the store is created; afterwards every process
// maps the size the file records. The map is never resized while open:
// mdb_env_set_mapsize must not run while any transaction of the process is
// live, and a worker has one on the event loop while thread-pool threads
// write. The file grows only with its data; max_size reserves address space.
// LMDB trusts its file: a truncated copy makes it read past the end of the
// map (SIGBUS) and a zero page size divides by zero, killing the process.
// Before LMDB sees an existing file, check its two meta pages the way LMDB
// 0.9 lays them out (lmdb.h / mdb.c: a 16-byte page header, then MDB_meta)
// and that the file holds every page they claim. Corruption inside the
// pages is beyond this check: the store file must be protected like any
// credential file (see README, "The store").
constexpr std::uint32_t kLmdbMagic = 0xBEEFC0DE;
constexpr std::uint32_t kLmdbDataVersion = 1;
constexpr std::size_t kMetaOffset = 16;   // after the page header
constexpr std::size_t kPageSizeAt = 40;   // mm_dbs[FREE_DBI].md_pad holds the page size
constexpr std::size_t kLastPageAt = 136;  // mm_last_pg
constexpr std::size_t kMetaBytes = 152;   // through mm_txnid

template <typename T>
T read_le(const unsigned char* bytes) {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(bytes[i]) << (8 * i);
    return v;
}

}  // namespace

namespace {

// One look at the file. The meta pages are read before the file's size:
// a writer in another process writes its data pages before the meta page
// that claims them, so a size taken after the metas covers every page they
// name, while a size taken before could miss pages committed in between.
bool lmdb_file_looks_whole(const std::string& path, int& open_errno) {
    FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        open_errno = errno;
        return false;
    }
    unsigned char meta[2][kMetaBytes];
    bool ok = std::fread(meta[0], 1, kMetaBytes, file) == kMetaBytes;
    std::uint32_t page_size = ok ? read_le<std::uint32_t>(meta[0] + kPageSizeAt) : 0;
    ok = ok && read_le<std::uint32_t>(meta[0] + kMetaOffset) == kLmdbMagic &&
         read_le<std::uint32_t>(meta[0] + kMetaOffset + 4) == kLmdbDataVersion && page_size >= 512 &&
         page_size <= 65536 && (page_size & (page_size - 1)) == 0 &&
         std::fseek(file, static_cast<long>(page_size), SEEK_SET) == 0 &&
         std::fread(meta[1], 1, kMetaBytes, file) == kMetaBytes;
    struct stat st {};
    ok = ok && ::fstat(fileno(file), &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= 2ULL * page_size;
    std::fclose(file);
    if (!ok) return false;
    for (const auto& page : meta) {
        // LMDB may use either meta page; both must fit in the file.
        if (read_le<std::uint32_t>(page + kMetaOffset) != kLmdbMagic) return false;
        if (read_le<std::uint32_t>(page + kPageSizeAt) != page_size) return false;
        const auto last_page = read_le<std::uint64_t>(page + kLastPageAt);
        if (last_page >= static_cast<std::uint64_t>(st.st_size) / page_size) return false;
    }
    return true;
}

}  // namespace

Status check_lmdb_file(const std::string& path) {
    // A meta page being rewritten while it is read can look torn; a damaged
    // file looks damaged every time. A few looks, a few milliseconds apart,
    // tell the two apart.
    constexpr int kLooks = 3;
    for (int look = 1;; ++look) {
        int open_errno = 0;
        if (lmdb_file_looks_whole(path, open_errno)) return Status::success();
        if (open_errno != 0) {
            return {StatusCode::store_error, "store: cannot read " + path + ": " + std::strerror(open_errno)};
        }
        if (look == kLooks) break;
        ::usleep(5000);
    }
    return {StatusCode::store_error,
            "store: " + path + " is damaged (truncated or not an LMDB file); restore it from a backup"};
}

namespace {

// Every LMDB reader registers in PATH-lock, so nginx's workers (the store's
// group, docs/install.md) must be able to write it while they may only read
// the data file. LMDB creates the lock file with the data file's mode less
// the umask (0640 under patd's systemd unit), so the writer that owns it
// adds the group's read and write; it never widens the data file, nor what
// others may do.
void let_the_group_register(const std::string& lock_path) {
    struct stat st {};
    if (::stat(lock_path.c_str(), &st) != 0 || st.st_uid != ::geteuid()) return;
    const mode_t mode = st.st_mode & 07777;
    if ((mode & 0060) != 0060) ::chmod(lock_path.c_str(), mode | 0060);
}

Status open_env(Store::Impl& impl, bool read_only, std::size_t max_size = 0) {
    if (max_size == 0) {  // an existing file
        if (Status s = check_lmdb_file(impl.path); !s.ok()) return s;
    }
    int rc = mdb_env_create(&impl.env);
    if (rc != 0) return lmdb::error("create environment", rc);
    mdb_env_set_maxdbs(impl.env, kMaxDbs);
    if (max_size != 0) {
        rc = mdb_env_set_mapsize(impl.env, max_size);
        if (rc != 0) return lmdb::error("set map size", rc);
    }
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS | (read_only ? MDB_RDONLY : 0);
    rc = mdb_env_open(impl.env, impl.path.c_str(), flags, kFileMode);
    if (rc != 0) {
        std::string what = "open " + impl.path;
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
            return {StatusCode::store_error, "store: " + impl.path + " is not an nginx-pat store (not an LMDB file)"};
        }
        return lmdb::error(what, rc);
    }
    impl.read_only = read_only;
    if (!read_only) {
        int dead = 0;
        mdb_reader_check(impl.env, &dead);  // free slots of readers that died
        let_the_group_register(impl.path + "-lock");
    }
    return Status::success();
}

// The failed sign-ins table came after schema 1 first shipped, without a
// new version: a writer adds it to a store made before; until then (or when
// the store is too full to add it) sign-in failures are not counted.
constexpr const char* kSignInFailures = "sign_in_failures";

void add_sign_in_failures(Store::Impl& impl) {
    lmdb::Txn txn;
    if (txn.begin(impl.env, 0) != 0) return;
    if (mdb_dbi_open(txn.get(), kSignInFailures, MDB_CREATE, &impl.sign_in_failures) != 0) return;
    impl.has_sign_in_failures = txn.commit() == 0;
}

Status open_tables(Store::Impl& impl, MDB_txn* txn, const DbiSlot* tables, std::size_t count, bool create) {
    for (std::size_t i = 0; i < count; ++i) {
        const DbiSlot& db = tables[i];
        int rc = mdb_dbi_open(txn, db.name, create ? MDB_CREATE : 0, &(impl.*db.slot));
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            return {StatusCode::store_error, "store: " + impl.path + " is not an nginx-pat store (no '" + db.name +
                                                 "' table; run 'patctl init' to create a store)"};
        }
        if (rc != 0) return lmdb::error(std::string("open table ") + db.name, rc);
    }
    return Status::success();
}

// Schema 1 to 2, inside the opening write transaction: the new tables, and
// every user's own grants as their effective levels (no groups, all-users
// defaults or public flags exist yet, so that is all they hold). One
// transaction: a crash leaves schema 1 whole; readers see either.
Status upgrade_from_schema_1(Store::Impl& impl, MDB_txn* txn) {
    if (Status s = open_tables(impl, txn, kSchema2Databases, std::size(kSchema2Databases), true); !s.ok()) return s;
    std::vector<std::pair<std::string, std::string>> grants;
    int rc = lmdb::scan_prefix(txn, impl.grants, "", [&](std::string_view key, std::string_view value) {
        grants.emplace_back(key, value);
        return true;
    });
    if (rc != 0) return lmdb::error("read grants", rc);
    for (const auto& [key, value] : grants) {
        if ((rc = lmdb::put(txn, impl.effective, key, value)) != 0) return lmdb::error("write effective level", rc);
    }
    const std::string version = std::to_string(kSchemaVersion);
    if ((rc = lmdb::put(txn, impl.meta, kSchemaKey, version)) != 0) return lmdb::error("write schema version", rc);
    LmdbTxn rules(impl, txn, false);
    return append_audit(impl, rules, AuditAction::store_upgraded, {}, {}, {},
                        "schema 1 to " + version + ", " + std::to_string(grants.size()) + " grants");
}

// Opens (creating when asked) every sub-database, then checks the schema;
// a writer upgrades a schema-1 store.
Status open_databases(Store::Impl& impl, bool create) {
    lmdb::Txn txn;
    int rc = txn.begin(impl.env, impl.read_only ? MDB_RDONLY : 0);
    if (rc != 0) return lmdb::error("begin transaction", rc);
    if (Status s = open_tables(impl, txn.get(), kDatabases, std::size(kDatabases), create); !s.ok()) return s;
    rc = mdb_dbi_open(txn.get(), kSignInFailures, create ? MDB_CREATE : 0, &impl.sign_in_failures);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::error(std::string("open table ") + kSignInFailures, rc);
    impl.has_sign_in_failures = rc == 0;
    const std::string version = std::to_string(kSchemaVersion);
    if (create) {
        MDB_val k = lmdb::val(kSchemaKey), v = lmdb::val(version);
        rc = mdb_put(txn.get(), impl.meta, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
            return {StatusCode::already_exists, "store: " + impl.path + " is already an initialised store"};
        }
        if (rc != 0) return lmdb::error("write schema version", rc);
        if (Status s = open_tables(impl, txn.get(), kSchema2Databases, std::size(kSchema2Databases), true); !s.ok())
            return s;
        impl.opened_schema = kSchemaVersion;
        impl.has_groups = true;
    } else {
        std::string_view found;
        rc = lmdb::get(txn.get(), impl.meta, kSchemaKey, found);
        if (rc == MDB_NOTFOUND) {
            return {StatusCode::store_error, "store: " + impl.path + " has no schema version (not an nginx-pat store)"};
        }
        if (rc != 0) return lmdb::error("read schema version", rc);
        if (found == version) {
            if (Status s = open_tables(impl, txn.get(), kSchema2Databases, std::size(kSchema2Databases), false);
                !s.ok())
                return s;
            impl.opened_schema = kSchemaVersion;
            impl.has_groups = true;
        } else if (found == "1") {
            impl.opened_schema = 1;
            if (impl.read_only) {
                impl.effective = impl.grants;  // see impl.hpp
            } else {
                if (Status s = upgrade_from_schema_1(impl, txn.get()); !s.ok()) return s;
                impl.upgraded_from = 1;
                impl.has_groups = true;
            }
        } else {
            return {StatusCode::store_error, "store: " + impl.path + " has schema version " +
                                                 std::string(found.substr(0, 16)) +
                                                 "; this build reads versions 1 and " + version};
        }
    }
    // Commit even when read-only: DBI handles opened in a transaction stay
    // valid for the environment only after a commit.
    rc = txn.commit();
    if (rc != 0) return lmdb::error("commit", rc);
    if (!impl.has_sign_in_failures && !impl.read_only) add_sign_in_failures(impl);
    return Status::success();
}

}  // namespace

Status check_store_copy(const std::string& path) {
    if (Status s = check_lmdb_file(path); !s.ok()) return s;
    Store::Impl impl;
    impl.path = path;
    int rc = mdb_env_create(&impl.env);
    if (rc != 0) return lmdb::error("create environment", rc);
    mdb_env_set_maxdbs(impl.env, kMaxDbs);
    rc = mdb_env_open(impl.env, path.c_str(), MDB_NOSUBDIR | MDB_NOTLS | MDB_RDONLY | MDB_NOLOCK, kFileMode);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
        return {StatusCode::store_error, "store: " + path + " is not an nginx-pat store (not an LMDB file)"};
    }
    if (rc != 0) return lmdb::error("open " + path, rc);
    impl.read_only = true;
    return open_databases(impl, false);
}

Store::Impl::~Impl() {
    if (cached_read != nullptr) mdb_txn_abort(cached_read);
    if (env != nullptr) mdb_env_close(env);
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const {
    return impl_->path;
}

int Store::schema_version() const {
    return impl_->opened_schema == 1 && impl_->upgraded_from == 1 ? kSchemaVersion : impl_->opened_schema;
}

int Store::upgraded_from() const {
    return impl_->upgraded_from;
}

bool Store::schema_outdated() const {
    if (impl_->opened_schema != 1 || !impl_->read_only || impl_->env == nullptr) return false;
    lmdb::Txn txn;
    if (txn.begin(impl_->env, MDB_RDONLY) != 0) return false;
    std::string_view found;
    if (lmdb::get(txn.get(), impl_->meta, kSchemaKey, found) != 0) return false;
    return found != "1";
}

Expected<std::unique_ptr<Store>> Store::create(const std::string& path, std::size_t max_size) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        return Status{StatusCode::already_exists, "store: " + path + " already exists"};
    }
    if (max_size < kMinStoreSize || max_size > kMaxStoreSize) {
        return Status{StatusCode::invalid_argument, "store: the maximum size is 1 MiB to 1 TiB"};
    }
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    if (Status s = open_env(*impl, false, max_size); !s.ok()) {
        const std::size_t slash = path.rfind('/');
        const std::string directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
        if (::stat(directory.c_str(), &st) != 0 && errno == ENOENT) {
            return Status{StatusCode::store_error,
                          "store: cannot create " + path + ": the directory " + directory + " does not exist"};
        }
        return explain_denied_access(path, StoreAccess::create).value_or(s);
    }
    if (Status s = open_databases(*impl, true); !s.ok()) return s;
    impl->engine = std::make_unique<LmdbEngine>(*impl);
    // The usage file now, by whoever sets up the store: the workers, which
    // write it, may not be allowed to create files in its directory. Best
    // effort: they create it themselves when they can.
    UsageFile(path, UsageFile::Mode::create).prepare();
    impl->usage = std::make_unique<UsageFile>(path, UsageFile::Mode::read_write);
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Expected<std::unique_ptr<Store>> Store::open(const std::string& path, Mode mode) {
    // A failure for want of a permission names the file and the permission
    // (access.cpp); EACCES is never "does not exist": a directory on the
    // way may not be entered, and the file may well exist.
    const StoreAccess access = mode == Mode::read_only ? StoreAccess::read : StoreAccess::write;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        const int error = errno;
        if (error == ENOENT) {
            return Status{StatusCode::store_error, "store: " + path + " does not exist (create it with 'patctl init')"};
        }
        const Status plain{StatusCode::store_error, "store: cannot read " + path + ": " + std::strerror(error)};
        return explain_denied_access(path, access).value_or(plain);
    }
    if (!S_ISREG(st.st_mode)) return Status{StatusCode::store_error, "store: " + path + " is not a regular file"};
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    if (Status s = open_env(*impl, mode == Mode::read_only); !s.ok()) {
        return explain_denied_access(path, access).value_or(s);
    }
    if (Status s = open_databases(*impl, false); !s.ok()) return s;
    impl->engine = std::make_unique<LmdbEngine>(*impl);
    impl->usage = std::make_unique<UsageFile>(
        path, mode == Mode::read_only ? UsageFile::Mode::read_only : UsageFile::Mode::read_write);
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

CreatedToken::~CreatedToken() {
    wipe(text);
}

}  // namespace pat
