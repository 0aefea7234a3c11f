// Where patctl and patd find the store: one rule for both programs.
//
//   1. --db PATH on the command line
//   2. the environment variable PAT_DB
//   3. `db = PATH` in the configuration file: /etc/nginx-pat/nginx-pat.conf,
//      or the file the environment variable PAT_CONFIG names
//   4. the built-in default, /var/lib/nginx-pat/pat.db
//
// The first one given wins; the configuration file is read only when neither
// --db nor PAT_DB is given. An empty PAT_DB or PAT_CONFIG counts as unset.
//
// The file's format is small and strict (docs/configuration.md):
//
//   # a comment: the whole line, '#' as its first non-blank character
//   db = /var/lib/nginx-pat/pat.db
//
// One `key = value` a line; blank lines are ignored; blanks around the key
// and the value are not part of them. The only key is `db`, an absolute
// path, at most once. Anything else (an unknown key, a line without '=', an
// empty or relative value, a key given twice, a control character, a file
// over 64 KiB) is an error naming FILE:LINE. The default file may be absent;
// a file named by PAT_CONFIG must exist.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pat/status.hpp"

namespace pat {

inline constexpr const char* kDefaultStorePath = "/var/lib/nginx-pat/pat.db";
inline constexpr const char* kDefaultConfigPath = "/etc/nginx-pat/nginx-pat.conf";
inline constexpr std::size_t kMaxConfigSize = 64 * 1024;

struct Config {
    std::optional<std::string> db;
    unsigned db_line = 0;  // where db was set (for messages), 0 when unset
};

// Parses the text of a configuration file; `file` names it in messages
// ("FILE:LINE: ..."). invalid_argument on any malformed line.
Expected<Config> parse_config(std::string_view text, const std::string& file);

// Reads and parses a configuration file. An absent file is an empty Config
// when may_be_absent, an error otherwise; an unreadable one is an error.
Expected<Config> load_config(const std::string& path, bool may_be_absent);

struct StorePath {
    std::string path;
    std::string source;  // "--db", "PAT_DB", "FILE:LINE" or "built-in default"
};

// The store path by the rule above. from_option: --db when given; env_db,
// env_config: the values of PAT_DB and PAT_CONFIG (nullptr when unset).
Expected<StorePath> resolve_store_path(const std::optional<std::string>& from_option, const char* env_db,
                                       const char* env_config);

// The same, with PAT_DB and PAT_CONFIG taken from the environment.
Expected<StorePath> resolve_store_path(const std::optional<std::string>& from_option);

}  // namespace pat
