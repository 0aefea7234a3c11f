// Permission errors that name the file and the permission (access.hpp).
//
// LMDB reports EACCES without saying on which file, and a stat(2) through a
// directory one may not enter fails with EACCES too, which must never read
// as "does not exist". So after an open failed, the path is walked the way
// the open walks it, with the process's effective ids (faccessat with
// AT_EACCESS): every directory on the way entered, then the data file, then
// PATH-lock (every reader registers there, so even reading needs it
// writable; when it is absent, the directory must take it).
#include "access.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace pat {
namespace {

bool denied(int error) {
    return error == EACCES || error == EPERM || error == EROFS;
}

// 0, or why the access is refused (errno).
int refused(const std::string& path, int mode) {
    return ::faccessat(AT_FDCWD, path.c_str(), mode, AT_EACCESS) == 0 ? 0 : errno;
}

std::string user_name(uid_t uid) {
    char buffer[4096];
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) return found->pw_name;
    return std::to_string(uid);
}

std::string group_name(gid_t gid) {
    char buffer[4096];
    group entry{};
    group* found = nullptr;
    if (::getgrgid_r(gid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) return found->gr_name;
    return std::to_string(gid);
}

// "it is nginx-pat:www-data, mode 0640; run as nginx-pat or root": whose the
// file is and who holds the permission bits (rwx as 4, 2, 1) it lacks.
std::string whose_and_who_may(const std::string& path, unsigned bits) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "run as its owner or root";
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    const std::string owner = user_name(st.st_uid);
    const std::string group = group_name(st.st_gid);
    std::string text = "it is " + owner + ":" + group + ", mode " + mode + "; ";
    const auto has = [&](unsigned shift) { return ((st.st_mode >> shift) & bits) == bits; };
    std::vector<std::string> who;
    if (has(6) && st.st_uid != 0) who.push_back(owner);
    if (has(3)) who.push_back("a member of group " + group);
    if (has(0)) return text + "anyone may: an ACL or a security module refuses it";
    if (who.empty()) return text + "run as root";
    who.push_back("root");
    text += "run as ";
    for (std::size_t i = 0; i < who.size(); ++i) {
        if (i != 0) text += i + 1 == who.size() ? (who.size() > 2 ? ", or " : " or ") : ", ";
        text += who[i];
    }
    return text;
}

std::string reason(int error) {
    return error == EROFS ? "read-only file system" : "permission denied";
}

// "store: WHAT (permission denied): DETAIL; it is OWNER:GROUP, mode M; run as ..."
Status problem(const std::string& what, int error, const std::string& file, unsigned bits,
               const std::string& detail = {}) {
    std::string text = "store: " + what + " (" + reason(error) + ")";
    if (!detail.empty()) text += ": " + detail;
    if (error != EROFS) text += (detail.empty() ? ": " : "; ") + whose_and_who_may(file, bits);
    return {StatusCode::store_error, text};
}

std::string directory_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::optional<Status> explain_denied_access(const std::string& path, StoreAccess access) {
    const std::string directory = directory_of(path);
    // Every directory on the way must be entered (x), from the root (or the
    // working directory) down.
    std::vector<std::string> way;
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        way.push_back(path.substr(0, slash));
    }
    if (path.front() == '/') way.insert(way.begin(), "/");
    if (path.front() != '/') way.insert(way.begin(), ".");
    for (const std::string& step : way) {
        if (int error = refused(step, X_OK); denied(error)) {
            return problem("cannot reach " + path + ": cannot enter the directory " + step, error, step, 1);
        }
    }
    const std::string lock = path + "-lock";
    struct stat st {};
    const bool data_exists = ::stat(path.c_str(), &st) == 0;
    if (access == StoreAccess::create) {
        if (data_exists) return std::nullopt;
        if (int error = refused(directory, W_OK | X_OK); denied(error)) {
            return problem("cannot create " + path + ": cannot create files in the directory " + directory, error,
                           directory, 3);
        }
        return std::nullopt;
    }
    if (!data_exists) return std::nullopt;
    if (int error = refused(path, R_OK); denied(error)) {
        return problem("cannot open " + path + " for reading", error, path, 4);
    }
    if (access == StoreAccess::write) {
        if (int error = refused(path, W_OK); denied(error)) {
            return problem("cannot open " + path + " for writing", error, path, 2);
        }
    }
    if (::stat(lock.c_str(), &st) == 0) {
        if (int error = refused(lock, R_OK | W_OK); denied(error)) {
            return problem("cannot open " + lock + " for writing", error, lock, 6,
                           "LMDB readers register there, so reading needs it too");
        }
    } else if (errno == ENOENT) {
        if (int error = refused(directory, W_OK | X_OK); denied(error)) {
            return problem("cannot create " + lock + " in the directory " + directory, error, directory, 3,
                           "LMDB readers register there; the store's owner creates it on its first open");
        }
    }
    return std::nullopt;
}

}  // namespace pat
