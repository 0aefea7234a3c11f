// patd's log: one line per event on stderr, with a syslog-style level
// prefix ("<5>" for notice...) that journald reads as the line's priority.
// Never a secret: callers pass token ids, names and addresses only.
//
// With --log-file, the file takes stderr's place (descriptor 2), opened for
// appending; SIGHUP opens the path again (after logrotate moved the file).
#pragma once

#include <string>
#include <string_view>

namespace patd {

enum class Level { crit = 2, error = 3, warn = 4, notice = 5, info = 6 };

void log_line(Level level, std::string_view text) noexcept;

// Opens path for appending (created 0640) and puts it in stderr's place.
// False and a message when it cannot be opened (stderr stays as it was).
bool open_log_file(const std::string& path, std::string& error) noexcept;

}  // namespace patd
