#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include "cli_error.hpp"
#include "pat/token.hpp"

namespace patctl {
namespace {

std::size_t display_width(std::string_view text) {
    std::size_t width = 0;
    for (char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
            ++width;  // count lead bytes only: one per code point
        }
    }
    return width;
}

void write_all_stdio(std::string_view text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
        failure("cannot write to standard output");
    }
}

}  // namespace

std::string printable(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7F) {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0xF];
        } else {
            out += c;
        }
    }
    return out;
}

std::string printable_argument(std::string_view text) {
    if (text.substr(0, pat::kTokenPrefix.size()) == pat::kTokenPrefix) {
        return std::string(pat::kTokenPrefix) + "... (a token, not shown)";
    }
    return printable(text);
}

std::string format_time_utc(std::int64_t ms_since_epoch) {
    // Floor division, so a (corrupt) negative time still prints correctly.
    std::int64_t seconds = ms_since_epoch / 1000;
    if (ms_since_epoch % 1000 < 0) {
        --seconds;
    }
    std::time_t as_time_t = static_cast<std::time_t>(seconds);
    std::tm broken_down{};
    char buffer[64];
    if (gmtime_r(&as_time_t, &broken_down) == nullptr ||
        std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &broken_down) == 0) {
        return "(invalid time " + std::to_string(ms_since_epoch) + ")";
    }
    return buffer;
}

std::string format_time_or_never(std::int64_t ms_since_epoch) {
    return ms_since_epoch == 0 ? "never" : format_time_utc(ms_since_epoch);
}

Table::Table(std::vector<std::string> header) {
    rows_.push_back(std::move(header));
}

void Table::add_row(std::vector<std::string> cells) {
    for (std::string& cell : cells) {
        cell = printable(cell);
    }
    rows_.push_back(std::move(cells));
}

std::string Table::render() const {
    std::vector<std::size_t> widths;
    for (const auto& row : rows_) {
        if (widths.size() < row.size()) {
            widths.resize(row.size(), 0);
        }
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], display_width(row[i]));
        }
    }
    std::string out;
    for (const auto& row : rows_) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line.append(widths[i] - display_width(row[i]) + 2, ' ');
            }
        }
        out += line;
        out += '\n';
    }
    return out;
}

void print_text(std::string_view text) {
    write_all_stdio(text);
}

void print_line(std::string_view text) {
    write_all_stdio(text);
    write_all_stdio("\n");
}

void print_note(std::string_view text) {
    std::fprintf(stderr, "patctl: %.*s\n", static_cast<int>(text.size()), text.data());
}

bool write_secret_to_stdout(std::string& text) {
    std::fflush(stdout);  // keep the order of anything printed before
    std::size_t written = 0;
    bool failed = false;
    while (written < text.size()) {
        ssize_t n = ::write(STDOUT_FILENO, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            failed = true;
            break;
        }
        written += static_cast<std::size_t>(n);
    }
    pat::wipe(text);
    return !failed;
}

}  // namespace patctl
