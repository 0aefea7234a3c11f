// patctl backup, patctl restore: thin calls into the core
// (Store::backup_to, pat::restore_store in pat/store.hpp).

#include "cli_error.hpp"
#include "commands.hpp"
#include "json.hpp"
#include "output.hpp"
#include "render.hpp"

namespace patctl {

namespace {

// How long restore waits for the store's lock file to agree with the new
// file: nginx's workers and patd let go of the old one within about a second.
constexpr std::int64_t kRestoreWaitMs = 10'000;

}  // namespace

int run_backup(const Invocation& invocation) {
    const std::string& dest = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    throw_if_failed(store->backup_to(dest, invocation.args.has("force")));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("store", store->path()).field("backup", dest).end_object();
        print_json(json);
    } else {
        print_line("backed up " + printable(store->path()) + " to " + printable(dest));
    }
    return kExitOk;
}

int run_restore(const Invocation& invocation) {
    const std::string& source = invocation.operands[0];
    const pat::Restored restored = take(pat::restore_store(source, invocation.db_path, kRestoreWaitMs));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("store", invocation.db_path)
            .field("restored_from", source)
            .field("in_use", restored.in_use)
            .end_object();
        print_json(json);
    } else {
        print_line("restored " + printable(invocation.db_path) + " from " + printable(source));
    }
    if (!restored.in_use) {
        print_note("warning: " + printable(invocation.db_path) +
                   "-lock still describes the old file after 10 s: a process keeps the old store open (an "
                   "nginx worker, patd, a patctl); until it lets go, decisions fail closed and patctl refuses "
                   "changes");
    }
    return kExitOk;
}

}  // namespace patctl
