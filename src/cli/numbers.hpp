// Strict whole-number parsing for option values and environment variables:
// the whole text must be a decimal number, optionally negative, in range.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace patctl {

std::optional<std::int64_t> parse_whole_number(std::string_view text);

}  // namespace patctl
