// The store path rule and the configuration file (pat/config.hpp).
#include "pat/config.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace pat {
namespace {

constexpr std::string_view kBlanks = " \t";

std::string_view trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(kBlanks);
    if (first == std::string_view::npos) return {};
    const std::size_t last = text.find_last_not_of(kBlanks);
    return text.substr(first, last - first + 1);
}

// A key as it may be shown in a message: printable ASCII only, shortened.
std::string shown(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 40)) {
        const auto byte = static_cast<unsigned char>(c);
        out += byte >= 0x20 && byte < 0x7f ? c : '?';
    }
    if (text.size() > 40) out += "...";
    return out;
}

Status line_error(const std::string& file, unsigned line, const std::string& what) {
    return {StatusCode::invalid_argument, file + ":" + std::to_string(line) + ": " + what};
}

bool has_control_character(std::string_view text) {
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f) return true;
    }
    return false;
}

}  // namespace

Expected<Config> parse_config(std::string_view text, const std::string& file) {
    if (text.size() > kMaxConfigSize) {
        return Status{StatusCode::invalid_argument, file + ": larger than " + std::to_string(kMaxConfigSize / 1024) +
                                                        " KiB: not a configuration file"};
    }
    Config config;
    unsigned number = 0;
    while (!text.empty()) {
        ++number;
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (has_control_character(line)) return line_error(file, number, "a control character");
        const std::string_view content = trim(line);
        if (content.empty() || content.front() == '#') continue;
        const std::size_t equals = content.find('=');
        if (equals == std::string_view::npos) {
            return line_error(file, number, "expected 'key = value' or a '#' comment");
        }
        const std::string_view key = trim(content.substr(0, equals));
        const std::string_view value = trim(content.substr(equals + 1));
        if (key != "db") {
            return line_error(file, number,
                              key.empty() ? "a value without a key" : "unknown key '" + shown(key) + "' (known: db)");
        }
        if (config.db) {
            return line_error(file, number, "db given twice (first on line " + std::to_string(config.db_line) + ")");
        }
        if (value.empty()) return line_error(file, number, "db needs a path");
        if (value.front() != '/') return line_error(file, number, "db must be an absolute path");
        config.db = std::string(value);
        config.db_line = number;
    }
    return config;
}

Expected<Config> load_config(const std::string& path, bool may_be_absent) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int error = errno;
        if (error == ENOENT && may_be_absent) return Config{};
        return Status{StatusCode::invalid_argument,
                      "cannot read the configuration file " + path + ": " + std::strerror(error != 0 ? error : EIO)};
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        return Status{StatusCode::invalid_argument, "the configuration file " + path + " is not a regular file"};
    }
    std::string text;
    text.resize(kMaxConfigSize + 1);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) {
        return Status{StatusCode::invalid_argument, "cannot read the configuration file " + path};
    }
    text.resize(static_cast<std::size_t>(in.gcount()));
    return parse_config(text, path);
}

Expected<StorePath> resolve_store_path(const std::optional<std::string>& from_option, const char* env_db,
                                       const char* env_config) {
    if (from_option) return StorePath{*from_option, "--db"};
    if (env_db != nullptr && *env_db != '\0') return StorePath{env_db, "PAT_DB"};
    const bool named = env_config != nullptr && *env_config != '\0';
    const std::string file = named ? env_config : kDefaultConfigPath;
    Expected<Config> config = load_config(file, !named);
    if (!config) return config.status();
    if (config->db) return StorePath{*config->db, file + ":" + std::to_string(config->db_line)};
    return StorePath{kDefaultStorePath, "built-in default"};
}

Expected<StorePath> resolve_store_path(const std::optional<std::string>& from_option) {
    return resolve_store_path(from_option, std::getenv("PAT_DB"), std::getenv("PAT_CONFIG"));
}

}  // namespace pat
