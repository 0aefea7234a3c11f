#include "store_probe.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "module_conf.hpp"
#include "pat/store.hpp"
#include "pat/version.hpp"

namespace pat::ngx {

namespace {

// Who the workers run as: the `user` directive, nginx's default when the
// master is root and there is none, nobody else's when it is not root
// (nginx then ignores the directive).
struct WorkersUser {
    bool switch_user = false;
    uid_t uid = 0;
    gid_t gid = 0;
    char name[64] = {};
};

WorkersUser workers_user(ngx_cycle_t* cycle) {
    WorkersUser who;
    if (geteuid() != 0) return who;
    const auto* ccf = reinterpret_cast<const ngx_core_conf_t*>(ngx_get_conf(cycle->conf_ctx, ngx_core_module));
    if (ccf != nullptr && ccf->user != static_cast<ngx_uid_t>(NGX_CONF_UNSET_UINT) && ccf->username != nullptr) {
        who.switch_user = true;
        who.uid = ccf->user;
        who.gid = ccf->group;
        std::snprintf(who.name, sizeof who.name, "%s", ccf->username);
        return who;
    }
    // No `user` directive (yet): the default nginx was built with.
    const passwd* pw = getpwnam(NGX_USER);
    const group* gr = getgrnam(NGX_GROUP);
    if (pw == nullptr || gr == nullptr) return who;
    who.switch_user = true;
    who.uid = pw->pw_uid;
    who.gid = gr->gr_gid;
    std::snprintf(who.name, sizeof who.name, "%s", NGX_USER);
    return who;
}

// What a sysadmin does about it, from what the workers' user sees.
enum class Trouble : char { none = '0', missing = 'm', permission = 'p', schema = 's', other = 'o' };

Trouble diagnose(const char* path, const std::string& message) {
    struct stat st;
    if (stat(path, &st) != 0) return errno == ENOENT ? Trouble::missing : Trouble::permission;
    if (access(path, R_OK) != 0) return Trouble::permission;
    const std::string lock = std::string(path) + "-lock";
    if (access(lock.c_str(), F_OK) == 0 ? access(lock.c_str(), R_OK | W_OK) != 0 : errno == EACCES) {
        return Trouble::permission;
    }
    if (message.find("Permission denied") != std::string::npos) return Trouble::permission;
    if (message.find("schema version") != std::string::npos) return Trouble::schema;
    return Trouble::other;
}

// The child: become the workers' user, open, report "<trouble><message>".
[[noreturn]] void run_child(const WorkersUser& who, const char* path, int out) noexcept {
    std::string report;
    try {
        if (who.switch_user && (setgid(who.gid) != 0 || initgroups(who.name, who.gid) != 0 || setuid(who.uid) != 0)) {
            report = std::string(1, static_cast<char>(Trouble::other)) +
                     "cannot take the workers' user: " + std::strerror(errno);
        } else {
            auto opened = Store::open(path, Store::Mode::read_only);
            if (opened) {
                report = std::string(1, static_cast<char>(Trouble::none)) + std::to_string((*opened)->schema_version());
            } else {
                const std::string& message = opened.status().message();
                report = std::string(1, static_cast<char>(diagnose(path, message))) + message;
            }
        }  // the store closes here: its reader slot is freed
    } catch (...) {
        report = std::string(1, static_cast<char>(Trouble::other)) + "out of memory";
    }
    const char* p = report.data();
    std::size_t left = report.size();
    while (left > 0) {
        const ssize_t n = write(out, p, left);
        if (n <= 0 && errno != EINTR) break;
        if (n > 0) {
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }
    _exit(0);
}

const char* fix_for(Trouble trouble) {
    switch (trouble) {
        case Trouble::missing:
            return "create it with 'patctl init' as the store's owner (docs/install.md), or correct the path";
        case Trouble::permission:
            return "the workers' user needs read access to the data file, read and write access to PATH-lock and "
                   "search access to its directory: owner nginx-pat, group of the workers, data file 0640, lock "
                   "file 0660, directory 0750 (docs/install.md)";
        case Trouble::schema:
            return "run the nginx-pat release that matches the store's schema, or upgrade the store as its "
                   "release notes say (docs/install.md)";
        case Trouble::none:
        case Trouble::other: break;
    }
    return "point auth_pat_db at a store made by 'patctl init', or restore the store from a backup "
           "(docs/install.md)";
}

void copy_text(char* out, std::size_t size, const char* text, std::size_t length) {
    const std::size_t n = length < size - 1 ? length : size - 1;
    std::memcpy(out, text, n);
    out[n] = '\0';
}

void set_text(char* out, std::size_t size, const char* text) {
    copy_text(out, size, text, std::strlen(text));
}

}  // namespace

void probe_store(ngx_cycle_t* cycle, const char* path, StoreProbe& out) noexcept {
    out = StoreProbe{};
    const WorkersUser who = workers_user(cycle);
    if (who.switch_user) set_text(out.user, sizeof out.user, who.name);
    set_text(out.fix, sizeof out.fix, fix_for(Trouble::other));

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        std::snprintf(out.message, sizeof out.message, "cannot check it: pipe() failed: %s", std::strerror(errno));
        return;
    }
    // The master reaps its children in its SIGCHLD handler; this one is
    // reaped here, so the signal waits until then.
    sigset_t block, previous;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &previous);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        run_child(who, path, fds[1]);
    }
    close(fds[1]);
    char report[sizeof out.message + 1];
    std::size_t got = 0;
    if (pid > 0) {
        for (;;) {
            const ssize_t n = read(fds[0], report + got, sizeof report - got);
            if (n > 0) got += static_cast<std::size_t>(n);
            if (n == 0 || got == sizeof report || (n < 0 && errno != EINTR)) break;
        }
    }
    close(fds[0]);
    int status = 0;
    pid_t reaped = -1;
    if (pid > 0) {
        do {
            reaped = waitpid(pid, &status, 0);
        } while (reaped < 0 && errno == EINTR);
    }
    sigprocmask(SIG_SETMASK, &previous, nullptr);

    if (pid < 0) {
        std::snprintf(out.message, sizeof out.message, "cannot check it: fork() failed: %s", std::strerror(errno));
        return;
    }
    if (reaped == pid && WIFSIGNALED(status)) {
        std::snprintf(out.message, sizeof out.message,
                      "opening it killed the checking process (signal %d): the file is damaged", WTERMSIG(status));
        return;
    }
    if (got == 0) {
        set_text(out.message, sizeof out.message, "the checking process reported nothing");
        return;
    }
    const auto trouble = static_cast<Trouble>(report[0]);
    if (trouble == Trouble::none) {
        out.ok = true;
        out.schema = got > 1 ? report[1] - '0' : 0;  // one digit: 1 or 2
        return;
    }
    copy_text(out.message, sizeof out.message, report + 1, got - 1);
    set_text(out.fix, sizeof out.fix, fix_for(trouble));
}

void log_start(ngx_cycle_t* cycle) noexcept {
    if (ngx_test_config) return;
    const auto* mcf =
        static_cast<const MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_auth_pat_module));
    if (mcf == nullptr || mcf->stores == nullptr || mcf->stores->nelts == 0) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "auth_pat %s: no auth_pat_db in the configuration", kVersion);
        return;
    }
    const auto* stores = static_cast<const StoreConf*>(mcf->stores->elts);
    for (ngx_uint_t i = 0; i < mcf->stores->nelts; ++i) {
        const char* path = reinterpret_cast<const char*>(stores[i].path.data);
        StoreProbe probe;
        probe_store(cycle, path, probe);
        if (probe.ok) {
            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "auth_pat %s: store %s schema %d", kVersion, path,
                          probe.schema);
        } else {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "auth_pat %s: store %s: the nginx workers%s%s%s cannot open it: %s; requests it protects "
                          "get 500 until it opens (tried again at most once a second). Fix: %s",
                          kVersion, path, probe.user[0] != '\0' ? " (user \"" : "", probe.user,
                          probe.user[0] != '\0' ? "\")" : "", probe.message, probe.fix);
        }
    }
}

}  // namespace pat::ngx
