// patctl grant | ungrant | grants, for a user (NAME), a group (--group GROUP)
// or every signed-in user (--all-users)

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "render.hpp"
#include "targets.hpp"

namespace patctl {
namespace {

// Who the command is about, and the operands after the grantee. The user is
// an operand (NAME), a group or all users an option: the table lets the
// operand count vary by one, and this checks it against the grantee.
struct GranteeOperands {
    pat::Grantee grantee;
    std::vector<std::string> rest;
};

// command: "grant"; wanted: how many operands follow the grantee ("SCOPE,
// TARGET and LEVEL" names them); synopsis: the table's, for the message.
GranteeOperands grantee_operands(const Invocation& invocation, std::string_view command, std::size_t wanted,
                                 std::string_view wanted_names, std::string_view synopsis) {
    const std::string* group = invocation.args.value("group");
    const bool all_users = invocation.args.has("all-users");
    const std::vector<std::string>& operands = invocation.operands;
    const std::string usage = " (usage: patctl " + std::string(synopsis) + ")";
    if (group != nullptr && all_users) {
        usage_error("--group and --all-users exclude each other: a grant is to one group or to all users" + usage);
    }
    if (group == nullptr && !all_users) {
        if (operands.size() != wanted + 1) {  // more is refused by the table
            usage_error("'" + std::string(command) + "' needs NAME, " + std::string(wanted_names) + usage);
        }
        return {pat::Grantee::user(operands[0]), {operands.begin() + 1, operands.end()}};
    }
    const std::string with = "'" + std::string(command) + (all_users ? " --all-users'" : " --group GROUP'");
    if (operands.size() > wanted) {
        usage_error(with + " takes no user NAME: unexpected argument '" + printable_argument(operands[0]) + "'" +
                    usage);
    }
    if (operands.size() < wanted) {
        usage_error(with + " needs " + std::string(wanted_names) + usage);
    }
    return {all_users ? pat::Grantee::all_users() : pat::Grantee::group(*group), operands};
}

const Command& table_entry(std::string_view word) {
    for (const Command& command : all_commands()) {
        if (command.words.size() == 1 && command.words[0] == word) return command;
    }
    throw std::logic_error("no command " + std::string(word));
}

// The grantee as the store now names it, for JSON: the core accepted the
// name, so its canonical form is what it stored.
pat::GrantInfo canonical_grant(const pat::Grantee& grantee, const GrantTarget& target, pat::Level level) {
    pat::GrantInfo grant;
    grant.kind = grantee.kind;
    if (grantee.kind == pat::GranteeKind::user) {
        grant.user = user_for_display(grantee.name);
    } else if (grantee.kind == pat::GranteeKind::group) {
        grant.user = canonical_or_as_given(pat::canonical_group_name(grantee.name), grantee.name);
    }
    grant.project = target.canonical_project();
    grant.repo = target.canonical_repo();
    grant.level = level;
    return grant;
}

// Every grant of every kind: the users' own, each group's, the all-users
// defaults (several read transactions: a listing, not a decision).
std::vector<pat::GrantInfo> every_grant(pat::Store& store) {
    std::vector<pat::GrantInfo> grants = take(store.list_grants(std::nullopt));
    for (const pat::GroupInfo& group : take(store.list_groups())) {
        std::vector<pat::GrantInfo> of_group = take(store.list_grants_of(pat::Grantee::group(group.name)));
        grants.insert(grants.end(), of_group.begin(), of_group.end());
    }
    std::vector<pat::GrantInfo> defaults = take(store.list_grants_of(pat::Grantee::all_users()));
    grants.insert(grants.end(), defaults.begin(), defaults.end());
    return grants;
}

}  // namespace

int run_grant(const Invocation& invocation) {
    GranteeOperands parsed =
        grantee_operands(invocation, "grant", 3, "SCOPE, TARGET and LEVEL", table_entry("grant").synopsis);
    GrantTarget target = parse_grant_target(parsed.rest[0], parsed.rest[1]);
    pat::Level level = parse_level_argument(parsed.rest[2], "LEVEL");

    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->set_grant(parsed.grantee, target.project, target.is_repo ? target.repo : "", level,
                                     invocation.audit_context()));
    pat::GrantInfo granted = canonical_grant(parsed.grantee, target, level);
    if (invocation.json) {
        JsonWriter json;
        write_json(json, granted);
        print_json(json);
    } else {
        print_line("granted " + grantee_for_display(granted.kind, granted.user) + " " +
                   std::string(pat::level_name(level)) + " on " + target.describe());
    }
    return kExitOk;
}

int run_ungrant(const Invocation& invocation) {
    GranteeOperands parsed =
        grantee_operands(invocation, "ungrant", 2, "SCOPE and TARGET", table_entry("ungrant").synopsis);
    GrantTarget target = parse_grant_target(parsed.rest[0], parsed.rest[1]);

    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->remove_grant(parsed.grantee, target.project, target.is_repo ? target.repo : "",
                                        invocation.audit_context()));
    pat::GrantInfo removed = canonical_grant(parsed.grantee, target, pat::Level::none);
    if (invocation.json) {
        JsonWriter json;
        json.begin_object();
        switch (removed.kind) {
            case pat::GranteeKind::user: json.field("user", removed.user); break;
            case pat::GranteeKind::group: json.field("group", removed.user); break;
            case pat::GranteeKind::all_users: json.field("all_users", true); break;
        }
        json.field("removed", target.describe()).end_object();
        print_json(json);
    } else {
        print_line("removed the grant of " + grantee_for_display(removed.kind, removed.user) + " on " +
                   target.describe());
    }
    return kExitOk;
}

int run_grants(const Invocation& invocation) {
    const std::string* group = invocation.args.value("group");
    const bool all_users = invocation.args.has("all-users");
    const std::string usage = " (usage: patctl " + std::string(table_entry("grants").synopsis) + ")";
    if (group != nullptr && all_users) {
        usage_error("--group and --all-users exclude each other" + usage);
    }
    if ((group != nullptr || all_users) && !invocation.operands.empty()) {
        usage_error("'grants " + std::string(all_users ? "--all-users" : "--group GROUP") +
                    "' takes no user NAME: unexpected argument '" + printable_argument(invocation.operands[0]) + "'" +
                    usage);
    }
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<pat::GrantInfo> grants;
    if (group != nullptr) {
        grants = take(store->list_grants_of(pat::Grantee::group(*group)));
    } else if (all_users) {
        grants = take(store->list_grants_of(pat::Grantee::all_users()));
    } else if (!invocation.operands.empty()) {
        grants = take(store->list_grants_of(pat::Grantee::user(invocation.operands[0])));
    } else {
        grants = every_grant(*store);
    }
    print_list(grants, invocation.json, "no grants");
    return kExitOk;
}

}  // namespace patctl
