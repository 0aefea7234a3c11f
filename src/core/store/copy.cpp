// patctl backup and restore (pat/store.hpp: Store::backup_to, restore_store).
//
// Both write a new file beside their destination and rename it into place,
// so a reader sees the old file or the new one, never a part; both sync the
// file before the rename and the directory after it. Neither opens anything
// at the destination with LMDB: a backup gets no DEST-lock, and the store's
// own lock file is left to LMDB (the workers and patd let go of the old file
// by themselves, docs/patd.md "A replaced store").
#include "copy.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "impl.hpp"

namespace pat {
namespace {

std::string directory_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status failed(const std::string& what, int error) {
    return {StatusCode::store_error, what + ": " + std::strerror(error)};
}

bool same_file(const struct stat& a, const std::string& path) {
    struct stat b {};
    return ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// A new file in directory, named after base, removed again unless kept.
class TempFile {
   public:
    TempFile(const std::string& directory, const std::string& base) {
        path_ = directory + "/." + base + ".tmp-XXXXXX";
        fd_ = ::mkostemp(path_.data(), O_CLOEXEC);  // mode 0600
        if (fd_ < 0) error_ = errno;
    }
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!kept_ && error_ == 0) ::unlink(path_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    int fd() const { return fd_; }
    int error() const { return error_; }
    const std::string& path() const { return path_; }
    // Syncs and closes the file; 0 or errno.
    int finish() {
        int rc = ::fsync(fd_) == 0 ? 0 : errno;
        if (::close(fd_) != 0 && rc == 0) rc = errno;
        fd_ = -1;
        return rc;
    }
    void keep() { kept_ = true; }

   private:
    std::string path_;
    int fd_ = -1;
    int error_ = 0;
    bool kept_ = false;
};

void sync_directory(const std::string& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
}

// rename(2) that refuses an existing target unless replace.
int move_into_place(const std::string& from, const std::string& to, bool replace) {
    if (replace) return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
    // A file system without RENAME_NOREPLACE: a hard link refuses an existing
    // name as well.
    if (::link(from.c_str(), to.c_str()) != 0) return errno;
    ::unlink(from.c_str());
    return 0;
}

int copy_bytes(int from, int to) {
    char buffer[1 << 16];
    for (;;) {
        const ssize_t got = ::read(from, buffer, sizeof buffer);
        if (got == 0) return 0;
        if (got < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        for (ssize_t done = 0; done < got;) {
            const ssize_t wrote = ::write(to, buffer + done, static_cast<std::size_t>(got - done));
            if (wrote < 0) {
                if (errno == EINTR) continue;
                return errno;
            }
            done += wrote;
        }
    }
}

}  // namespace

Status Store::backup_to(const std::string& dest, bool replace) {
    if (impl_->env == nullptr) return not_on_lmdb();
    const std::string& store = impl_->path;
    if (dest.empty() || dest.back() == '/') {
        return {StatusCode::invalid_argument, "backup: " + dest + " is not a file name"};
    }
    struct stat st {};
    if (::stat(dest.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return {StatusCode::invalid_argument, "backup: " + dest + " is a directory"};
        for (const std::string& own : {store, store + "-lock", store + "-usage", store + "-usage-lock"}) {
            if (same_file(st, own)) {
                return {StatusCode::invalid_argument, "backup: " + dest + " is " + own + ", not a backup"};
            }
        }
        if (!replace) {
            return {StatusCode::already_exists, "backup: " + dest + " already exists (--force replaces it)"};
        }
    } else if (errno != ENOENT) {
        return failed("backup: cannot look at " + dest, errno);
    }
    const std::string directory = directory_of(dest);
    TempFile temp(directory, base_of(dest));
    if (temp.error() != 0) return failed("backup: cannot create a file in " + directory, temp.error());
    // One read snapshot, page for page: LMDB blocks writers only while it
    // copies the two meta pages.
    int rc = mdb_env_copyfd2(impl_->env, temp.fd(), 0);
    if (rc != 0) return lmdb::error("copy to " + temp.path(), rc);
    if (int error = temp.finish(); error != 0) return failed("backup: cannot write " + temp.path(), error);
    if (Status s = check_store_copy(temp.path()); !s.ok()) {
        return {StatusCode::store_error, "backup: the copy does not check out: " + s.message()};
    }
    if (int error = move_into_place(temp.path(), dest, replace); error != 0) {
        if (error == EEXIST) {
            return {StatusCode::already_exists, "backup: " + dest + " already exists (--force replaces it)"};
        }
        return failed("backup: cannot rename the copy to " + dest, error);
    }
    temp.keep();
    sync_directory(directory);
    return Status::success();
}

Expected<Restored> restore_store(const std::string& source, const std::string& store_path, std::int64_t wait_ms) {
    struct stat src {};
    if (::stat(source.c_str(), &src) != 0) return failed("restore: cannot read " + source, errno);
    if (!S_ISREG(src.st_mode)) return Status{StatusCode::invalid_argument, "restore: " + source + " is not a file"};
    if (same_file(src, store_path)) {
        return Status{StatusCode::invalid_argument, "restore: " + source + " is the store itself"};
    }
    if (Status s = check_store_copy(source); !s.ok()) return Status{s.code(), "restore: " + s.message()};

    // What the new file gets: the current store's owner, group and mode, or
    // for a store that is gone, those its directory gives new files.
    const std::string directory = directory_of(store_path);
    struct stat model {};
    mode_t mode = 0640;
    if (::stat(store_path.c_str(), &model) == 0) {
        if (!S_ISREG(model.st_mode)) {
            return Status{StatusCode::invalid_argument, "restore: " + store_path + " is not a regular file"};
        }
        mode = model.st_mode & 0777;
    } else if (errno != ENOENT || ::stat(directory.c_str(), &model) != 0) {
        return failed("restore: cannot look at " + store_path, errno);
    }

    TempFile temp(directory, base_of(store_path));
    if (temp.error() != 0) return failed("restore: cannot create a file in " + directory, temp.error());
    const int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return failed("restore: cannot read " + source, errno);
    const int copied = copy_bytes(in, temp.fd());
    ::close(in);
    if (copied != 0) return failed("restore: cannot copy " + source + " to " + temp.path(), copied);
    const bool root = ::geteuid() == 0;
    if (::fchown(temp.fd(), root ? model.st_uid : static_cast<uid_t>(-1), model.st_gid) != 0) {
        return failed("restore: cannot give the copy the store's group (" + std::to_string(model.st_gid) + ")", errno);
    }
    if (::fchmod(temp.fd(), mode) != 0) return failed("restore: cannot set the copy's mode", errno);
    if (int error = temp.finish(); error != 0) return failed("restore: cannot write " + temp.path(), error);
    // What is renamed into place is what was checked, not what source holds
    // by now.
    if (Status s = check_store_copy(temp.path()); !s.ok()) return Status{s.code(), "restore: " + s.message()};
    if (::rename(temp.path().c_str(), store_path.c_str()) != 0) {
        return failed("restore: cannot rename the copy over " + store_path, errno);
    }
    temp.keep();
    sync_directory(directory);

    // PATH-lock still describes the old file while any process holds it;
    // the first process to open it after every holder let go refills it
    // from the new file. Without a lock file, nobody holds one.
    Restored restored;
    const std::string lock = store_path + "-lock";
    struct stat lock_st {};
    if (::stat(lock.c_str(), &lock_st) != 0) {
        restored.in_use = true;
        return restored;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
        {
            auto opened = Store::open(store_path, Store::Mode::read_only);
            if (opened && (*opened)->check_lock_region().ok()) {
                restored.in_use = true;
                return restored;
            }
        }
        if (std::chrono::steady_clock::now() >= deadline) return restored;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace pat
