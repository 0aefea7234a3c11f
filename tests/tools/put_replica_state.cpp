// put-replica-state: writes a fleet ReplicaState (pat/replica.hpp) into an
// existing LMDB store, as the follower (patctl follow) does after each
// verification, so that the integration tests can make a store a replica
// verified a given time ago, or on another boot, without a PostgreSQL
// source. Test-only: built by mk/ngxfleet.mk, never installed.
//
//   put-replica-state --db PATH --verified-ago-ms MS [--position N]
//                     [--source-head N] [--other-boot]
//
// The state is written through the core (Store::put_replica_state in one
// write transaction of Store::engine()), exactly what the follower writes.
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pat/kv.hpp"
#include "pat/replica.hpp"
#include "pat/store.hpp"

namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: put-replica-state --db PATH --verified-ago-ms MS [--position N] [--source-head N] "
                 "[--other-boot]\n");
}

bool parse_number(const char* text, std::uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
    out = value;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::string db;
    std::uint64_t ago_ms = 0;
    bool have_ago = false;
    bool other_boot = false;
    pat::ReplicaState state;
    state.source_id = "put-replica-state";
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--other-boot") {
            other_boot = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "put-replica-state: %s needs a value\n", argv[i]);
            usage();
            return 2;
        }
        const char* value = argv[++i];
        bool ok = true;
        if (arg == "--db") {
            db = value;
        } else if (arg == "--verified-ago-ms") {
            ok = parse_number(value, ago_ms);
            have_ago = ok;
        } else if (arg == "--position") {
            ok = parse_number(value, state.position);
        } else if (arg == "--source-head") {
            ok = parse_number(value, state.source_head);
        } else {
            std::fprintf(stderr, "put-replica-state: unknown option %s\n", argv[i - 1]);
            usage();
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "put-replica-state: bad value for %s: %s\n", argv[i - 1], value);
            return 2;
        }
    }
    if (db.empty() || !have_ago) {
        usage();
        return 2;
    }

    auto boot = pat::current_boot_id();
    if (!boot) {
        std::fprintf(stderr, "put-replica-state: %s\n", boot.status().message().c_str());
        return 1;
    }
    state.boot_id = boot.value();
    if (other_boot) state.boot_id[0] ^= 0xff;  // a boot id this machine does not have
    const auto ago_ns = static_cast<std::int64_t>(ago_ms) * 1'000'000;
    state.verified_boot_ns = pat::boottime_ns() - ago_ns;
    const auto wall_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    state.verified_wall_ms = static_cast<std::int64_t>(wall_ms) - static_cast<std::int64_t>(ago_ms);

    auto opened = pat::Store::open(db, pat::Store::Mode::read_write);
    if (!opened) {
        std::fprintf(stderr, "put-replica-state: %s\n", opened.status().message().c_str());
        return 1;
    }
    pat::Store& store = *opened.value();
    const pat::Status written = store.engine().write(
        [&](pat::kv::Txn& txn) { return store.put_replica_state(txn, state); }, pat::kv::Space::ordinary);
    if (!written.ok()) {
        std::fprintf(stderr, "put-replica-state: %s\n", written.message().c_str());
        return 1;
    }
    return 0;
}
