#include "args.hpp"

#include <cstring>

#include "cli_error.hpp"
#include "output.hpp"
#include "pat/token.hpp"

namespace patctl {
namespace {

// clang-format off
constexpr OptionSpec kOptions[] = {
    // name              value  secret
    {"db",               true,  false},
    {"json",             false, false},
    {"help",             false, false},
    {"version",          false, false},
    {"display-name",     true,  false},
    {"sysadmin",         false, false},
    {"password-stdin",   false, false},
    {"name",             true,  false},
    {"project",          true,  false},
    {"repo",             true,  false},
    {"expiry-days",      true,  false},
    {"max-size",         true,  false},
    {"token",            true,  true},
    {"token-stdin",      false, false},
    {"anonymous",        false, false},
    {"user",             true,  false},
    {"group",            true,  false},
    {"all-users",        false, false},
    {"need",             true,  false},
    {"limit",            true,  false},
    {"older-than",       true,  false},
    {"method",           true,  false},
    {"path",             true,  false},
    {"rules",            true,  false},
    {"force",            false, false},
    {"config",           true,  false},
    {"dry-run",          false, false},
    {"prune",            false, false},
    {"output",           true,  false},
    {"directory",        true,  false},
    {"source",           true,  false},
    {"follower-role",    true,  false},
    {"writer-role",      true,  false},
    {"keep",             true,  false},
    {"node",             true,  false},
    // patctl policy set
    {"require-expiry",      true,  false},
    {"max-expiry-days",     true,  false},
    {"max-tokens-per-user", true,  false},
    {"creation",            true,  false},
    // patctl token list, revoke and notify
    {"expiring-within",  true,  false},
    {"expired",          false, false},
    {"unused-since",     true,  false},
    {"days",             true,  false},
    {"exec",             true,  false},
};
// clang-format on

}  // namespace

const OptionSpec* find_option(std::string_view name) {
    for (const OptionSpec& spec : kOptions) {
        if (spec.name == name) {
            return &spec;
        }
    }
    return nullptr;
}

ParsedArgs::~ParsedArgs() {
    for (auto& [name, value] : values_) {
        const OptionSpec* spec = find_option(name);
        if (spec != nullptr && spec->secret) {
            pat::wipe(value);
        }
    }
}

bool ParsedArgs::has(std::string_view option) const {
    return flags_.find(option) != flags_.end() || values_.find(option) != values_.end();
}

const std::string* ParsedArgs::value(std::string_view option) const {
    auto it = values_.find(option);
    return it == values_.end() ? nullptr : &it->second;
}

void ParsedArgs::add_flag(std::string_view option) {
    if (!flags_.emplace(option).second) {
        usage_error("option --" + std::string(option) + " given twice");
    }
    option_names.emplace_back(option);
}

void ParsedArgs::add_value(std::string_view option, std::string value) {
    if (values_.find(option) != values_.end()) {
        const OptionSpec* spec = find_option(option);
        if (spec != nullptr && spec->secret) {
            pat::wipe(value);
        }
        usage_error("option --" + std::string(option) + " given twice");
    }
    values_.emplace(std::string(option), std::move(value));
    option_names.emplace_back(option);
}

ParsedArgs parse_arguments(int argc, char** argv) {
    ParsedArgs parsed;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-h") {
            parsed.add_flag("help");
            continue;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            parsed.words.emplace_back(arg);  // also a lone "-"
            continue;
        }
        if (arg[1] != '-' || arg.size() == 2) {
            usage_error("unknown option " + printable(arg) + " (see patctl --help)");
        }
        std::string_view body = arg.substr(2);
        std::string_view name = body;
        bool inline_value = false;
        std::size_t equals = body.find('=');
        if (equals != std::string_view::npos) {
            name = body.substr(0, equals);
            inline_value = true;
        }
        const OptionSpec* spec = find_option(name);
        if (spec == nullptr) {
            usage_error("unknown option --" + printable(name) + " (see patctl --help)");
        }
        if (!spec->takes_value) {
            if (inline_value) {
                usage_error("option --" + std::string(name) + " takes no value");
            }
            parsed.add_flag(name);
            continue;
        }
        char* value_text = nullptr;
        if (inline_value) {
            value_text = argv[i] + 2 + equals + 1;
        } else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) {
            // A following "--option" is a forgotten value, not the value:
            // a value that starts with "--" is written --name=--value.
            value_text = argv[++i];
        } else {
            usage_error("option --" + std::string(name) + " needs a value");
        }
        std::string value = value_text;
        if (spec->secret) {
            // The process title is visible to every local user via ps.
            std::memset(value_text, 'x', std::strlen(value_text));
        }
        if (value.empty()) {
            usage_error("option --" + std::string(name) + " needs a non-empty value");
        }
        parsed.add_value(name, std::move(value));
    }
    return parsed;
}

}  // namespace patctl
