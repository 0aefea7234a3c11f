// The command line, split into positional words and options.
//
// Every option patctl knows is listed once, with whether it takes a value, so
// options can be parsed before the command is known and may appear anywhere
// among the words. Which options a command accepts is checked afterwards
// (see commands.cpp).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace patctl {

struct OptionSpec {
    std::string_view name;  // without the leading "--"
    bool takes_value;
    bool secret;  // the value is wiped from argv and from memory
};

// nullptr when patctl has no such option.
const OptionSpec* find_option(std::string_view name);

class ParsedArgs {
   public:
    ParsedArgs() = default;
    ParsedArgs(const ParsedArgs&) = delete;
    ParsedArgs& operator=(const ParsedArgs&) = delete;
    ParsedArgs(ParsedArgs&&) = default;
    ParsedArgs& operator=(ParsedArgs&&) = default;
    ~ParsedArgs();  // wipes secret values

    std::vector<std::string> words;  // positional arguments, in order
    // Options as given, in order of appearance (for "not accepted" messages).
    std::vector<std::string> option_names;

    bool has(std::string_view option) const;
    // nullptr when the option was not given (or is a flag).
    const std::string* value(std::string_view option) const;

    void add_flag(std::string_view option);
    void add_value(std::string_view option, std::string value);

   private:
    std::set<std::string, std::less<>> flags_;
    std::map<std::string, std::string, std::less<>> values_;
};

// Throws CliError (usage) on an unknown option, a missing or empty value, or
// an option given twice. Overwrites the argv copies of secret values so they
// disappear from /proc/PID/cmdline.
ParsedArgs parse_arguments(int argc, char** argv);

}  // namespace patctl
