// patctl follow: the node's follower (src/fleet/follower.hpp, docs/fleet.md).
// Runs until SIGTERM or SIGINT; one line per event on stderr.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "../fleet/follower.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "pat/fleet.hpp"

namespace patctl {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int) {
    g_stop.store(true);
}

std::string default_node_name() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return "node";
    std::string name;
    for (const char* p = host; *p != '\0' && *p != '.' && name.size() < 40; ++p) {
        const char c = *p;
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        name += ok ? c : '-';
    }
    return name.empty() ? "node" : name;
}

}  // namespace

int run_follow(const Invocation& invocation) {
    const std::string* source = invocation.args.value("source");
    if (source == nullptr) usage_error("--source CONNFILE is required (a file holding a libpq connection string)");
    pat::fleet::FollowerOptions options;
    options.db_path = invocation.db_path;
    options.node = default_node_name();
    if (const std::string* node = invocation.args.value("node")) {
        if (!pat::fleet::valid_node_name(*node)) {
            usage_error("invalid --node '" + printable(*node) + "': 1 to 40 characters from A-Z a-z 0-9 . _ -");
        }
        options.node = *node;
    }
    if (const std::string* text = invocation.args.value("max-size")) {
        const std::optional<std::int64_t> mib = parse_whole_number(*text);
        if (!mib || *mib < 1 || *mib > (std::int64_t{1} << 20)) {
            usage_error("invalid --max-size '" + printable(*text) +
                        "': expected a whole number of MiB from 1 to 1048576");
        }
        options.max_size = static_cast<std::size_t>(*mib) << 20;
    }
    options.conninfo = take(pat::fleet::read_connfile(*source));

    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: poll() returns at once
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    const std::string prefix = "patctl follow[" + options.node + "]: ";
    pat::fleet::Follower follower(options, [&](const std::string& line) {
        std::string text = prefix + printable(line) + "\n";
        std::fputs(text.c_str(), stderr);
        std::fflush(stderr);
    });
    std::fputs((prefix + "following into " + printable(options.db_path) + "\n").c_str(), stderr);
    follower.run(g_stop);
    std::fputs((prefix + "stopped at seq " + std::to_string(follower.position()) + "\n").c_str(), stderr);
    return kExitOk;
}

}  // namespace patctl
