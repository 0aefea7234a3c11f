// The command table: each patctl command's words, operands, accepted
// options, help text and handler. Handlers live in commands_*.cpp.
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "args.hpp"
#include "pat/store.hpp"

namespace patctl {

// What a handler gets: the parsed command line, already checked against the
// command's table entry.
struct Invocation {
    const ParsedArgs& args;
    std::vector<std::string> operands;  // the words after the command words
    bool json = false;

    // The store at db_path, or the fleet's source when source is set (then
    // mode does not matter: the same rules over PostgreSQL). Fails the
    // command (exit 1) when it cannot be opened; read_write on a file also
    // waits (up to 5 s) until its lock file agrees with it (just after a
    // restore), and fails if it does not, and refuses a fleet replica (its
    // follower is its only writer).
    std::unique_ptr<pat::Store> open_store(pat::Store::Mode mode) const;

    // Who makes a change, for the store's audit trail: "patctl:" and the
    // Unix user (plus the sudo caller when there is one), address "local".
    pat::AuditContext audit_context() const;

    std::string db_path;
    // The CONNFILE of the fleet's source (--source, else $PAT_SOURCE; main.cpp
    // decides which commands take it); empty: the store file at db_path.
    std::string source;
};

using Handler = int (*)(const Invocation&);

struct Command {
    std::vector<std::string_view> words;  // {"user", "add"}
    std::size_t min_operands;
    std::size_t max_operands;
    std::string_view operand_names;         // "NAME", for "missing NAME"
    std::vector<std::string_view> options;  // accepted besides --db, --json, --help
    std::string_view synopsis;              // one line, after "patctl "
    std::string_view help;                  // the rest of `patctl CMD --help`
    Handler handler;
};

const std::vector<Command>& all_commands();

// The global usage text (`patctl --help`).
std::string global_usage();
// One command's usage text (`patctl CMD --help`).
std::string command_usage(const Command& command);

// Handlers.
int run_init(const Invocation& invocation);
int run_user_add(const Invocation& invocation);
int run_user_passwd(const Invocation& invocation);
int run_user_disable(const Invocation& invocation);
int run_user_enable(const Invocation& invocation);
int run_user_delete(const Invocation& invocation);
int run_user_list(const Invocation& invocation);
int run_grant(const Invocation& invocation);
int run_ungrant(const Invocation& invocation);
int run_grants(const Invocation& invocation);
int run_group_add(const Invocation& invocation);
int run_group_delete(const Invocation& invocation);
int run_group_list(const Invocation& invocation);
int run_group_members(const Invocation& invocation);
int run_group_add_member(const Invocation& invocation);
int run_group_remove_member(const Invocation& invocation);
int run_public_project(const Invocation& invocation);
int run_public_repo(const Invocation& invocation);
int run_public_list(const Invocation& invocation);
int run_token_create(const Invocation& invocation);
int run_token_list(const Invocation& invocation);
int run_token_modify(const Invocation& invocation);
int run_token_revoke(const Invocation& invocation);
int run_token_revoke_by_value(const Invocation& invocation);  // commands_revoke_value.cpp
int run_token_notify(const Invocation& invocation);
int run_token_rotate(const Invocation& invocation);
int run_check(const Invocation& invocation);
int run_audit(const Invocation& invocation);
int run_audit_prune(const Invocation& invocation);
int run_route(const Invocation& invocation);
int run_backup(const Invocation& invocation);
int run_restore(const Invocation& invocation);
int run_directory_test(const Invocation& invocation);
int run_directory_sync(const Invocation& invocation);
int run_apply(const Invocation& invocation);
int run_export(const Invocation& invocation);
int run_fleet_init(const Invocation& invocation);
int run_fleet_import(const Invocation& invocation);
int run_fleet_prune(const Invocation& invocation);
int run_fleet_status(const Invocation& invocation);
int run_fleet_verify(const Invocation& invocation);
int run_follow(const Invocation& invocation);
int run_policy_show(const Invocation& invocation);
int run_policy_set(const Invocation& invocation);

}  // namespace patctl
