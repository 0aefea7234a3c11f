// The usage file (pat/usage.hpp): one small LMDB environment per object,
// opened when first needed and reopened when its path names another file.
#include "pat/usage.hpp"

#include <lmdb.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "impl.hpp"
#include "pat/token.hpp"

namespace pat {
namespace {

// Group-writable: the nginx workers write it, whoever created it.
constexpr mdb_mode_t kUsageMode = 0660;
// A file that claims a larger map than this was not made by us: refused.
constexpr std::size_t kLargestUsageMap = std::size_t{256} << 20;
constexpr std::size_t kValueBytes = 8;

std::string encode_time(std::int64_t ms) {
    std::string out(kValueBytes, '\0');
    auto v = static_cast<std::uint64_t>(ms);
    for (std::size_t i = 0; i < kValueBytes; ++i) out[kValueBytes - 1 - i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
}

// 0 for anything but an 8-byte value holding a positive time.
std::int64_t decode_time(std::string_view bytes) {
    if (bytes.size() != kValueBytes) return 0;
    std::uint64_t v = 0;
    for (unsigned char c : bytes) v = (v << 8) | c;
    const auto ms = static_cast<std::int64_t>(v);
    return ms > 0 ? ms : 0;
}

struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
};

}  // namespace

struct UsageFile::Impl {
    std::string path;
    Mode mode;
    std::mutex lock;  // one call at a time: the environment is reopened in place
    MDB_env* env = nullptr;
    MDB_dbi dbi = 0;
    bool env_read_only = true;
    FileId file;

    ~Impl() { close(); }

    void close() {
        if (env != nullptr) mdb_env_close(env);
        env = nullptr;
    }

    // Opens the environment for a write (creating the file when the mode
    // allows) or a read. not_found when the file does not exist.
    Status open(bool for_write) {
        struct stat st {};
        bool exists = ::stat(path.c_str(), &st) == 0;
        if (!exists && errno != ENOENT) {
            close();
            return {StatusCode::store_error, "usage file: cannot read " + path + ": " + std::strerror(errno)};
        }
        if (exists && env != nullptr && FileId{st.st_dev, st.st_ino} == file) return Status::success();
        close();  // another file, or none: this process lets go of the old one first
        const bool creating = !exists;
        if (creating && !(for_write && mode == Mode::create)) {
            return {StatusCode::not_found, "usage file: " + path + " does not exist"};
        }
        if (exists && !S_ISREG(st.st_mode)) {
            return {StatusCode::store_error, "usage file: " + path + " is not a regular file"};
        }
        // LMDB trusts its file, and this one is writable by the workers'
        // group: check its meta pages first (a file being created by another
        // process is still empty: LMDB initialises it under its lock).
        if (exists && st.st_size != 0) {
            if (Status s = check_lmdb_file(path); !s.ok()) return s;
        }
        int rc = 0;
        Status opened = open_env(mode == Mode::read_only, rc);
        if (!opened.ok() && rc == EACCES && mode != Mode::read_only && !for_write) {
            // Lookups only need to read: a process that may not write the
            // file (but may write its lock file) still merges.
            opened = open_env(true, rc);
        }
        if (!opened.ok()) return opened;
        if (creating) {
            // mdb_env_open's mode passed through the umask; the workers'
            // group must be able to write both files.
            ::chmod(path.c_str(), kUsageMode);
            ::chmod((path + "-lock").c_str(), kUsageMode);
        }
        if (::stat(path.c_str(), &st) == 0) file = FileId{st.st_dev, st.st_ino};
        return Status::success();
    }

    // rc: mdb_env_open's result (an errno value such as EACCES, or LMDB's).
    Status open_env(bool read_only, int& rc) {
        env_read_only = read_only;
        rc = mdb_env_create(&env);
        if (rc != 0) return lmdb::error("usage file: create environment", rc);
        if ((rc = mdb_env_set_mapsize(env, kUsageFileSize)) != 0) {
            close();
            return lmdb::error("usage file: set map size", rc);
        }
        rc = mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_NOTLS | (read_only ? MDB_RDONLY : 0), kUsageMode);
        if (rc != 0) {
            close();
            return lmdb::error("usage file: open " + path, rc);
        }
        MDB_envinfo info;
        if ((rc = mdb_env_info(env, &info)) != 0 || info.me_mapsize > kLargestUsageMap) {
            close();
            return {StatusCode::store_error, "usage file: " + path + " claims an unexpected size"};
        }
        if (!read_only) {
            int dead = 0;
            mdb_reader_check(env, &dead);
        }
        lmdb::Txn txn;
        rc = txn.begin(env, read_only ? MDB_RDONLY : 0);
        if (rc == 0) rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbi);
        if (rc == 0) rc = txn.commit();
        if (rc != 0) {
            txn.abort();
            close();
            return lmdb::error("usage file: open its table", rc);
        }
        return Status::success();
    }

    // A read transaction; another process may have grown the map.
    int begin_read(lmdb::Txn& txn) {
        int rc = txn.begin(env, MDB_RDONLY);
        if (rc == MDB_MAP_RESIZED) {
            // No transaction of this environment is live (calls run one at
            // a time), so the map may be adopted.
            rc = mdb_env_set_mapsize(env, 0);
            if (rc == 0) rc = txn.begin(env, MDB_RDONLY);
        }
        return rc;
    }
};

UsageFile::UsageFile(std::string store_path, Mode mode) : impl_(std::make_unique<Impl>()) {
    impl_->path = path_for(store_path);
    impl_->mode = mode;
}

UsageFile::~UsageFile() = default;

std::string UsageFile::path_for(std::string_view store_path) {
    return std::string(store_path) + "-usage";
}

const std::string& UsageFile::path() const {
    return impl_->path;
}

Status UsageFile::prepare() {
    std::lock_guard held(impl_->lock);
    if (impl_->mode != Mode::create) return {StatusCode::invalid_argument, "usage file: opened without create"};
    return impl_->open(true);
}

UsageFile::Written UsageFile::record(const std::vector<std::pair<std::string, std::int64_t>>& uses) {
    if (impl_->mode != Mode::create) {
        return {{StatusCode::invalid_argument, "usage file: opened without create"}};
    }
    std::lock_guard held(impl_->lock);
    if (uses.empty()) return {};
    if (Status s = impl_->open(true); !s.ok()) return {s};
    lmdb::Txn txn;
    int rc = txn.begin(impl_->env, 0);
    if (rc == MDB_MAP_RESIZED) {
        rc = mdb_env_set_mapsize(impl_->env, 0);
        if (rc == 0) rc = txn.begin(impl_->env, 0);
    }
    if (rc != 0) return {lmdb::error("usage file: begin write", rc)};
    for (const auto& [id, when] : uses) {
        if (when <= 0 || !is_valid_token_id(id)) continue;
        std::string_view existing;
        rc = lmdb::get(txn.get(), impl_->dbi, id, existing);
        if (rc == 0 && decode_time(existing) >= when) continue;
        if (rc != 0 && rc != MDB_NOTFOUND) break;
        rc = lmdb::put(txn.get(), impl_->dbi, id, encode_time(when));
        if (rc != 0) break;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    if (rc == 0) rc = txn.commit();
    if (rc == MDB_MAP_FULL) {
        return {{StatusCode::store_error, "usage file: " + impl_->path + " is full"}, true};
    }
    if (rc != 0) return {lmdb::error("usage file: write " + impl_->path, rc)};
    return {};
}

Status UsageFile::forget(const std::vector<std::string>& ids) {
    std::lock_guard held(impl_->lock);
    if (impl_->mode == Mode::read_only || ids.empty()) return Status::success();
    Status opened = impl_->open(true);
    if (opened.code() == StatusCode::not_found) return Status::success();
    if (!opened.ok()) return opened;
    if (impl_->env_read_only) return Status::success();  // opened for lookups only
    lmdb::Txn txn;
    int rc = txn.begin(impl_->env, 0);
    if (rc != 0) return lmdb::error("usage file: begin write", rc);
    for (const std::string& id : ids) {
        rc = lmdb::del(txn.get(), impl_->dbi, id);
        if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::error("usage file: forget", rc);
    }
    rc = txn.commit();
    return rc == 0 ? Status::success() : lmdb::error("usage file: commit", rc);
}

std::vector<std::int64_t> UsageFile::lookup(const std::vector<std::string>& ids) {
    std::vector<std::int64_t> found(ids.size(), 0);
    if (ids.empty()) return found;
    std::lock_guard held(impl_->lock);
    if (!impl_->open(false).ok()) return found;
    lmdb::Txn txn;
    if (impl_->begin_read(txn) != 0) return found;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        std::string_view bytes;
        if (lmdb::get(txn.get(), impl_->dbi, ids[i], bytes) == 0) found[i] = decode_time(bytes);
    }
    return found;
}

}  // namespace pat
