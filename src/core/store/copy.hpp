// Checking a store file that no process uses (a backup about to be
// restored), for copy.cpp; implemented in open.cpp beside the open it
// mirrors.
#pragma once

#include <string>

#include "pat/status.hpp"

namespace pat {

// Whether path holds a whole LMDB file with every table of an nginx-pat
// store of this schema. Opens it read-only without a lock file (MDB_NOLOCK):
// nothing is created beside it. Only for a file no other process writes.
Status check_store_copy(const std::string& path);

}  // namespace pat
