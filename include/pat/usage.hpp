// The usage file: when each token was last used, kept apart from the store.
//
// nginx's workers may only read the store (pat.db). They note token uses in
// memory and write them in batches here instead: a small LMDB file at
// `STORE-usage` (LMDB adds `STORE-usage-lock`), key = token id (12 digits),
// value = the last use in milliseconds since the epoch (8 bytes, big-endian).
// The workers' group may write it (mode 0660): a hostile writer can forge use
// times, nothing else the store decides on.
//
// So nothing read from it is trusted: an entry that is not a token id with an
// 8-byte value is ignored, and a missing, unreadable or damaged file only
// means that no use time is known (listing tokens never fails because of
// it). Its size is bounded (kUsageFileSize); when it is full a batch is
// dropped and the caller is told (`full`).
//
// Listing tokens (Store::list_tokens, get_token) shows
// lastAuthenticated = max(the store's record, this file); revoking or
// deleting a token through the Store drops its entry, best effort.
//
// One UsageFile per store path per process: LMDB forbids opening one file
// twice in a process (closing either environment drops the process's locks
// on the lock file). A Store keeps one for listing (opened on first use); a
// process that only decides (the nginx module) keeps its own for writing and
// never lists. Threads: every method may be called from any thread; calls
// on one object run one at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pat/status.hpp"

namespace pat {

// The usage file's maximum size: about 300,000 tokens' last uses.
inline constexpr std::size_t kUsageFileSize = std::size_t{16} << 20;

class UsageFile {
   public:
    enum class Mode {
        read_only,   // lookups only; its lock file must still be writable
        read_write,  // also forget(); an absent file is left absent
        create,      // also record(), creating the file (mode 0660) when absent
    };

    // Opens nothing yet: every call opens the file when needed, and again
    // when the path names another file (deleted, or replaced by a rename).
    UsageFile(std::string store_path, Mode mode);
    ~UsageFile();
    UsageFile(const UsageFile&) = delete;
    UsageFile& operator=(const UsageFile&) = delete;

    // STORE-usage.
    static std::string path_for(std::string_view store_path);
    const std::string& path() const;

    struct Written {
        Status status;
        bool full = false;  // the file reached kUsageFileSize: nothing of the batch was written
    };
    // Records uses (id, time) in one write transaction, keeping the newest
    // time of each id; ids that are not token ids and times <= 0 are skipped.
    // Needs Mode::create.
    Written record(const std::vector<std::pair<std::string, std::int64_t>>& uses);

    // Drops the entries of these ids (revoked or deleted tokens). Best
    // effort: ok when the file does not exist; Mode::read_only does nothing.
    Status forget(const std::vector<std::string>& ids);

    // The last use of each id, 0 where none is known. Never fails: an absent,
    // unreadable or damaged file gives zeros.
    std::vector<std::int64_t> lookup(const std::vector<std::string>& ids);

    // Creates the file now when absent (Mode::create), so that processes
    // that may not create files in its directory can write it later.
    Status prepare();

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pat
