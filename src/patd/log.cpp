#include "log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

bool open_log_file(const std::string& path, std::string& error) noexcept {
    try {
        const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0) {
            error = path + ": " + std::strerror(errno);
            return false;
        }
        // dup2 replaces descriptor 2 in one step: a line written meanwhile
        // by another thread goes to the old file or the new one, whole.
        const bool moved = fd == STDERR_FILENO || ::dup2(fd, STDERR_FILENO) == STDERR_FILENO;
        if (!moved) error = path + ": " + std::strerror(errno);
        if (fd != STDERR_FILENO) ::close(fd);
        return moved;
    } catch (...) {
        return false;
    }
}

}  // namespace patd
