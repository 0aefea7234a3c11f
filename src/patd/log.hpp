// patd's log: one line per event on stderr, with a syslog-style level
// prefix ("<5>" for notice...) that journald reads as the line's priority.
// Never a secret: callers pass token ids, names and addresses only.
#pragma once

#include <string_view>

namespace patd {

enum class Level { crit = 2, error = 3, warn = 4, notice = 5, info = 6 };

void log_line(Level level, std::string_view text) noexcept;

}  // namespace patd
