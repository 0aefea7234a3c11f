// A fleet replica's own state (pat/replica.hpp): its record, the clock it is
// measured on, and the store's reading and writing of it in the LMDB table
// "replica" (key "state"), which is not a kv::Table: only the follower
// writes it, with the changes it applies; nginx workers read it once a
// second. Also Store::over (a store over another engine) and engine().
#include <time.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "impl.hpp"
#include "lmdb_kv.hpp"

namespace pat {
namespace {

// Record: version 1, then little-endian fixed-width fields (position u64,
// source_head u64, verified_boot_ns i64, boot_id 16 bytes, verified_wall_ms
// i64, position_mark i64), then source_id as a u16 length and its bytes.
constexpr std::uint8_t kReplicaFormat = 1;
constexpr std::size_t kFixedSize = 1 + 8 + 8 + 8 + 16 + 8 + 8 + 2;
constexpr std::string_view kReplicaTable = "replica";
constexpr std::string_view kStateKey = "state";

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
    return v;
}

Status bad_record(const std::string& why) {
    return {StatusCode::store_error, "store: the replica state record is " + why};
}

}  // namespace

std::string encode_replica_state(const ReplicaState& state) {
    std::string out;
    out.reserve(kFixedSize + state.source_id.size());
    out.push_back(static_cast<char>(kReplicaFormat));
    put_le(out, state.position, 8);
    put_le(out, state.source_head, 8);
    put_le(out, static_cast<std::uint64_t>(state.verified_boot_ns), 8);
    out.append(reinterpret_cast<const char*>(state.boot_id.data()), state.boot_id.size());
    put_le(out, static_cast<std::uint64_t>(state.verified_wall_ms), 8);
    put_le(out, static_cast<std::uint64_t>(state.position_mark), 8);
    const std::size_t id_size = std::min<std::size_t>(state.source_id.size(), 0xffff);
    put_le(out, id_size, 2);
    out.append(state.source_id, 0, id_size);
    return out;
}

Expected<ReplicaState> decode_replica_state(std::string_view record) {
    if (record.empty()) return bad_record("empty");
    if (static_cast<std::uint8_t>(record[0]) != kReplicaFormat)
        return bad_record("of an unknown version (" + std::to_string(static_cast<unsigned char>(record[0])) + ")");
    if (record.size() < kFixedSize) return bad_record("too short");
    ReplicaState state;
    std::size_t at = 1;
    state.position = get_le(record, at, 8), at += 8;
    state.source_head = get_le(record, at, 8), at += 8;
    state.verified_boot_ns = static_cast<std::int64_t>(get_le(record, at, 8)), at += 8;
    std::memcpy(state.boot_id.data(), record.data() + at, state.boot_id.size()), at += state.boot_id.size();
    state.verified_wall_ms = static_cast<std::int64_t>(get_le(record, at, 8)), at += 8;
    state.position_mark = static_cast<std::int64_t>(get_le(record, at, 8)), at += 8;
    const std::size_t id_size = get_le(record, at, 2);
    at += 2;
    if (record.size() != at + id_size) return bad_record("of the wrong length");
    state.source_id = std::string(record.substr(at));
    return state;
}

Expected<std::array<std::uint8_t, 16>> current_boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string text;
    if (!in || !std::getline(in, text))
        return Status{StatusCode::store_error, "cannot read /proc/sys/kernel/random/boot_id"};
    std::array<std::uint8_t, 16> id{};
    std::size_t n = 0;
    int high = -1;
    for (char c : text) {
        if (c == '-') continue;
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0 || n == id.size()) return Status{StatusCode::store_error, "the boot id is not a UUID: " + text};
        if (high < 0) {
            high = digit;
        } else {
            id[n++] = static_cast<std::uint8_t>(high << 4 | digit);
            high = -1;
        }
    }
    if (n != id.size() || high >= 0) return Status{StatusCode::store_error, "the boot id is not a UUID: " + text};
    return id;
}

std::int64_t boottime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::optional<std::int64_t> verified_age_ms(const ReplicaState& state, const std::array<std::uint8_t, 16>& boot_id,
                                            std::int64_t now_boot_ns) {
    if (state.boot_id != boot_id || state.verified_boot_ns <= 0) return std::nullopt;  // not on this boot
    if (now_boot_ns < state.verified_boot_ns) return std::nullopt;  // from the future: not to be trusted
    return (now_boot_ns - state.verified_boot_ns) / 1'000'000;
}

Expected<std::unique_ptr<Store>> Store::over(std::unique_ptr<kv::Engine> engine) {
    if (!engine) return Status{StatusCode::invalid_argument, "store: no engine"};
    const std::string where = engine->describe();
    {
        auto reading = engine->read();
        if (!reading) return reading.status();
        kv::Txn& txn = **reading;
        std::string_view found;
        int rc = txn.get(kv::Table::meta, "schema_version", found);
        if (rc == kv::kNotFound)
            return Status{StatusCode::store_error,
                          "store: " + where + " has no schema version (not an nginx-pat store)"};
        if (rc != kv::kOk) return kv_error(txn, "read schema version", rc);
        const std::string version = std::to_string(kSchemaVersion);
        if (found != version)
            return Status{StatusCode::store_error, "store: " + where + " has schema version " +
                                                       std::string(found.substr(0, 16)) + "; this build uses " +
                                                       version + " over another engine"};
    }
    auto impl = std::make_unique<Impl>();
    impl->path = where;
    impl->read_only = false;
    impl->has_groups = true;
    impl->has_sign_in_failures = true;
    impl->opened_schema = kSchemaVersion;
    impl->engine = std::move(engine);
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

kv::Engine& Store::engine() {
    return *impl_->engine;
}

Expected<std::optional<ReplicaState>> Store::replica_state() {
    if (impl_->env == nullptr) return not_on_lmdb();
    lmdb::Txn txn;
    int rc = txn.begin(impl_->env, MDB_RDONLY);
    if (rc != 0) return lmdb::error("begin read", rc);
    MDB_dbi dbi = 0;
    {
        std::lock_guard held(impl_->replica_lock);
        if (!impl_->has_replica) {
            // Opened in this read transaction and kept for the process
            // when it commits; absent until the follower first writes it.
            rc = mdb_dbi_open(txn.get(), kReplicaTable.data(), 0, &impl_->replica);
            if (rc == MDB_NOTFOUND) return std::optional<ReplicaState>{};
            if (rc != 0) return lmdb::error("open table replica", rc);
            if ((rc = txn.commit()) != 0) return lmdb::error("open table replica", rc);
            impl_->has_replica = true;
            if ((rc = txn.begin(impl_->env, MDB_RDONLY)) != 0) return lmdb::error("begin read", rc);
        }
        dbi = impl_->replica;
    }
    std::string_view record;
    rc = lmdb::get(txn.get(), dbi, kStateKey, record);
    if (rc == MDB_NOTFOUND) return std::optional<ReplicaState>{};
    if (rc != 0) return lmdb::error("read replica state", rc);
    auto state = decode_replica_state(record);
    if (!state) return state.status();
    return std::optional<ReplicaState>(std::move(*state));
}

Status Store::put_replica_state(kv::Txn& txn, const ReplicaState& state) {
    auto* lmdb_txn = dynamic_cast<LmdbTxn*>(&txn);
    if (lmdb_txn == nullptr || impl_->env == nullptr)
        return {StatusCode::store_error, "store: the replica state is kept in a node's LMDB replica only"};
    MDB_dbi dbi = 0;
    int rc = 0;
    {
        // Created by the first write that needs it, inside that write.
        std::lock_guard held(impl_->replica_lock);
        rc = mdb_dbi_open(lmdb_txn->mdb(), kReplicaTable.data(), MDB_CREATE, &dbi);
    }
    if (rc != 0) return lmdb::error("open table replica", rc);
    rc = lmdb::put(lmdb_txn->mdb(), dbi, kStateKey, encode_replica_state(state));
    return rc == 0 ? Status::success() : lmdb::error("write replica state", rc);
}

}  // namespace pat
