// patctl user add | passwd | disable | enable | delete | list

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "pat/names.hpp"
#include "pat/password.hpp"
#include "render.hpp"
#include "secret_input.hpp"
#include "targets.hpp"

namespace patctl {
namespace {

void require_password_stdin(const Invocation& invocation) {
    if (!invocation.args.has("password-stdin")) {
        usage_error(
            "the password is read from standard input: add --password-stdin "
            "(it is never taken from the command line)");
    }
}

// Shows a user after a change: the record read back from the store. The
// change is done by now, so a failed read-back must not turn it into an error.
void report_user(pat::Store& store, std::string_view name, bool json, std::string_view what_happened) {
    pat::Expected<pat::UserInfo> read_back = store.get_user(name);
    if (json) {
        JsonWriter writer;
        if (read_back.ok()) {
            write_json(writer, read_back.value());
        } else {
            writer.begin_object().field("name", user_for_display(name)).end_object();
        }
        print_json(writer);
    } else {
        print_line(std::string(what_happened) + " user " + user_for_display(name));
    }
}

int set_active(const Invocation& invocation, bool active) {
    const std::string& name = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->set_user_active(name, active, invocation.audit_context()));
    report_user(*store, name, invocation.json, active ? "enabled" : "disabled");
    return kExitOk;
}

}  // namespace

int run_user_add(const Invocation& invocation) {
    require_password_stdin(invocation);
    const std::string& name = invocation.operands[0];
    const std::string* display_name = invocation.args.value("display-name");
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    SecretLine password = read_secret_line("password", pat::kMaxPasswordLength);
    throw_if_failed(store->add_user(name, display_name ? *display_name : std::string_view(),
                                    invocation.args.has("sysadmin"), password.view(), invocation.audit_context()));
    report_user(*store, name, invocation.json, "added");
    return kExitOk;
}

int run_user_passwd(const Invocation& invocation) {
    require_password_stdin(invocation);
    const std::string& name = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    SecretLine password = read_secret_line("password", pat::kMaxPasswordLength);
    throw_if_failed(store->set_password(name, password.view(), invocation.audit_context()));
    report_user(*store, name, invocation.json, "changed the password of");
    return kExitOk;
}

int run_user_disable(const Invocation& invocation) {
    return set_active(invocation, false);
}

int run_user_enable(const Invocation& invocation) {
    return set_active(invocation, true);
}

int run_user_delete(const Invocation& invocation) {
    const std::string& name = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->delete_user(name, invocation.audit_context()));
    std::string deleted = user_for_display(name);
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("deleted", deleted).end_object();
        print_json(json);
    } else {
        print_line("deleted user " + deleted + " with their grants, group memberships and tokens");
    }
    return kExitOk;
}

int run_user_list(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<pat::UserInfo> users = take(store->list_users());
    print_list(users, invocation.json, "no users");
    return kExitOk;
}

}  // namespace patctl
