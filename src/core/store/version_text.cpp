// pat/version_text.hpp: the release, the store schema and the LMDB library.
#include "pat/version_text.hpp"

#include <lmdb.h>

#include "pat/store.hpp"
#include "pat/version.hpp"

namespace pat {

std::string lmdb_version() {
    int major = 0, minor = 0, patch = 0;
    mdb_version(&major, &minor, &patch);
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::string version_text(std::string_view program) {
    return std::string(program) + " " + kVersion + "\nstore schema " + std::to_string(kSchemaVersion) + ", LMDB " +
           lmdb_version() + "\n";
}

}  // namespace pat
