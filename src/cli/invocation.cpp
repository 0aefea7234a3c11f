#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "cli_error.hpp"
#include "commands.hpp"

namespace patctl {
namespace {

std::string unix_user_name() {
    uid_t uid = ::geteuid();
    char buffer[4096];
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
        return found->pw_name;
    }
    return "uid=" + std::to_string(uid);
}

}  // namespace

std::unique_ptr<pat::Store> Invocation::open_store(pat::Store::Mode mode) const {
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
