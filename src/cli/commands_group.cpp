// patctl group add | delete | list | members | add-member | remove-member

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "pat/names.hpp"
#include "render.hpp"
#include "targets.hpp"

namespace patctl {
namespace {

// After the core accepted it: the group name it stored.
std::string canonical_group(std::string_view name) {
    return canonical_or_as_given(pat::canonical_group_name(name), name);
}

std::vector<std::string> users_for_display(const std::vector<std::string>& users) {
    std::vector<std::string> shown;
    shown.reserve(users.size());
    for (const std::string& user : users) {
        shown.push_back(user_for_display(user));
    }
    return shown;
}

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) {
        if (!text.empty()) text += ", ";
        text += name;
    }
    return text;
}

// add-member / remove-member: {"group", "added"|"removed": [users]}, or
// "added alice, bob to group \"backend\"".
void report_members(const Invocation& invocation, std::string_view done, std::string_view preposition) {
    const std::string& group = invocation.operands[0];
    std::vector<std::string> users = users_for_display({invocation.operands.begin() + 1, invocation.operands.end()});
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("group", canonical_group(group)).key(done);
        write_json(json, users);
        json.end_object();
        print_json(json);
    } else {
        print_line(std::string(done) + " " + joined(users) + " " + std::string(preposition) + " group " +
                   group_for_display(group));
    }
}

}  // namespace

int run_group_add(const Invocation& invocation) {
    const std::string& name = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->add_group(name, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        write_json(json, pat::GroupInfo{canonical_group(name), 0});
        print_json(json);
    } else {
        print_line("added group " + group_for_display(name));
    }
    return kExitOk;
}

int run_group_delete(const Invocation& invocation) {
    const std::string& name = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->delete_group(name, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("deleted", canonical_group(name)).end_object();
        print_json(json);
    } else {
        print_line("deleted group " + group_for_display(name) + " with its memberships and grants");
    }
    return kExitOk;
}

int run_group_list(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<pat::GroupInfo> groups = take(store->list_groups());
    print_list(groups, invocation.json, "no groups");
    return kExitOk;
}

int run_group_members(const Invocation& invocation) {
    const std::string& name = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<std::string> members = take(store->list_group_members(name));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("group", canonical_group(name)).key("members");
        write_json(json, members);
        json.end_object();
        print_json(json);
    } else if (members.empty()) {
        print_line("no members");
    } else {
        Table table({"USER"});
        for (const std::string& member : members) {
            table.add_row({member});
        }
        print_text(table.render());
    }
    return kExitOk;
}

int run_group_add_member(const Invocation& invocation) {
    std::vector<std::string> users(invocation.operands.begin() + 1, invocation.operands.end());
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->add_group_members(invocation.operands[0], users, invocation.audit_context()));
    report_members(invocation, "added", "to");
    return kExitOk;
}

int run_group_remove_member(const Invocation& invocation) {
    std::vector<std::string> users(invocation.operands.begin() + 1, invocation.operands.end());
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->remove_group_members(invocation.operands[0], users, invocation.audit_context()));
    report_members(invocation, "removed", "from");
    return kExitOk;
}

}  // namespace patctl
