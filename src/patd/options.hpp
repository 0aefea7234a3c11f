// patd's command line: what to open, where to listen, and the limits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace patd {

inline constexpr const char* kDefaultListen = "unix:/run/nginx-pat/patd.sock";

struct Options {
    // --db, else $PAT_DB, the configuration file or the default: the one
    // rule of patctl too (pat/config.hpp). Resolved unless --version or --help.
    std::string db;
    std::string db_source;  // "--db", "PAT_DB", "FILE:LINE" or "built-in default"
    // Fleet mode (docs/fleet.md): --source CONNFILE, the fleet's PostgreSQL
    // source, which the API reads and writes; db is then the node's replica,
    // opened read-only, which patd waits on after each change. Empty: the
    // single-host mode (db opened read-write).
    std::string source;
    unsigned source_connections = 8;      // connections to the source at once (one per request)
    std::string listen = kDefaultListen;  // unix:PATH or ADDR:PORT
    unsigned max_connections = 256;       // open connections at once; more are refused
    unsigned idle_timeout_s = 10;         // a connection silent this long is closed
    unsigned max_sign_ins = 4;            // password checks at once (scrypt: 32 MiB each)
    unsigned shutdown_grace_s = 5;        // SIGTERM: how long in-flight requests may finish
    unsigned nice = 10;                   // CPU priority below nginx's workers (0: as started)
    std::string realm = "nginx-pat";
    // The directory (docs/directory.md): --directory FILE, which must load;
    // without it the default file when it exists; --directory none: no
    // directory even when that file exists. Empty: none.
    std::string directory_file;
    bool directory_required = false;  // given with --directory: a missing file is an error
    std::string log_file;             // empty: stderr as given
    bool check_config = false;
    bool version = false;
    bool help = false;
};

// The options, or an error message for the user (usage included). A
// configuration file that cannot be read or parsed is an error too.
struct ParsedOptions {
    std::optional<Options> options;
    std::string error;
    bool usage_error = true;  // false: the configuration file (exit 1, no usage text)
};
ParsedOptions parse_options(const std::vector<std::string>& args);

extern const char* const kUsage;

}  // namespace patd
