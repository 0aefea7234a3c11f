// What `patctl --version` and `patd --version` print: the release
// (pat::kVersion), then the store schema this build reads and writes and the
// LMDB library it runs with:
//
//   patctl 0.9.0
//   store schema 1, LMDB 0.9.24
#pragma once

#include <string>
#include <string_view>

namespace pat {

// "0.9.24": the LMDB library in use (mdb_version), not the headers built with.
std::string lmdb_version();

// The two lines above for the given program name, each ending in '\n'.
std::string version_text(std::string_view program);

}  // namespace pat
