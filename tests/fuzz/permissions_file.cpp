// Fuzz target: the permissions file reader (pat::parse_permissions_file)
// and its writer.
//
// Invariants: no crash, no overread, no exception, bounded recursion on any
// input; a refusal is invalid_argument with one line "line N: ...", N within
// the file; an accepted file's state, written out, reads back as the same
// state (ignoring order and lines), and that text is a fixed point of read +
// write.
#include "pat/permissions_file.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/check.hpp"

namespace {

// Everything a state says, one sorted line per fact, without line numbers.
std::vector<std::string> facts(const pat::PermissionsState& state) {
    std::vector<std::string> out;
    for (const auto& user : state.users) {
        out.push_back("user " + user.name + " [" + user.display_name + "] " + (user.sysadmin ? "s" : "-") +
                      (user.active ? "a" : "-"));
    }
    for (const auto& group : state.groups) {
        out.push_back("group " + group.name);
        for (const auto& member : group.members) out.push_back("member " + group.name + " " + member.name);
    }
    for (const auto& grant : state.grants) {
        out.push_back("grant " + std::to_string(static_cast<int>(grant.kind)) + " " + grant.user + " " + grant.project +
                      "/" + grant.repo + " " + std::string(pat::level_name(grant.level)));
    }
    for (const auto& target : state.public_targets) out.push_back("public " + target.project + "/" + target.repo);
    std::sort(out.begin(), out.end());
    return out;
}

// Every line a state names lies within the file (1..lines).
bool lines_within(const pat::PermissionsState& state, std::size_t lines) {
    auto ok = [lines](std::size_t line) { return line >= 1 && line <= lines; };
    for (const auto& user : state.users) {
        if (!ok(user.line)) return false;
    }
    for (const auto& group : state.groups) {
        if (!ok(group.line)) return false;
        for (const auto& member : group.members) {
            if (!ok(member.line)) return false;
        }
    }
    for (const auto& grant : state.grants) {
        if (!ok(grant.line)) return false;
    }
    for (const auto& target : state.public_targets) {
        if (!ok(target.line)) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly the input's size, so an overread is an ASan report.
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    const auto parsed = pat::parse_permissions_file(text);
    if (!parsed) {
        const std::string& message = parsed.status().message();
        FUZZ_CHECK(parsed.status().code() == pat::StatusCode::invalid_argument, "a refusal without invalid_argument");
        FUZZ_CHECK(message.rfind("line ", 0) == 0 && message.find(": ") != std::string::npos,
                   "a refusal that does not start \"line N: \"");
        FUZZ_CHECK(message.find('\n') == std::string::npos, "a refusal of more than one line");
        const std::size_t line = std::stoul(message.substr(5));
        FUZZ_CHECK(line >= 1 && line <= lines + 1, "a refusal naming a line past the end of the file");
        return 0;
    }
    FUZZ_CHECK(lines_within(*parsed, lines), "an entry with a line outside the file");

    const std::string written = pat::write_permissions_file(*parsed);
    const auto reparsed = pat::parse_permissions_file(written);
    FUZZ_CHECK(reparsed.ok(), "a written file does not read back");
    FUZZ_CHECK(facts(*reparsed) == facts(*parsed), "a written file reads back as another state");
    FUZZ_CHECK(pat::write_permissions_file(*reparsed) == written, "read + write is not a fixed point");
    return 0;
}
