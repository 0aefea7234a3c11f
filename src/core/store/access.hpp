// Why a store cannot be opened, when the reason is a permission: which file
// (a directory on the way, the data file, LMDB's lock file PATH-lock), which
// permission is missing, whose file it is and who may. Called after an open
// failed, never on the way to a successful one (open.cpp).
#pragma once

#include <optional>
#include <string>

#include "pat/status.hpp"

namespace pat {

enum class StoreAccess {
    create,  // a new store: the directory must take new files
    read,    // the data file read; the lock file read and written
    write,   // the data file and the lock file read and written
};

// A store_error naming the first permission this process lacks for the
// access, or nullopt when it lacks none (the failure has another cause).
std::optional<Status> explain_denied_access(const std::string& path, StoreAccess access);

}  // namespace pat
