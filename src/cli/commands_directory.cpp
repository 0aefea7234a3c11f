// patctl directory test: the first thing a sysadmin runs after writing the
// directory configuration (pat/directory.hpp, docs/directory.md). A thin
// call into the core's DirectoryClient::test.

#include <csignal>
#include <optional>

#include "cli_error.hpp"
#include "commands.hpp"
#include "json.hpp"
#include "output.hpp"
#include "pat/directory.hpp"
#include "pat/store.hpp"
#include "render.hpp"
#include "secret_input.hpp"

namespace patctl {
namespace {

std::string_view sign_in_outcome(const pat::DirectorySignIn& sign_in) {
    switch (sign_in.outcome) {
        case pat::DirectorySignIn::Outcome::ok: return "ok";
        case pat::DirectorySignIn::Outcome::refused: return "refused";
        case pat::DirectorySignIn::Outcome::unavailable: return "unavailable";
    }
    return "refused";
}

int sign_in_exit(const std::optional<pat::DirectorySignIn>& sign_in) {
    return !sign_in || sign_in->outcome == pat::DirectorySignIn::Outcome::ok ? kExitOk : kExitFailed;
}

}  // namespace

int run_directory_test(const Invocation& invocation) {
    const std::string* user = invocation.args.value("user");
    if (user == nullptr) usage_error("'directory test' needs --user NAME: the user to look up");
    const std::string* file = invocation.args.value("config");
    const std::string path = file != nullptr ? *file : pat::kDefaultDirectoryConfigPath;
    // libldap writes to sockets: a server that closes its end must fail the
    // call, not kill patctl.
    std::signal(SIGPIPE, SIG_IGN);

    pat::DirectoryClient client(take(pat::load_directory_config(path)));
    // Read before any connection: a password typed on a terminal is asked
    // for at once, not after the searches.
    std::optional<SecretLine> password;
    if (invocation.args.has("password-stdin"))
        password.emplace(read_secret_line("password", pat::kMaxDirectoryPassword));
    for (const std::string& warning : client.config().warnings()) print_note("warning: " + printable(warning));
    pat::DirectoryResult<pat::DirectoryTestReport> result = client.test(*user);
    if (!result) failure("directory: " + result.error().message);
    const pat::DirectoryTestReport& report = result.value();
    // The sign-in the module and patd will do, with its own connection.
    std::optional<pat::DirectorySignIn> sign_in;
    if (password) sign_in = client.authenticate(*user, password->view());

    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("server", report.server).field("tls", pat::directory_tls_name(report.tls));
        json.key("skipped").begin_array();
        for (const std::string& line : report.skipped) json.string(line);
        json.end_array().field("bind_dn", client.config().bind_dn);
        json.key("user")
            .begin_object()
            .field("name", report.user.name)
            .field("display_name", report.user.display_name)
            .field("dn", report.user.dn)
            .end_object();
        json.key("groups");
        if (report.groups_configured) {
            json.begin_array();
            for (const pat::DirectoryGroup& group : report.groups) {
                json.begin_object().field("name", group.name).field("dn", group.dn).end_object();
            }
            json.end_array();
        } else {
            json.null();
        }
        if (sign_in) {
            json.key("sign_in")
                .begin_object()
                .field("outcome", sign_in_outcome(*sign_in))
                .field("reason", sign_in->reason)
                .end_object();
        }
        print_json(json.end_object());
        return sign_in_exit(sign_in);
    }
    for (const std::string& line : report.skipped) print_line("skipped:      " + printable(line));
    print_line("server:       " + printable(report.server) +
               " (TLS: " + std::string(pat::directory_tls_name(report.tls)) + ")");
    print_line("service bind: " + printable(client.config().bind_dn));
    print_line("user:         " + printable(report.user.name));
    print_line("dn:           " + printable(report.user.dn));
    print_line("display name: " + printable(report.user.display_name));
    if (!report.groups_configured) {
        print_line("groups:       (not read: no group_base in " + printable(path) + ")");
    } else if (report.groups.empty()) {
        print_line("groups:       (none)");
    } else {
        for (const pat::DirectoryGroup& group : report.groups) {
            print_line("group:        " + printable(group.name) + "  (" + printable(group.dn) + ")");
        }
    }
    if (sign_in) {
        print_line("sign-in:      " + std::string(sign_in_outcome(*sign_in)) +
                   (sign_in->reason.empty() ? std::string() : " (" + printable(sign_in->reason) + ")"));
    }
    return sign_in_exit(sign_in);
}

int run_directory_sync(const Invocation& invocation) {
    const std::string* file = invocation.args.value("config");
    const std::string path = file != nullptr ? *file : pat::kDefaultDirectoryConfigPath;
    std::signal(SIGPIPE, SIG_IGN);  // as in directory test
    pat::DirectoryClient client(take(pat::load_directory_config(path)));
    for (const std::string& warning : client.config().warnings()) print_note("warning: " + printable(warning));

    // Both lists before the store is opened for writing: the directory's
    // answer time is never spent inside a write transaction.
    pat::DirectoryResult<pat::DirectoryUserList> users = client.list_users();
    if (!users) failure("directory: " + users.error().message);
    pat::DirectorySnapshot snapshot;
    for (const pat::DirectoryUser& user : users->users) snapshot.users.push_back({user.name, user.display_name});
    std::vector<std::string> skipped = users->skipped;
    if (!client.config().group_base.empty()) {
        pat::DirectoryResult<pat::DirectoryGroupList> groups = client.list_groups_with_members();
        if (!groups) failure("directory: " + groups.error().message);
        for (pat::DirectoryGroupMembers& group : groups->groups)
            snapshot.groups.push_back({group.name, std::move(group.members)});
        skipped.insert(skipped.end(), groups->skipped.begin(), groups->skipped.end());
    }
    for (const std::string& why : skipped) print_note("skipped: " + printable(why));

    const bool dry_run = invocation.args.has("dry-run");
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    std::vector<std::string> changes = take(store->apply_directory(snapshot, dry_run, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("dry_run", dry_run).key("changes").begin_array();
        for (const std::string& change : changes) json.string(change);
        json.end_array().end_object();
        print_line(json.text());
        return kExitOk;
    }
    for (const std::string& change : changes) print_line((dry_run ? "would " : "") + printable(change));
    print_note(std::to_string(snapshot.users.size()) + " users and " + std::to_string(snapshot.groups.size()) +
               " groups in the directory; " + std::to_string(changes.size()) +
               (dry_run ? " changes (dry run, nothing written)" : " changes"));
    return kExitOk;
}

}  // namespace patctl
