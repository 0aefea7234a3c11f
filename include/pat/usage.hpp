// The usage file: when each token was last used, kept apart from the store.
//
// nginx's workers may only read the store (pat.db). They note token uses in
// memory and write them in batches here instead: `STORE-usage`, a flat file
// of fixed layout (no lock file). The workers' group may write it (mode
// 0660), so the trusted processes (patd, patctl) never let it steer them:
// they only pread and pwrite whole slots at offsets computed from the
// constants below, never from a value read from the file, and never past
// kUsageFileSize whatever the file's length. What a hostile writer can do
// with it is forge or hide last-use times, nothing else.
//
// Layout (little-endian):
//   header, kUsageHeaderBytes: "NPATUSE1", the layout version (u32, 1), the
//     slot count (u32, for information: the reader uses its own constant),
//     zeros.
//   kUsageSlots slots of kUsageSlotBytes:
//     [0, 12)  a token id (12 ASCII digits); 12 '-' in a tombstone (a
//              forgotten entry); zeros in a slot never used
//     [12, 16) a seal: 32 bits of FNV-1a over the id and the time. It marks
//              a slot read while another process wrote it (a torn slot),
//              which is then ignored; it is no protection against a writer
//              who means harm, who can compute it.
//     [16, 24) the last use, milliseconds since the epoch
// An id lives in the first free slot of a window of kUsageWindow slots that
// starts at a hash of the id (open addressing, linear probing, no wrap).
// Anything else in a slot (not digits, a bad seal, a time <= 0) reads as no
// use; a file that is short, foreign (no magic) or not a regular file means
// no use times are known (listing tokens never fails because of it). An
// empty file is adopted by the first writer (Mode::create), which writes
// the header: how an administrator replaces a foreign one (such as the LMDB
// usage file of earlier versions) where the workers may not create files.
//
// Writers race only on slots: two processes recording a new id at once may
// pick the same free slot, and the use written first is lost until that
// token's next flush; two recording the same id may leave the older time
// for one flush interval. Writes are not synced: a crash of the machine may
// lose the last flush. Times are only shown, nothing is decided on them.
//
// Listing tokens (Store::list_tokens, get_token) shows
// lastAuthenticated = max(the store's record, this file); revoking or
// deleting a token through the Store drops its entry, best effort.
//
// Threads: every method may be called from any thread; calls on one object
// run one at a time. Any number of objects and processes may open one file.
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

inline constexpr std::size_t kUsageHeaderBytes = 64;
inline constexpr std::size_t kUsageSlotBytes = 24;
// 2^19 slots: 12 MiB, less than the 16 MiB LMDB file this replaces, for the
// same ~300,000 tokens. At that load (57%) a window of 64 slots is all but
// never full; beyond it uses start to be dropped (Written::full).
inline constexpr std::size_t kUsageSlots = std::size_t{1} << 19;
inline constexpr std::size_t kUsageWindow = 64;
// The file's size, set when it is created (sparse) and the bound of every
// read and write.
inline constexpr std::size_t kUsageFileSize = kUsageHeaderBytes + kUsageSlots * kUsageSlotBytes;

class UsageFile {
   public:
    enum class Mode {
        read_only,   // lookups only
        read_write,  // also forget() (when the file may be written); an absent file is left absent
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
        bool full = false;  // some uses found no free slot in their window and were dropped; the rest were written
    };
    // Records uses (id, time), keeping the newest time of each id; ids that
    // are not token ids and times <= 0 are skipped. One pread of the id's
    // window and at most one pwrite of a slot per use. Needs Mode::create.
    Written record(const std::vector<std::pair<std::string, std::int64_t>>& uses);

    // Drops the entries of these ids (revoked or deleted tokens), leaving
    // tombstones. Best effort: ok when the file does not exist or may not be
    // written; Mode::read_only does nothing.
    Status forget(const std::vector<std::string>& ids);

    // The last use of each id, 0 where none is known. Never fails: an absent,
    // unreadable or damaged file gives zeros. One pread of a window per id;
    // for thousands of ids, one pread of every slot.
    std::vector<std::int64_t> lookup(const std::vector<std::string>& ids);

    // Every entry of the file, (id, last use), one per id (its newest sealed
    // time), in slot order: one pread of every slot. Never fails: an absent,
    // unreadable or damaged file gives none. For a process that copies the
    // times elsewhere (patd in fleet mode pushes them to the source).
    std::vector<std::pair<std::string, std::int64_t>> entries();

    // Creates the file now when absent (Mode::create), so that processes
    // that may not create files in its directory can write it later.
    Status prepare();

    struct Impl;

   private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pat
