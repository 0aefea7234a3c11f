// Wiping memory that held a secret (token text, a password, a buffer that
// carried either). Kept apart from token.hpp so that code which only handles
// secrets in passing (the JSON parser, the CLI's input reader) does not
// depend on the token format.
#pragma once

#include <cstddef>
#include <string>

namespace pat {

// Overwrite memory that held a secret in a way the compiler cannot elide.
void wipe(void* data, std::size_t size);
// The whole buffer, capacity included, then clear(): earlier, longer contents
// may linger past size().
void wipe(std::string& secret);

}  // namespace pat
