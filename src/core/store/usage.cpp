// The usage file (pat/usage.hpp): a flat file of fixed-size slots, opened
// when first needed and reopened when its path names another file. Every
// read and write is a pread/pwrite at an offset computed from the layout's
// constants; nothing read from the file decides where to read or write next.
#include "pat/usage.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "pat/token.hpp"

namespace pat {
namespace {

// Group-writable: the nginx workers write it, whoever created it.
constexpr mode_t kUsageMode = 0660;
constexpr std::string_view kMagic = "NPATUSE1";
constexpr std::uint32_t kLayoutVersion = 1;

constexpr std::size_t kIdBytes = kTokenIdLength;
constexpr std::size_t kSealAt = 12;
constexpr std::size_t kTimeAt = 16;
constexpr std::size_t kWindowBytes = kUsageWindow * kUsageSlotBytes;
// The last slot a window may start at: windows do not wrap.
constexpr std::size_t kLastHome = kUsageSlots - kUsageWindow;
constexpr char kTombstoneByte = '-';
// From this many ids on, lookup() reads the whole file once (12 MiB) instead
// of a window (1.5 KiB) per id. Measured on the shared 2-core build machine:
// 300,000 ids took 1.7 s window by window, 0.4 s with one read; 500 ids
// (a user with a few hundred tokens) take 1.5 ms window by window.
constexpr std::size_t kWholeFileIds = 4096;

static_assert(kIdBytes + 4 + 8 == kUsageSlotBytes);
static_assert(kUsageWindow <= kUsageSlots);
static_assert(kUsageHeaderBytes + (kLastHome + kUsageWindow) * kUsageSlotBytes == kUsageFileSize);
static_assert(kUsageSlots <= UINT32_MAX);

using Slot = unsigned char[kUsageSlotBytes];
using Window = std::array<unsigned char, kWindowBytes>;

std::uint64_t fnv1a(std::uint64_t h, const unsigned char* bytes, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        h ^= bytes[i];
        h *= 1099511628211ull;
    }
    return h;
}

// The first slot of an id's window.
std::size_t home_of(std::string_view id) {
    const std::uint64_t h = fnv1a(1469598103934665603ull, reinterpret_cast<const unsigned char*>(id.data()), id.size());
    return static_cast<std::size_t>(h % (kLastHome + 1));
}

void put_le(unsigned char* out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

std::uint64_t get_le(const unsigned char* in, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | in[i];
    return v;
}

// 32 bits of FNV-1a over the id and the time bytes of a slot.
std::uint32_t seal_of(const unsigned char* slot) {
    std::uint64_t h = fnv1a(1469598103934665603ull, slot, kIdBytes);
    h = fnv1a(h, slot + kTimeAt, 8);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
}

enum class SlotKind {
    empty,      // never used: the end of a probe
    tombstone,  // forgotten: free for reuse, the probe goes on
    token,      // a token id (its time may still be torn or forged)
    foreign,    // anything else (a hostile or torn write): free for reuse
};

SlotKind kind_of(const unsigned char* slot) {
    bool zero = true, dashes = true;
    for (std::size_t i = 0; i < kUsageSlotBytes; ++i) zero = zero && slot[i] == 0;
    if (zero) return SlotKind::empty;
    for (std::size_t i = 0; i < kIdBytes; ++i) dashes = dashes && slot[i] == kTombstoneByte;
    if (dashes) return SlotKind::tombstone;
    if (is_valid_token_id(std::string_view(reinterpret_cast<const char*>(slot), kIdBytes))) return SlotKind::token;
    return SlotKind::foreign;
}

bool holds(const unsigned char* slot, std::string_view id) {
    return std::memcmp(slot, id.data(), kIdBytes) == 0;  // id is a valid token id: kIdBytes long
}

// The time of a slot holding a token id, 0 unless sealed and positive.
std::int64_t time_of(const unsigned char* slot) {
    if (static_cast<std::uint32_t>(get_le(slot + kSealAt, 4)) != seal_of(slot)) return 0;
    const auto ms = static_cast<std::int64_t>(get_le(slot + kTimeAt, 8));
    return ms > 0 ? ms : 0;
}

void fill_slot(Slot& slot, std::string_view id, std::int64_t ms) {
    std::memcpy(slot, id.data(), kIdBytes);
    put_le(slot + kTimeAt, static_cast<std::uint64_t>(ms), 8);
    put_le(slot + kSealAt, seal_of(slot), 4);
}

void fill_tombstone(Slot& slot) {
    std::memset(slot, 0, kUsageSlotBytes);
    std::memset(slot, kTombstoneByte, kIdBytes);
}

off_t slot_offset(std::size_t index) {
    return static_cast<off_t>(kUsageHeaderBytes + index * kUsageSlotBytes);
}

// The address region (pat/usage.hpp).
using AddressSlot = std::array<unsigned char, kUsageAddressSlotBytes>;
constexpr std::size_t kAddressSealAt = 12;
constexpr std::size_t kAddressEntriesAt = 16;

off_t address_slot_offset(std::size_t index) {
    return static_cast<off_t>(kUsageFileSize + index * kUsageAddressSlotBytes);
}

std::uint32_t address_seal_of(const unsigned char* slot) {
    std::uint64_t h = fnv1a(1469598103934665603ull, slot, kIdBytes);
    h = fnv1a(h, slot + kAddressEntriesAt, kUsageAddressSlotBytes - kAddressEntriesAt);
    return static_cast<std::uint32_t>(h ^ (h >> 32));
}

// The addresses of an address slot if it is sealed and names id; else none.
UsageAddresses addresses_of(const AddressSlot& slot, std::string_view id) {
    UsageAddresses found{};
    if (std::memcmp(slot.data(), id.data(), kIdBytes) != 0) return found;
    if (static_cast<std::uint32_t>(get_le(slot.data() + kAddressSealAt, 4)) != address_seal_of(slot.data()))
        return found;
    for (std::size_t i = 0; i < kUsageAddresses; ++i) {
        const unsigned char* entry = slot.data() + kAddressEntriesAt + i * kUsageAddressEntryBytes;
        std::memcpy(found[i].bytes, entry, 16);
        const auto ms = static_cast<std::int64_t>(get_le(entry + 16, 8));
        found[i].ms = ms > 0 ? ms : 0;
    }
    return found;
}

void fill_address_slot(AddressSlot& slot, std::string_view id, const UsageAddresses& addresses) {
    slot.fill(0);
    std::memcpy(slot.data(), id.data(), kIdBytes);
    for (std::size_t i = 0; i < kUsageAddresses; ++i) {
        unsigned char* entry = slot.data() + kAddressEntriesAt + i * kUsageAddressEntryBytes;
        if (addresses[i].ms <= 0) continue;
        std::memcpy(entry, addresses[i].bytes, 16);
        put_le(entry + 16, static_cast<std::uint64_t>(addresses[i].ms), 8);
    }
    put_le(slot.data() + kAddressSealAt, address_seal_of(slot.data()), 4);
}

bool any_address(const UsageAddresses& addresses) {
    for (const UsageAddress& a : addresses) {
        if (a.ms > 0) return true;
    }
    return false;
}

std::string errno_text() {
    return std::strerror(errno);
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
    std::mutex lock;  // one call at a time: the descriptor is replaced in place
    int fd = -1;
    bool writable = false;
    bool ours = false;  // the header is ours (magic, version)
    FileId file;

    ~Impl() { close(); }

    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }

    // Opens the file (creating it when allowed and the mode permits) or
    // keeps the descriptor while the path still names the same file.
    // not_found when the file does not exist.
    Status open(bool may_create) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            const int failure = errno;
            close();
            if (failure != ENOENT) {
                return {StatusCode::store_error, "usage file: cannot read " + path + ": " + std::strerror(failure)};
            }
            if (!(may_create && mode == Mode::create)) {
                return {StatusCode::not_found, "usage file: " + path + " does not exist"};
            }
            if (Status s = create(); !s.ok()) return s;
        } else if (fd >= 0 && FileId{st.st_dev, st.st_ino} == file) {
            return Status::success();
        }
        close();  // another file, or none
        // O_NONBLOCK: a FIFO put in its place must not hang the open.
        const int flags = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
        writable = mode != Mode::read_only;
        fd = ::open(path.c_str(), flags | (writable ? O_RDWR : O_RDONLY));
        if (fd < 0 && writable && (errno == EACCES || errno == EPERM || errno == EROFS)) {
            // Lookups only need to read: a process that may not write the
            // file still merges it.
            writable = false;
            fd = ::open(path.c_str(), flags | O_RDONLY);
        }
        if (fd < 0) {
            if (errno == ELOOP) return {StatusCode::store_error, "usage file: " + path + " is a symbolic link"};
            return {StatusCode::store_error, "usage file: cannot open " + path + ": " + errno_text()};
        }
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close();
            return {StatusCode::store_error, "usage file: " + path + " is not a regular file"};
        }
        file = FileId{st.st_dev, st.st_ino};
        unsigned char header[kUsageHeaderBytes] = {};
        ours = read_at(header, sizeof header, 0) && std::memcmp(header, kMagic.data(), kMagic.size()) == 0 &&
               get_le(header + 8, 4) == kLayoutVersion;
        if (!ours && st.st_size == 0 && writable && mode == Mode::create) {
            // An empty file is adopted: an administrator may make one (of
            // the right owner and mode) where the workers may not create
            // files, e.g. in place of an older version's LMDB usage file.
            ours = write_header(fd);
        }
        return Status::success();
    }

    static bool write_header(int to) {
        unsigned char header[kUsageHeaderBytes] = {};
        std::memcpy(header, kMagic.data(), kMagic.size());
        put_le(header + 8, kLayoutVersion, 4);
        put_le(header + 12, kUsageSlots, 4);
        return ::pwrite(to, header, sizeof header, 0) == static_cast<ssize_t>(sizeof header) &&
               ::ftruncate(to, static_cast<off_t>(kUsageFileSize)) == 0;
    }

    // A new file, complete before it appears under its name: written under
    // a temporary name and linked into place (a link never replaces a file
    // another process created meanwhile).
    Status create() {
        std::string temporary = path + ".new-XXXXXX";
        const int tmp = ::mkostemp(temporary.data(), O_CLOEXEC);
        if (tmp < 0) return {StatusCode::store_error, "usage file: cannot create " + path + ": " + errno_text()};
        Status result;
        // fchmod: the mode is not narrowed by the umask.
        if (!write_header(tmp) || ::fchmod(tmp, kUsageMode) != 0) {
            result = {StatusCode::store_error, "usage file: cannot write " + temporary + ": " + errno_text()};
        } else if (::link(temporary.c_str(), path.c_str()) != 0 && errno != EEXIST) {
            result = {StatusCode::store_error, "usage file: cannot create " + path + ": " + errno_text()};
        }
        ::close(tmp);
        ::unlink(temporary.c_str());
        return result;
    }

    // Reads n bytes at offset; what lies past the end of the file reads as
    // zeros. False on a read error.
    bool read_at(unsigned char* out, std::size_t n, off_t offset) const {
        std::size_t done = 0;
        while (done < n) {
            const ssize_t got = ::pread(fd, out + done, n - done, offset + static_cast<off_t>(done));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                std::memset(out, 0, n);
                return false;
            }
            if (got == 0) break;
            done += static_cast<std::size_t>(got);
        }
        std::memset(out + done, 0, n - done);
        return true;
    }

    // The window of slots an id may live in, starting at slot home_of(id).
    bool read_window(std::size_t home, Window& window) const {
        if (home > kLastHome) return false;  // unreachable: home_of is bounded
        return read_at(window.data(), window.size(), slot_offset(home));
    }

    bool write_slot(std::size_t index, const Slot& slot) const {
        if (index >= kUsageSlots) return false;
        for (;;) {
            const ssize_t put = ::pwrite(fd, slot, kUsageSlotBytes, slot_offset(index));
            if (put < 0 && errno == EINTR) continue;
            return put == static_cast<ssize_t>(kUsageSlotBytes);
        }
    }

    // Whether the file reaches past the address region (grown by a writer).
    bool has_address_region() const {
        struct stat st {};
        return fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(kUsageFileSizeWithAddresses);
    }

    // Grows the file (sparse) to hold the address region; never shrinks it.
    bool grow_for_addresses() const {
        if (has_address_region()) return true;
        return writable && ::ftruncate(fd, static_cast<off_t>(kUsageFileSizeWithAddresses)) == 0;
    }

    bool read_address_slot(std::size_t index, AddressSlot& slot) const {
        if (index >= kUsageSlots) return false;
        return read_at(slot.data(), slot.size(), address_slot_offset(index));
    }

    bool write_address_slot(std::size_t index, const AddressSlot& slot) const {
        if (index >= kUsageSlots) return false;
        for (;;) {
            const ssize_t put = ::pwrite(fd, slot.data(), slot.size(), address_slot_offset(index));
            if (put < 0 && errno == EINTR) continue;
            return put == static_cast<ssize_t>(slot.size());
        }
    }

    Status foreign() const {
        return {StatusCode::store_error,
                "usage file: " + path +
                    " is not an nginx-pat usage file (replace it with an empty file of the same owner and mode: "
                    "it holds only last-use times)"};
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
    if (Status s = impl_->open(true); !s.ok()) return s;
    return impl_->ours ? Status::success() : impl_->foreign();
}

UsageFile::Written UsageFile::record(const std::vector<std::pair<std::string, std::int64_t>>& uses) {
    std::vector<UsageRecord> records;
    records.reserve(uses.size());
    for (const auto& [id, when] : uses) records.push_back(UsageRecord{id, when, {}});
    return record_with_addresses(records);
}

UsageFile::Written UsageFile::record_with_addresses(const std::vector<UsageRecord>& uses) {
    if (impl_->mode != Mode::create) {
        return {{StatusCode::invalid_argument, "usage file: opened without create"}};
    }
    std::lock_guard held(impl_->lock);
    if (uses.empty()) return {};
    Impl& f = *impl_;
    if (Status s = f.open(true); !s.ok()) return {s};
    if (!f.ours) return {f.foreign()};
    if (!f.writable) return {{StatusCode::store_error, "usage file: may not write " + f.path + ": permission denied"}};
    std::size_t dropped = 0;
    bool with_addresses = false;
    for (const UsageRecord& use : uses) with_addresses = with_addresses || any_address(use.addresses);
    // Without the region (it could not be grown) the times are still written.
    if (with_addresses) with_addresses = f.grow_for_addresses();
    Window window;
    AddressSlot address_slot;
    for (const UsageRecord& use : uses) {
        const std::string& id = use.id;
        const std::int64_t when = use.ms;
        if (when <= 0 || !is_valid_token_id(id)) continue;
        const std::size_t home = home_of(id);
        if (!f.read_window(home, window))
            return {{StatusCode::store_error, "usage file: read " + f.path + ": " + errno_text()}};
        // The id's own slot if it is in the window before the first empty
        // slot; else the first free one (tombstone, foreign, empty).
        std::size_t target = kUsageWindow, reusable = kUsageWindow;
        for (std::size_t i = 0; i < kUsageWindow; ++i) {
            const unsigned char* slot = window.data() + i * kUsageSlotBytes;
            const SlotKind kind = kind_of(slot);
            if (kind == SlotKind::token && holds(slot, id)) {
                target = i;
                break;
            }
            if (kind == SlotKind::empty) {
                target = reusable < kUsageWindow ? reusable : i;
                break;
            }
            if (kind != SlotKind::token && reusable == kUsageWindow) reusable = i;
        }
        if (target == kUsageWindow) target = reusable;
        if (target == kUsageWindow) {
            ++dropped;
            continue;
        }
        const unsigned char* current = window.data() + target * kUsageSlotBytes;
        const bool same_id = kind_of(current) == SlotKind::token && holds(current, id);
        if (!(same_id && time_of(current) >= when)) {
            Slot slot;
            fill_slot(slot, id, when);
            if (!f.write_slot(home + target, slot)) {
                return {{StatusCode::store_error, "usage file: write " + f.path + ": " + errno_text()}};
            }
        }
        if (!with_addresses || !any_address(use.addresses)) continue;
        // The addresses kept for the id in this slot (none when the slot
        // held another id before), with these uses merged in.
        if (!f.read_address_slot(home + target, address_slot))
            return {{StatusCode::store_error, "usage file: read " + f.path + ": " + errno_text()}};
        UsageAddresses merged = same_id ? addresses_of(address_slot, id) : UsageAddresses{};
        const UsageAddresses before = merged;
        for (const UsageAddress& address : use.addresses) {
            if (address.ms > 0) note_usage_address(merged, address);
        }
        if (same_id && std::memcmp(&before, &merged, sizeof merged) == 0) continue;
        fill_address_slot(address_slot, id, merged);
        if (!f.write_address_slot(home + target, address_slot)) {
            return {{StatusCode::store_error, "usage file: write " + f.path + ": " + errno_text()}};
        }
    }
    if (dropped != 0) {
        return {{StatusCode::store_error,
                 "usage file: " + f.path + " has no free slot for " + std::to_string(dropped) + " token use(s)"},
                true};
    }
    return {};
}

Status UsageFile::forget(const std::vector<std::string>& ids) {
    std::lock_guard held(impl_->lock);
    if (impl_->mode == Mode::read_only || ids.empty()) return Status::success();
    Impl& f = *impl_;
    Status opened = f.open(false);
    if (opened.code() == StatusCode::not_found) return Status::success();
    if (!opened.ok()) return opened;
    if (!f.ours || !f.writable) return Status::success();  // nothing of ours, or opened for lookups only
    Window window;
    Slot tombstone;
    fill_tombstone(tombstone);
    const bool has_region = f.has_address_region();
    AddressSlot cleared{};
    for (const std::string& id : ids) {
        if (!is_valid_token_id(id)) continue;
        const std::size_t home = home_of(id);
        if (!f.read_window(home, window))
            return {StatusCode::store_error, "usage file: read " + f.path + ": " + errno_text()};
        for (std::size_t i = 0; i < kUsageWindow; ++i) {
            const unsigned char* slot = window.data() + i * kUsageSlotBytes;
            const SlotKind kind = kind_of(slot);
            if (kind == SlotKind::empty) break;
            if (kind == SlotKind::token && holds(slot, id)) {
                if (!f.write_slot(home + i, tombstone)) {
                    return {StatusCode::store_error, "usage file: write " + f.path + ": " + errno_text()};
                }
                // The addresses go with the time (best effort).
                if (has_region) f.write_address_slot(home + i, cleared);
            }
        }
    }
    return Status::success();
}

std::vector<std::int64_t> UsageFile::lookup(const std::vector<std::string>& ids) {
    std::vector<std::int64_t> found(ids.size(), 0);
    if (ids.empty()) return found;
    std::lock_guard held(impl_->lock);
    Impl& f = *impl_;
    if (!f.open(false).ok() || !f.ours) return found;
    // A long list (a sysadmin listing every token) reads every slot in one
    // pread rather than a window per id.
    std::vector<unsigned char> slots;
    if (ids.size() >= kWholeFileIds) {
        slots.resize(kUsageSlots * kUsageSlotBytes);
        if (!f.read_at(slots.data(), slots.size(), slot_offset(0))) return found;
    }
    Window window;
    for (std::size_t n = 0; n < ids.size(); ++n) {
        const std::string& id = ids[n];
        if (!is_valid_token_id(id)) continue;
        const std::size_t home = home_of(id);
        const unsigned char* slots_of_id = window.data();
        if (!slots.empty()) {
            slots_of_id = slots.data() + home * kUsageSlotBytes;  // home <= kLastHome: the window fits
        } else if (!f.read_window(home, window)) {
            continue;
        }
        // Every slot of the id up to the first empty one: two writers may
        // both have placed it; the newest sealed time counts.
        for (std::size_t i = 0; i < kUsageWindow; ++i) {
            const unsigned char* slot = slots_of_id + i * kUsageSlotBytes;
            const SlotKind kind = kind_of(slot);
            if (kind == SlotKind::empty) break;
            if (kind == SlotKind::token && holds(slot, id)) found[n] = std::max(found[n], time_of(slot));
        }
    }
    return found;
}

std::vector<std::pair<std::string, std::int64_t>> UsageFile::entries() {
    std::vector<std::pair<std::string, std::int64_t>> found;
    std::lock_guard held(impl_->lock);
    Impl& f = *impl_;
    if (!f.open(false).ok() || !f.ours) return found;
    std::vector<unsigned char> slots(kUsageSlots * kUsageSlotBytes);
    if (!f.read_at(slots.data(), slots.size(), slot_offset(0))) return found;
    // An id two writers both placed appears twice: the newest time counts.
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < kUsageSlots; ++i) {
        const unsigned char* slot = slots.data() + i * kUsageSlotBytes;
        if (kind_of(slot) != SlotKind::token) continue;
        const std::int64_t ms = time_of(slot);
        if (ms <= 0) continue;
        std::string id(reinterpret_cast<const char*>(slot), kIdBytes);
        auto [at, added] = index.try_emplace(id, found.size());
        if (added) {
            found.emplace_back(std::move(id), ms);
        } else {
            found[at->second].second = std::max(found[at->second].second, ms);
        }
    }
    return found;
}

std::vector<std::vector<std::string>> UsageFile::lookup_addresses(const std::vector<std::string>& ids) {
    std::vector<std::vector<std::string>> found;
    found.reserve(ids.size());
    for (const UsageAddresses& addresses : lookup_address_entries(ids)) found.push_back(usage_address_list(addresses));
    return found;
}

std::vector<UsageAddresses> UsageFile::lookup_address_entries(const std::vector<std::string>& ids) {
    std::vector<UsageAddresses> found(ids.size(), UsageAddresses{});
    if (ids.empty()) return found;
    std::lock_guard held(impl_->lock);
    Impl& f = *impl_;
    if (!f.open(false).ok() || !f.ours || !f.has_address_region()) return found;
    // As lookup(): a long list reads the time slots in one pread; only the
    // address slots of the ids found are read then.
    std::vector<unsigned char> slots;
    if (ids.size() >= kWholeFileIds) {
        slots.resize(kUsageSlots * kUsageSlotBytes);
        if (!f.read_at(slots.data(), slots.size(), slot_offset(0))) return found;
    }
    Window window;
    AddressSlot address_slot;
    for (std::size_t n = 0; n < ids.size(); ++n) {
        const std::string& id = ids[n];
        if (!is_valid_token_id(id)) continue;
        const std::size_t home = home_of(id);
        const unsigned char* slots_of_id = window.data();
        if (!slots.empty()) {
            slots_of_id = slots.data() + home * kUsageSlotBytes;  // home <= kLastHome: the window fits
        } else if (!f.read_window(home, window)) {
            continue;
        }
        // Every slot of the id (two writers may both have placed it): the
        // addresses of all, merged.
        UsageAddresses merged{};
        for (std::size_t i = 0; i < kUsageWindow; ++i) {
            const unsigned char* slot = slots_of_id + i * kUsageSlotBytes;
            const SlotKind kind = kind_of(slot);
            if (kind == SlotKind::empty) break;
            if (kind != SlotKind::token || !holds(slot, id)) continue;
            if (!f.read_address_slot(home + i, address_slot)) continue;
            for (const UsageAddress& address : addresses_of(address_slot, id)) {
                if (address.ms > 0) note_usage_address(merged, address);
            }
        }
        found[n] = merged;
    }
    return found;
}

void note_usage_address(UsageAddresses& into, const UsageAddress& use) noexcept {
    if (use.ms <= 0) return;
    UsageAddress* free_entry = nullptr;
    UsageAddress* oldest = nullptr;
    for (UsageAddress& entry : into) {
        if (entry.ms > 0 && std::memcmp(entry.bytes, use.bytes, sizeof use.bytes) == 0) {
            if (use.ms > entry.ms) entry.ms = use.ms;
            return;
        }
        if (entry.ms <= 0) {
            if (free_entry == nullptr) free_entry = &entry;
        } else if (oldest == nullptr || entry.ms < oldest->ms) {
            oldest = &entry;
        }
    }
    UsageAddress* target =
        free_entry != nullptr ? free_entry : (oldest != nullptr && oldest->ms < use.ms ? oldest : nullptr);
    if (target != nullptr) *target = use;
}

std::string usage_address_text(const UsageAddress& address) {
    if (address.ms <= 0) return {};
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char text[INET6_ADDRSTRLEN] = {};
    if (std::memcmp(address.bytes, kMapped, sizeof kMapped) == 0) {
        if (::inet_ntop(AF_INET, address.bytes + 12, text, sizeof text) == nullptr) return {};
    } else if (::inet_ntop(AF_INET6, address.bytes, text, sizeof text) == nullptr) {
        return {};
    }
    return text;
}

bool usage_address_from_text(std::string_view text, UsageAddress& out) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
    char buffer[INET6_ADDRSTRLEN] = {};
    std::memcpy(buffer, text.data(), text.size());
    unsigned char v4[4];
    if (::inet_pton(AF_INET, buffer, v4) == 1) {
        std::memset(out.bytes, 0, sizeof out.bytes);
        out.bytes[10] = out.bytes[11] = 0xff;
        std::memcpy(out.bytes + 12, v4, 4);
        return true;
    }
    return ::inet_pton(AF_INET6, buffer, out.bytes) == 1;
}

std::vector<std::string> usage_address_list(const UsageAddresses& addresses) {
    UsageAddresses sorted = addresses;
    std::sort(sorted.begin(), sorted.end(), [](const UsageAddress& a, const UsageAddress& b) { return a.ms > b.ms; });
    std::vector<std::string> list;
    for (const UsageAddress& address : sorted) {
        if (address.ms <= 0) break;
        std::string text = usage_address_text(address);
        if (!text.empty()) list.push_back(std::move(text));
    }
    return list;
}

}  // namespace pat
