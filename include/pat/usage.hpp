// The usage file: when each token was last used, kept apart from the store.
//
// nginx's workers may only read the store (pat.db). They note token uses in
// memory and write them in batches here instead: `STORE-usage`, a flat file
// of fixed layout (no lock file). The workers' group may write it (mode
// 0660), so the trusted processes (patd, patctl) never let it steer them:
// they only pread and pwrite whole slots at offsets computed from the
// constants below, never from a value read from the file, and never past
// kUsageFileSizeWithAddresses whatever the file's length. What a hostile writer can do
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
// The client addresses of the last uses (the last kUsageAddresses distinct
// ones per token) follow the slots, in a region old versions never read
// (they stop at kUsageFileSize): address slot i, of kUsageAddressSlotBytes
// at kUsageFileSize + i * kUsageAddressSlotBytes, belongs to the id in
// time slot i when it names the same id:
//     [0, 12)   the token id
//     [12, 16)  a seal: 32 bits of FNV-1a over the id and the entries
//     [16, 136) kUsageAddresses entries of 24 bytes: the address (16 bytes,
//               IPv6; IPv4 as ::ffff:a.b.c.d) and its last use (ms, u64);
//               a time of 0 is no entry
// A writer grows a file shorter than kUsageFileSizeWithAddresses (sparse)
// before it writes addresses; a file that is not grown (an older one, or
// one that may not be grown) has no addresses, and its times read as
// before. The header is unchanged (layout version 1): older versions still
// read and write the times.
//
// Listing tokens (Store::list_tokens, get_token) shows
// lastAuthenticated = max(the store's record, this file); revoking or
// deleting a token through the Store drops its entry, best effort.
//
// Threads: every method may be called from any thread; calls on one object
// run one at a time. Any number of objects and processes may open one file.
#pragma once

#include <array>
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

// The client addresses of a token's last uses.
inline constexpr std::size_t kUsageAddresses = 5;
inline constexpr std::size_t kUsageAddressEntryBytes = 16 + 8;
inline constexpr std::size_t kUsageAddressSlotBytes = 16 + kUsageAddresses * kUsageAddressEntryBytes;
inline constexpr std::size_t kUsageFileSizeWithAddresses = kUsageFileSize + kUsageSlots * kUsageAddressSlotBytes;

struct UsageAddress {
    unsigned char bytes[16];  // IPv6; IPv4 as ::ffff:a.b.c.d
    std::int64_t ms;          // its last use; 0: no address
};
using UsageAddresses = std::array<UsageAddress, kUsageAddresses>;

// One token's uses since the last flush: the newest time, and the addresses
// seen (any order; ms 0 where none).
struct UsageRecord {
    std::string id;
    std::int64_t ms = 0;
    UsageAddresses addresses{};
};

// Adds an address use to a set of kUsageAddresses: the same address keeps
// its newest time; a new one takes a free entry or replaces the oldest when
// it is newer. Allocation-free (the nginx workers call it per request).
void note_usage_address(UsageAddresses& into, const UsageAddress& use) noexcept;
// "192.0.2.1", "2001:db8::1"; empty for an entry with no time.
std::string usage_address_text(const UsageAddress& address);
// From text ("192.0.2.1", "::1"); false when it is no IP address.
bool usage_address_from_text(std::string_view text, UsageAddress& out);
// The addresses with a time, most recent first, as text.
std::vector<std::string> usage_address_list(const UsageAddresses& addresses);

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
    // The same with the client addresses of the uses, merged into the
    // addresses the file holds for the id (the last kUsageAddresses
    // distinct); grows an older file to kUsageFileSizeWithAddresses first
    // (when it cannot, the times are still written).
    Written record_with_addresses(const std::vector<UsageRecord>& uses);

    // The client addresses of each id's last uses (at most kUsageAddresses,
    // most recent first); empty where none is known. Never fails.
    std::vector<std::vector<std::string>> lookup_addresses(const std::vector<std::string>& ids);
    // The same with their times, unordered (patd pushes them to the fleet's source).
    std::vector<UsageAddresses> lookup_address_entries(const std::vector<std::string>& ids);

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
