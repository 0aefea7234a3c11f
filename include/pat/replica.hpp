// Fleet mode: what a node's follower (patctl follow) records in its LMDB
// replica beside the replicated tables, in the one transaction that applies
// a batch of changes, and what nginx workers and patd read of it.
//
// It lives in the replica's own LMDB table "replica" (key "state"), which is
// not one of the replicated tables (src/core/store/kv.hpp): a replica's
// replicated tables are byte-identical to the source; this table is the
// node's own. A store without it is a single-host store.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "pat/status.hpp"

namespace pat {

struct ReplicaState {
    std::uint64_t position = 0;     // the last change-log seq applied
    std::uint64_t source_head = 0;  // the source's head when last verified (lag = source_head - position)
    // When the follower last verified the replica against the source: on
    // CLOCK_BOOTTIME (ns) of the boot boot_id names, so a wall-clock step
    // cannot make a stale replica look fresh; a different boot id means
    // "never verified on this boot" (stale).
    std::int64_t verified_boot_ns = 0;
    std::array<std::uint8_t, 16> boot_id{};
    std::int64_t verified_wall_ms = 0;  // the same moment on the wall clock, for people
    // The commit time (µs since the epoch) of the source's change at
    // `position`, as the follower read it: a source restored from a backup or
    // failed over to a standby that lost commits, whose new writes have
    // carried its head past `position` again, has another change there (or
    // none), and the follower rebuilds instead of applying a different
    // history's changes. 0: not known (checked from the next change on).
    std::int64_t position_mark = 0;
    std::string source_id;  // the source's identity (fleet init's random id), to refuse a foreign source
};

std::string encode_replica_state(const ReplicaState& state);
Expected<ReplicaState> decode_replica_state(std::string_view record);

// This machine's boot id (/proc/sys/kernel/random/boot_id, 16 bytes) and
// CLOCK_BOOTTIME in ns.
Expected<std::array<std::uint8_t, 16>> current_boot_id();
std::int64_t boottime_ns();

// How long ago the replica was verified, in ms, on this boot's
// CLOCK_BOOTTIME; nullopt when it was verified on another boot (treat as
// stale).
std::optional<std::int64_t> verified_age_ms(const ReplicaState& state, const std::array<std::uint8_t, 16>& boot_id,
                                            std::int64_t now_boot_ns);

}  // namespace pat
