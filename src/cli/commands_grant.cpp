// patctl grant | ungrant | grants

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "render.hpp"
#include "targets.hpp"

namespace patctl {

int run_grant(const Invocation& invocation) {
    const std::string& user = invocation.operands[0];
    GrantTarget target = parse_grant_target(invocation.operands[1], invocation.operands[2]);
    pat::Level level = parse_level_argument(invocation.operands[3], "LEVEL");

    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    const pat::AuditContext audit = invocation.audit_context();
    throw_if_failed(target.is_repo ? store->grant_repo(user, target.project, target.repo, level, audit)
                                   : store->grant_project(user, target.project, level, audit));
    if (invocation.json) {
        // The core accepted them, so their canonical forms are what it stored.
        pat::GrantInfo granted{user_for_display(user), target.canonical_project(), target.canonical_repo(), level};
        JsonWriter json;
        write_json(json, granted);
        print_json(json);
    } else {
        print_line("granted " + user_for_display(user) + " " + std::string(pat::level_name(level)) + " on " +
                   target.describe());
    }
    return kExitOk;
}

int run_ungrant(const Invocation& invocation) {
    const std::string& user = invocation.operands[0];
    GrantTarget target = parse_grant_target(invocation.operands[1], invocation.operands[2]);

    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    const pat::AuditContext audit = invocation.audit_context();
    throw_if_failed(target.is_repo ? store->revoke_repo_grant(user, target.project, target.repo, audit)
                                   : store->revoke_project_grant(user, target.project, audit));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("user", user_for_display(user)).field("removed", target.describe()).end_object();
        print_json(json);
    } else {
        print_line("removed the grant of " + user_for_display(user) + " on " + target.describe());
    }
    return kExitOk;
}

int run_grants(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::optional<std::string_view> user;
    if (!invocation.operands.empty()) {
        user = invocation.operands[0];
    }
    std::vector<pat::GrantInfo> grants = take(store->list_grants(user));
    print_list(grants, invocation.json, "no grants");
    return kExitOk;
}

}  // namespace patctl
