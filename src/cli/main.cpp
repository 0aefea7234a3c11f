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
        if (option == "db" || option == "source" || option == "json" || option == "help") {
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

// Commands that read or write the store's records through its rules: with
// --source (or $PAT_SOURCE) they run over the fleet's source in PostgreSQL
// (docs/fleet.md), exactly as over a file.
bool works_on_records(const Command& command) {
    static constexpr Handler kRecordCommands[] = {
        run_user_add,       run_user_passwd,  run_user_disable,  run_user_enable,      run_user_delete,
        run_user_list,      run_grant,        run_ungrant,       run_grants,           run_group_add,
        run_group_delete,   run_group_list,   run_group_members, run_group_add_member, run_group_remove_member,
        run_public_project, run_public_repo,  run_public_list,   run_token_create,     run_token_list,
        run_token_modify,   run_token_revoke, run_audit,         run_audit_prune,      run_directory_sync,
        run_apply,          run_export,       run_policy_show,   run_policy_set,       run_token_notify,
        run_token_rotate,  // issue 16: rotation
    };
    for (Handler handler : kRecordCommands) {
        if (command.handler == handler) return true;
    }
    return false;
}

// Commands about a store file itself, or about what nginx decides (which it
// does from the node's replica): never the fleet's source.
bool works_on_a_file(const Command& command) {
    return command.handler == run_init || command.handler == run_backup || command.handler == run_restore ||
           command.handler == run_check;
}

// The fleet source's CONNFILE for this command, or "" for the store file.
// --source applies to the record commands (and to commands that take it as
// their own option, which read it themselves); --source with --db is
// ambiguous. $PAT_SOURCE stands in for --source on the record commands when
// neither --source nor --db is given.
std::string source_from(const ParsedArgs& args, const Command& command) {
    const std::string* source = args.value("source");
    if (!works_on_records(command)) {
        if (source == nullptr) return "";
        for (std::string_view own : command.options) {
            if (own == "source") return "";  // the command's own option
        }
        if (works_on_a_file(command)) {
            usage_error("'" + command_name(command) + "' works on a store file, not on the fleet source: " +
                        "--source does not apply (give --db PATH, e.g. the node's replica)");
        }
        usage_error("option --source does not apply to '" + command_name(command) + "'");
    }
    if (source != nullptr) {
        if (args.has("db")) usage_error("--source and --db name two stores: give one of them");
        return *source;
    }
    if (args.has("db")) return "";
    const char* from_environment = std::getenv("PAT_SOURCE");
    return from_environment != nullptr ? std::string(from_environment) : std::string();
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

    // `route` decides from the built-in table and needs no store; a record
    // command given the fleet's source needs no store path either.
    std::string source = source_from(args, *command);
    const bool needs_store = command->handler != run_route && source.empty();
    Invocation invocation{args, std::move(operands), args.has("json"), needs_store ? store_path_from(args) : "",
                          std::move(source)};
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
