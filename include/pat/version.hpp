// The release this source tree builds: printed by `patctl --version` and
// `patd --version`, logged by the module at start, and the version of the
// Debian packages (debian/changelog must agree; a test checks it).
#pragma once

namespace pat {

inline constexpr const char* kVersion = "0.9.0";

}  // namespace pat
