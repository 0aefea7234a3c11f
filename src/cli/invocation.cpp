#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "pat/fleet.hpp"

namespace patctl {
namespace {

std::optional<std::string> user_name_of(uid_t uid) {
    char buffer[4096];
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
        return std::string(found->pw_name);
    }
    return std::nullopt;
}

std::string unix_user_name() {
    const uid_t uid = ::geteuid();
    return user_name_of(uid).value_or("uid=" + std::to_string(uid));
}

// Five seconds, a tenth of a second apart.
constexpr int kLockRegionAttempts = 50;

}  // namespace

std::unique_ptr<pat::Store> Invocation::open_store(pat::Store::Mode mode) const {
    // The fleet's source: the same rules over PostgreSQL (one connection,
    // with deadlines; the CONNFILE must not be readable by others). Reads
    // and writes alike: there is no read-only mode to ask for.
    if (!source.empty()) return take(pat::fleet::open_source_store(source, "nginx-pat patctl"));
    // The core names a missing permission itself: which file (a directory
    // on the way, the data file, its lock file), which permission, whose
    // file it is and who may (src/core/store/access.cpp).
    std::unique_ptr<pat::Store> store = take(pat::Store::open(db_path, mode));
    if (mode == pat::Store::Mode::read_only) return store;
    // A fleet replica has one writer, its follower (patctl follow): a change
    // written here would differ from the source and be undone or kept at
    // random. Changes go to the source.
    if (const std::optional<pat::ReplicaState> replica = take(store->replica_state())) {
        failure("the store " + printable(db_path) +
                " is a fleet replica, written only by its follower: make changes on the fleet source with "
                "--source CONNFILE (or $PAT_SOURCE)");
    }
    // A writer upgrades an older store in place, once (the core, in one
    // transaction, audited); the operator learns of it here, before the
    // command's own output. A reader never upgrades.
    if (const int from = store->upgraded_from(); from != 0) {
        print_note("upgraded the store " + printable(db_path) + " from schema " + std::to_string(from) + " to schema " +
                   std::to_string(pat::kSchemaVersion));
    }
    // A change must not build on a stale view: just after a restore, the
    // lock file may still describe the old file while nginx's workers or
    // patd let go of it (about a second). Wait for it, then give up.
    for (int attempt = 1; !store->check_lock_region().ok(); ++attempt) {
        if (attempt == kLockRegionAttempts) throw_if_failed(store->check_lock_region());
        store.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        store = take(pat::Store::open(db_path, mode));
    }
    return store;
}

pat::AuditContext Invocation::audit_context() const {
    pat::AuditContext context;
    context.actor = "patctl:" + unix_user_name();
    // Informational only (the caller controls its environment), but it names
    // the administrator behind "root" in the usual case.
    const char* sudo_user = std::getenv("SUDO_USER");
    if (sudo_user != nullptr && *sudo_user != '\0') {
        context.actor += " (sudo from " + std::string(sudo_user) + ")";
    }
    return context;
}

}  // namespace patctl
