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
// Twice a second the main thread also checks that the store path still
// names the open file and reopens it when it was replaced (StoreHolder).

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

#include "listener.hpp"
#include "log.hpp"
#include "options.hpp"
#include "pat/directory.hpp"
#include "pat/store.hpp"
#include "pat/version_text.hpp"
#include "server.hpp"
#include "store_holder.hpp"

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
    patd::StoreHolder store;
    if (!store.open(options.db, error)) return 1;  // logged by the holder
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
        std::printf("patd: store %s (from %s) opens read-write\npatd: listen %s ok\n", options.db.c_str(),
                    options.db_source.c_str(), options.listen.c_str());
        if (directory) std::printf("patd: directory %s read\n", directory->config().file.c_str());
        std::printf("patd: configuration ok\n");
        patd::close_listener(listener);
        return 0;
    }
    std::unique_ptr<patd::Server> server = patd::Server::start(store, options, directory.get(), listener.fd, error);
    if (!server) {
        patd::log_line(patd::Level::crit, error);
        patd::close_listener(listener);
        return 1;
    }
    patd::log_line(patd::Level::notice,
                   "serving the token API on " + options.listen + " (store " + options.db + ", at most " +
                       std::to_string(options.max_connections) + " connections and " +
                       std::to_string(options.max_sign_ins) + " sign-ins at once" +
                       (directory ? ", directory " + directory->config().file : std::string()) + ")");
    // Ten times a second: one stat(2) of the store path, so that an idle
    // patd lets go of a replaced file within a tenth of a second.
    const timespec tend_interval{0, 100'000'000};
    for (;;) {
        const int signal_number = sigtimedwait(&signals, nullptr, &tend_interval);
        if (signal_number < 0) {
            store.tend();  // a timeout (or EINTR): check the store path
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
    server.reset();  // closes what is left; joins the threads
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
