#include "numbers.hpp"

#include <charconv>

namespace patctl {

std::optional<std::int64_t> parse_whole_number(std::string_view text) {
    std::int64_t value = 0;
    const char* end = text.data() + text.size();
    auto [stop, error] = std::from_chars(text.data(), end, value, 10);
    if (text.empty() || error != std::errc() || stop != end) {
        return std::nullopt;
    }
    return value;
}

}  // namespace patctl
