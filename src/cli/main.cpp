// patctl: manage the nginx-pat token store. A thin shell over the core
// (include/pat/store.hpp): it parses the command line, calls one Store
// method and prints the result.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include "args.hpp"
#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "pat/config.hpp"
#include "pat/version_text.hpp"

namespace patctl {
namespace {

bool starts_with_words(const std::vector<std::string>& words, const Command& command) {
    if (words.size() < command.words.size()) {
        return false;
    }
    for (std::size_t i = 0; i < command.words.size(); ++i) {
        if (words[i] != command.words[i]) {
            return false;
        }
    }
    return true;
}

// Commands whose first word is the given one ("user" -> add, passwd, ...).
std::vector<const Command*> commands_in_group(std::string_view first_word) {
    std::vector<const Command*> group;
    for (const Command& command : all_commands()) {
        if (command.words.size() > 1 && command.words[0] == first_word) {
            group.push_back(&command);
        }
    }
    return group;
}

std::string group_usage(const std::vector<const Command*>& group) {
    std::string text = "usage:\n";
    for (const Command* command : group) {
        text += "  patctl ";
        text += command->synopsis;
        text += '\n';
    }
    text += "\nSee patctl " + std::string(group.front()->words[0]) + " SUBCOMMAND --help.\n";
    return text;
}

std::string subcommand_list(const std::vector<const Command*>& group) {
    std::string list;
    for (const Command* command : group) {
        if (!list.empty()) {
            list += ", ";
        }
        list += command->words[1];
    }
    return list;
}

const Command* find_command(const std::vector<std::string>& words) {
    const Command* best = nullptr;
    for (const Command& command : all_commands()) {
        if (starts_with_words(words, command) && (best == nullptr || command.words.size() > best->words.size())) {
            best = &command;
        }
    }
    return best;
}

std::string command_name(const Command& command) {
    std::string name;
    for (std::string_view word : command.words) {
        if (!name.empty()) {
            name += ' ';
        }
        name += word;
    }
    return name;
}

void check_options_accepted(const ParsedArgs& args, const Command& command) {
    for (const std::string& option : args.option_names) {
        if (option == "db" || option == "json" || option == "help") {
            continue;
        }
        bool accepted = false;
        for (std::string_view allowed : command.options) {
            accepted = accepted || allowed == option;
        }
        if (!accepted) {
            usage_error("option --" + option + " does not apply to '" + command_name(command) + "' (see patctl " +
                        command_name(command) + " --help)");
        }
    }
}

void check_operand_count(const std::vector<std::string>& operands, const Command& command) {
    std::string name = command_name(command);
    if (operands.size() < command.min_operands) {
        usage_error("'" + name + "' needs " + std::string(command.operand_names) + " (usage: patctl " +
                    std::string(command.synopsis) + ")");
    }
    if (operands.size() > command.max_operands) {
        usage_error("unexpected argument '" + printable_argument(operands[command.max_operands]) + "' for '" + name +
                    "'");
    }
}

// --db, $PAT_DB, the configuration file or the default (pat/config.hpp). A
// configuration file that cannot be read or parsed fails the command.
std::string store_path_from(const ParsedArgs& args) {
    std::optional<std::string> option;
    if (const std::string* db = args.value("db")) option = *db;
    return take(pat::resolve_store_path(option)).path;
}

// If patctl is started with stdin, stdout or stderr closed, the store's
// file or its lock file would be opened on that descriptor number, and the
// token (or an error message) written "to stdout" would land in the store.
// Fill closed slots with /dev/null first. A closed stdout is refused: the
// token would be lost.
void protect_standard_descriptors() {
    bool stdout_closed = false;
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
        if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int opened = ::open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
            if (opened != fd) {
                std::_Exit(kExitFailed);  // cannot happen: the lowest free number is fd
            }
            stdout_closed = stdout_closed || fd == STDOUT_FILENO;
        }
    }
    if (stdout_closed) {
        failure("standard output is closed");
    }
}

int run(int argc, char** argv) {
    protect_standard_descriptors();
    ParsedArgs args = parse_arguments(argc, argv);
    const bool help = args.has("help");

    if (args.has("version")) {
        if (!args.words.empty() || args.option_names.size() != 1) {
            usage_error("--version takes no command and no other option");
        }
        print_text(pat::version_text("patctl"));
        return kExitOk;
    }

    if (args.words.empty()) {
        if (help) {
            print_text(global_usage());
            return kExitOk;
        }
        usage_error("no command given (see patctl --help)");
    }

    const Command* command = find_command(args.words);
    if (command == nullptr) {
        std::vector<const Command*> group = commands_in_group(args.words[0]);
        if (group.empty()) {
            usage_error("unknown command '" + printable_argument(args.words[0]) + "' (see patctl --help)");
        }
        if (help) {
            print_text(group_usage(group));
            return kExitOk;
        }
        if (args.words.size() == 1) {
            usage_error("'" + args.words[0] + "' needs a subcommand: " + subcommand_list(group));
        }
        usage_error("unknown command '" + args.words[0] + " " + printable_argument(args.words[1]) +
                    "' (one of: " + subcommand_list(group) + ")");
    }
    if (help) {
        print_text(command_usage(*command));
        return kExitOk;
    }

    std::vector<std::string> operands(args.words.begin() + static_cast<std::ptrdiff_t>(command->words.size()),
                                      args.words.end());
    check_operand_count(operands, *command);
    check_options_accepted(args, *command);

    // `route` decides from the built-in table and needs no store.
    const bool needs_store = command->handler != run_route;
    Invocation invocation{args, std::move(operands), args.has("json"), needs_store ? store_path_from(args) : ""};
    return command->handler(invocation);
}

}  // namespace
}  // namespace patctl

int main(int argc, char** argv) {
    int exit_code = patctl::kExitFailed;
    try {
        exit_code = patctl::run(argc, argv);
    } catch (const patctl::CliError& error) {
        patctl::print_note(patctl::printable(error.what()));
        exit_code = error.exit_code();
    } catch (const std::exception& error) {
        patctl::print_note("internal error: " + patctl::printable(error.what()));
        exit_code = patctl::kExitFailed;
    }
    if (std::fflush(stdout) != 0 && exit_code == patctl::kExitOk) {
        std::fputs("patctl: cannot write to standard output\n", stderr);
        exit_code = patctl::kExitFailed;
    }
    return exit_code;
}
