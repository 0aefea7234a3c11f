// patd: serves nginx-pat's token management API (pat::ManagementApi) over
// HTTP on a Unix socket or a loopback port, with the store opened
// read-write. A thin program over the core: options, the listening socket,
// the HTTP server (server.cpp), and signals. Runs in the foreground and
// logs to stderr (systemd style).
//
//   SIGTERM, SIGINT  stop accepting, let in-flight requests finish for up to
//                    --shutdown-grace seconds, then close everything and exit 0
//   SIGHUP           reopen the log: with --log-file, the path is opened
//                    again (logrotate); on stderr there is nothing to
//                    reopen, and the signal is only logged
//
// Ten times a second the main thread also checks that the store path still
// names the open file and reopens it when it was replaced (StoreHolder).
//
// Fleet mode (--source CONNFILE, docs/patd.md#fleet-mode): the API reads and
// writes the fleet's source in PostgreSQL (SourcePool), --db names the
// node's replica, opened read-only, which each change waits for
// (ReplicationWatch), the throttle is counted in the source
// (FleetSignInLimiter), and a thread pushes the replica's usage file to the
// source every 10 s and at shutdown (UsagePush).

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fleet_limiter.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "options.hpp"
#include "pat/directory.hpp"
#include "pat/fleet.hpp"
#include "pat/sign_in_limiter.hpp"
#include "pat/store.hpp"
#include "pat/version_text.hpp"
#include "server.hpp"
#include "store_holder.hpp"
#include "usage_push.hpp"

namespace {

int run(const patd::Options& options) {
    // Blocked in every thread (libmicrohttpd's threads inherit the mask);
    // the main thread takes them with sigwait.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::string error;
    if (!options.log_file.empty() && !patd::open_log_file(options.log_file, error)) {
        patd::log_line(patd::Level::crit, "cannot open the log file " + error);
        return 1;
    }
    // Below nginx's workers: a password check is ~0.1 s of CPU, and under a
    // sign-in flood they would otherwise take the cores from token checks
    // (each thread inherits this; a higher nice from the service manager
    // stays, as lowering it needs privilege).
    errno = 0;
    const int nice_now = getpriority(PRIO_PROCESS, 0);
    if (errno == 0 && nice_now < static_cast<int>(options.nice)) {
        (void)setpriority(PRIO_PROCESS, 0, static_cast<int>(options.nice));
    }
    const bool fleet = !options.source.empty();
    std::unique_ptr<patd::SourcePool> source;
    std::unique_ptr<patd::ReplicationWatch> replication;
    patd::StoreHolder store;
    if (fleet) {
        // The CONNFILE first, on its own: the clearest message for a file
        // that is missing, unreadable or readable by others.
        if (pat::Expected<std::string> conninfo = pat::fleet::read_connfile(options.source); !conninfo) {
            patd::log_line(patd::Level::crit, "--source " + options.source + ": " + conninfo.status().message());
            return 1;
        }
        source = std::make_unique<patd::SourcePool>(options.source, options.source_connections);
        if (!source->open(error)) {
            patd::log_line(patd::Level::crit,
                           "cannot open the fleet source (--source " + options.source + "): " + error);
            return 1;
        }
        // The replica may not be there yet (its follower is bootstrapping
        // it): changes then wait their 2 s and say so, until it is.
        if (store.open(options.db, error, pat::Store::Mode::read_only)) {
            auto state = store.lease()->replica_state();
            if (state && !*state) {
                patd::log_line(patd::Level::crit, "--db " + options.db +
                                                      " is not a fleet replica (no follower has written it): "
                                                      "give the node's replica, which patctl follow keeps");
                return 1;
            }
        } else {
            patd::log_line(patd::Level::warn, "the replica " + options.db +
                                                  " cannot be opened yet; changes will wait for it (is patctl "
                                                  "follow running?)");
        }
        replication = std::make_unique<patd::ReplicationWatch>(store, options.source);
    } else {
        if (!store.open(options.db, error)) return 1;  // logged by the holder
        // A fleet replica has one writer, its follower.
        auto state = store.lease()->replica_state();
        if (state && *state) {
            patd::log_line(patd::Level::crit, "the store " + options.db +
                                                  " is a fleet replica, written only by its follower: give "
                                                  "--source CONNFILE to write the fleet's source");
            return 1;
        }
    }
    // Read once at start: a changed file takes a restart. A file given with
    // --directory must load; the default file only when it exists.
    std::unique_ptr<const pat::DirectoryClient> directory;
    if (!options.directory_file.empty() &&
        (options.directory_required || access(options.directory_file.c_str(), F_OK) == 0)) {
        pat::Expected<pat::DirectoryConfig> config = pat::load_directory_config(options.directory_file);
        if (!config) {
            patd::log_line(patd::Level::crit, "the directory: " + config.status().message());
            return 1;
        }
        for (const std::string& warning : config->warnings()) patd::log_line(patd::Level::warn, warning);
        directory = std::make_unique<const pat::DirectoryClient>(std::move(*config));
    }
    patd::Listener listener = patd::open_listener(options.listen, error);
    if (listener.fd < 0) {
        patd::log_line(patd::Level::crit, "cannot listen on " + options.listen + ": " + error);
        return 1;
    }
    if (options.check_config) {
        if (fleet) {
            // The throttle's table too: patd would not start without it.
            pat::SignInLimiter local([](std::string_view) { return false; });
            patd::FleetSignInLimiter throttle(local, options.source);
            if (!throttle.open(error)) {
                patd::log_line(patd::Level::crit, error);
                patd::close_listener(listener);
                return 1;
            }
            std::printf("patd: fleet source %s opens\npatd: replica %s (from %s) %s\npatd: listen %s ok\n",
                        options.source.c_str(), options.db.c_str(), options.db_source.c_str(),
                        store.lease() ? "opens read-only" : "cannot be opened yet", options.listen.c_str());
        } else {
            std::printf("patd: store %s (from %s) opens read-write\npatd: listen %s ok\n", options.db.c_str(),
                        options.db_source.c_str(), options.listen.c_str());
        }
        if (directory) std::printf("patd: directory %s read\n", directory->config().file.c_str());
        std::printf("patd: configuration ok\n");
        patd::close_listener(listener);
        return 0;
    }
    std::unique_ptr<patd::Server> server =
        patd::Server::start(store, options, directory.get(), listener.fd, error, source.get(), replication.get());
    if (!server) {
        patd::log_line(patd::Level::crit, error);
        patd::close_listener(listener);
        return 1;
    }
    patd::log_line(
        patd::Level::notice,
        "serving the token API on " + options.listen +
            (fleet ? " (fleet source " + options.source + ", replica " + options.db : " (store " + options.db) +
            ", at most " + std::to_string(options.max_connections) + " connections and " +
            std::to_string(options.max_sign_ins) + " sign-ins at once" +
            (directory ? ", directory " + directory->config().file : std::string()) + ")");
    std::unique_ptr<patd::UsagePush> usage_push;
    if (fleet) {
        usage_push = std::make_unique<patd::UsagePush>(options.source, options.db);
        usage_push->start();
    }
    // Ten times a second: one stat(2) of the store path, so that an idle
    // patd lets go of a replaced file within a tenth of a second.
    const timespec tend_interval{0, 100'000'000};
    auto next_sweep = std::chrono::steady_clock::now();
    for (;;) {
        const int signal_number = sigtimedwait(&signals, nullptr, &tend_interval);
        if (signal_number < 0) {
            store.tend();  // a timeout (or EINTR): check the store path
            if (fleet && std::chrono::steady_clock::now() >= next_sweep) {
                server->sweep_throttle();
                next_sweep = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            }
            continue;
        }
        if (signal_number != SIGHUP) break;
        if (options.log_file.empty()) {
            patd::log_line(patd::Level::notice, "SIGHUP: logs go to stderr, nothing to reopen");
        } else if (patd::open_log_file(options.log_file, error)) {
            patd::log_line(patd::Level::notice, "SIGHUP: reopened the log file " + options.log_file);
        } else {
            patd::log_line(patd::Level::error, "SIGHUP: cannot reopen the log file " + error + "; logging on");
        }
    }
    patd::log_line(patd::Level::notice, "shutting down: no new connections, in-flight requests get " +
                                            std::to_string(options.shutdown_grace_s) + " s");
    server->quiesce();
    patd::close_listener(listener);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.shutdown_grace_s);
    while (server->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const unsigned left = server->connections();
    const patd::Server::Counters counted = server->counters();
    server.reset();                      // closes what is left; joins the threads
    if (usage_push) usage_push->stop();  // a last push of the uses nginx recorded
    store.close();
    patd::log_line(
        patd::Level::notice,
        (left == 0 ? std::string("stopped") : "stopped, closing " + std::to_string(left) + " open connection(s)") +
            "; password checks run: " + std::to_string(counted.checks) + ", dropped as their client had gone: " +
            std::to_string(counted.dropped) + ", refused as too many at once: " + std::to_string(counted.busy));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const patd::ParsedOptions parsed = patd::parse_options(args);
    if (!parsed.options) {
        if (!parsed.usage_error) {
            std::fprintf(stderr, "%s\n", parsed.error.c_str());
            return 1;
        }
        std::fprintf(stderr, "%s\n\n%s", parsed.error.c_str(), patd::kUsage);
        return 2;
    }
    const patd::Options& options = *parsed.options;
    if (options.help) {
        std::fputs(patd::kUsage, stdout);
        return 0;
    }
    if (options.version) {
        std::fputs(pat::version_text("patd").c_str(), stdout);
        return 0;
    }
    try {
        return run(options);
    } catch (const std::exception& e) {
        patd::log_line(patd::Level::crit, std::string("failed: ") + e.what());
        return 1;
    }
}
