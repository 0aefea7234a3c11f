// Human output: safe rendering of untrusted text, times, aligned tables, and
// writing text that holds a secret without leaving a copy in stdio's buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace patctl {

// Text from the command line or the store, made safe for a terminal: control
// characters (which could move the cursor or forge a line) become "\xNN".
std::string printable(std::string_view text);

// printable(), except that a stray argument that looks like a token (say, a
// mistyped "--tokn npat_...") is not echoed into an error message.
std::string printable_argument(std::string_view text);

// ISO-8601 UTC with second precision: "2026-11-28T01:27:59Z".
std::string format_time_utc(std::int64_t ms_since_epoch);
// Same, or "never" for 0 (how the store marks "no expiry", "never used").
std::string format_time_or_never(std::int64_t ms_since_epoch);

// Columns aligned on display width (UTF-8 code points), two spaces apart.
class Table {
   public:
    explicit Table(std::vector<std::string> header);
    void add_row(std::vector<std::string> cells);  // cells are passed through printable()
    std::string render() const;

   private:
    std::vector<std::vector<std::string>> rows_;
};

// One line to stdout (adds the '\n'). Fails the command if stdout is broken.
void print_line(std::string_view text);
void print_text(std::string_view text);

// A note for the operator on stderr, "patctl: TEXT".
void print_note(std::string_view text);

// Writes text straight to file descriptor 1 (bypassing stdio's buffer), then
// wipes it. For output that holds a token. False when stdout is broken.
[[nodiscard]] bool write_secret_to_stdout(std::string& text);

}  // namespace patctl
