#include "options.hpp"

#include <charconv>
#include <string_view>

#include "pat/config.hpp"
#include "pat/directory.hpp"

namespace patd {

const char* const kUsage =
    "usage: patd [--db PATH] [--listen unix:PATH|ADDR:PORT] [options]\n"
    "       patd --source CONNFILE --db REPLICA [--listen ...] [options]\n"
    "       patd --check-config [--source CONNFILE] [--db PATH] [--listen ...]\n"
    "       patd --version\n"
    "\n"
    "Serves nginx-pat's token management API over HTTP; runs in the foreground, logs to stderr.\n"
    "  --db PATH               the token store, opened read-write (with --source: the node's replica,\n"
    "                          read-only) (default: $PAT_DB, else db = PATH in\n"
    "                          $PAT_CONFIG or /etc/nginx-pat/nginx-pat.conf, else /var/lib/nginx-pat/pat.db)\n"
    "  --source CONNFILE       fleet mode: read and write the fleet's source (PostgreSQL; CONNFILE holds\n"
    "                          one libpq connection string, not readable by others); --db is then the\n"
    "                          node's replica, read only: each change waits up to 2 s for it\n"
    "  --source-connections N  requests using the source at once, each its own connection (default 8)\n"
    "  --listen unix:PATH      a Unix socket, mode 0660 (default unix:/run/nginx-pat/patd.sock)\n"
    "  --listen ADDR:PORT      a TCP address, e.g. 127.0.0.1:8091 or [::1]:8091\n"
    "  --max-connections N     open connections at once (default 256)\n"
    "  --idle-timeout SECONDS  close a connection idle this long (default 10)\n"
    "  --max-sign-ins N        password checks at once; more get 503 (default 4)\n"
    "  --shutdown-grace SECONDS  SIGTERM: time for in-flight requests (default 5)\n"
    "  --nice N                run at least this nice (0-19, default 10: below nginx's workers)\n"
    "  --realm TEXT            the Basic realm (default nginx-pat)\n"
    "  --directory FILE|none   sign-in with the directory's passwords (docs/directory.md); default\n"
    "                          /etc/nginx-pat/directory.conf when that file exists\n"
    "  --log-file PATH         log to this file instead of stderr; SIGHUP reopens it\n"
    "  --check-config          open the store and the listen address, report, exit\n"
    "  --version               print the version, the store schema and LMDB's, and exit\n";

namespace {

bool parse_count(std::string_view text, unsigned min, unsigned max, unsigned& out) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return false;
    out = value;
    return true;
}

}  // namespace

ParsedOptions parse_options(const std::vector<std::string>& args) {
    Options options;
    struct Count {
        const char* name;
        unsigned* target;
        unsigned min, max;
    };
    const Count counts[] = {
        {"--max-connections", &options.max_connections, 1, 65536},
        {"--idle-timeout", &options.idle_timeout_s, 1, 3600},
        {"--max-sign-ins", &options.max_sign_ins, 1, 256},
        {"--shutdown-grace", &options.shutdown_grace_s, 0, 600},
        {"--nice", &options.nice, 0, 19},
        {"--source-connections", &options.source_connections, 1, 256},
    };
    std::optional<std::string> db_option;
    std::optional<std::string> directory_option;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--version") {
            options.version = true;
            continue;
        }
        if (arg == "--check-config") {
            options.check_config = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            options.help = true;
            continue;
        }
        if (i + 1 >= args.size()) return {std::nullopt, "patd: unknown option or missing value: " + arg};
        const std::string& value = args[++i];
        if (arg == "--db") {
            if (value.empty()) return {std::nullopt, "patd: --db wants a path"};
            db_option = value;
        } else if (arg == "--source") {
            if (value.empty()) return {std::nullopt, "patd: --source wants a CONNFILE"};
            options.source = value;
        } else if (arg == "--listen") {
            options.listen = value;
        } else if (arg == "--directory") {
            if (value.empty()) return {std::nullopt, "patd: --directory wants a file or none"};
            directory_option = value;
        } else if (arg == "--realm") {
            options.realm = value;
        } else if (arg == "--log-file") {
            if (value.empty()) return {std::nullopt, "patd: --log-file wants a path"};
            options.log_file = value;
        } else {
            bool known = false;
            for (const Count& count : counts) {
                if (arg != count.name) continue;
                known = true;
                if (!parse_count(value, count.min, count.max, *count.target)) {
                    return {std::nullopt, "patd: " + arg + " wants a number from " + std::to_string(count.min) +
                                              " to " + std::to_string(count.max) + ", not '" + value + "'"};
                }
            }
            if (!known) return {std::nullopt, "patd: unknown option: " + arg};
        }
    }
    if (options.version || options.help) return {options, ""};
    pat::Expected<pat::StorePath> store = pat::resolve_store_path(db_option);
    if (!store) return {std::nullopt, "patd: " + store.status().message(), false};
    options.db = store->path;
    options.db_source = store->source;
    if (!directory_option) {
        options.directory_file = pat::kDefaultDirectoryConfigPath;
    } else if (*directory_option != "none") {
        options.directory_file = *directory_option;
        options.directory_required = true;
    }
    return {options, ""};
}

}  // namespace patd
