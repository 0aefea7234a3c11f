#include "log.hpp"

#include <unistd.h>

#include <string>

namespace patd {

void log_line(Level level, std::string_view text) noexcept {
    static constexpr const char* names[] = {"", "", "crit", "error", "warn", "notice", "info"};
    try {
        const int n = static_cast<int>(level);
        std::string line = "<" + std::to_string(n) + ">patd: " + names[n] + ": ";
        line.append(text);
        line += '\n';
        // One write(2) per line: lines from several threads never interleave.
        (void)!::write(STDERR_FILENO, line.data(), line.size());
    } catch (...) {
    }
}

}  // namespace patd
