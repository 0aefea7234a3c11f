#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "cli_error.hpp"
#include "commands.hpp"

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

// The owner of a file, by name where there is one.
std::optional<std::string> owner_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return user_name_of(st.st_uid).value_or(std::to_string(st.st_uid));
}

bool denied(int error) {
    return error == EACCES || error == EPERM || error == EROFS;
}

// Whether this process may write the file (with its effective ids, as the
// open will); ENOENT and the like are left to the open, which explains them.
int write_access(const std::string& path) {
    return ::faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0 ? 0 : errno;
}

// One line naming the cause and the way out: the store belongs to another
// user (nginx-pat in a packaged install), whom patctl must run as. file is
// the data file or its lock file, whichever may not be written.
[[noreturn]] void cannot_write(const std::string& db_path, const std::string& file, int error) {
    const std::string what = "cannot write the store " + db_path;
    const auto owner = owner_of(file);
    if (error == EROFS || !owner) failure(what + ": " + std::strerror(error));
    const std::string whose = file == db_path ? "it" : "its lock file " + file;
    failure(what + ": permission denied (" + whose + " belongs to " + *owner +
            "; run patctl as that user, e.g. sudo -u " + *owner + " patctl ...)");
}

// The store's path goes through a directory this user may not search: it
// may well exist. Names the first such directory and its owner.
[[noreturn]] void closed_directory(const std::string& db_path) {
    std::string directory;
    for (std::size_t slash = db_path.find('/', 1); slash != std::string::npos; slash = db_path.find('/', slash + 1)) {
        const std::string prefix = db_path.substr(0, slash);
        if (::faccessat(AT_FDCWD, prefix.c_str(), X_OK, AT_EACCESS) != 0) {
            directory = prefix;
            break;
        }
    }
    const auto owner = directory.empty() ? std::nullopt : owner_of(directory);
    if (!owner) failure("cannot read the store " + db_path + ": permission denied");
    failure("cannot read the store " + db_path + ": permission denied (the directory " + directory + " belongs to " +
            *owner + "; run patctl as that user, e.g. sudo -u " + *owner + " patctl ...)");
}

}  // namespace

std::unique_ptr<pat::Store> Invocation::open_store(pat::Store::Mode mode) const {
    // A reader registers in LMDB's lock file, so even reading needs write
    // access to it; a change also needs the data file. Say which one is
    // missing rather than LMDB's bare "Permission denied".
    const std::string lock = db_path + "-lock";
    struct stat st {};
    if (::stat(db_path.c_str(), &st) != 0 && denied(errno)) closed_directory(db_path);
    if (mode == pat::Store::Mode::read_write) {
        if (int error = write_access(db_path); denied(error)) cannot_write(db_path, db_path, error);
    } else if (::faccessat(AT_FDCWD, db_path.c_str(), R_OK, AT_EACCESS) != 0 && denied(errno)) {
        const auto owner = owner_of(db_path);
        failure(
            "cannot read the store " + db_path + ": permission denied" +
            (owner ? " (it belongs to " + *owner + "; run patctl as that user, e.g. sudo -u " + *owner + " patctl ...)"
                   : std::string()));
    }
    if (int error = write_access(lock); denied(error)) {
        if (mode == pat::Store::Mode::read_write) cannot_write(db_path, lock, error);
        const auto owner = owner_of(lock);
        failure("cannot read the store " + db_path + ": its lock file " + lock +
                " is not writable by you (LMDB readers register there" +
                (owner ? "; it belongs to " + *owner + ": run patctl as that user)" : std::string(")")));
    }
    return take(pat::Store::open(db_path, mode));
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
