// patctl token create | list | modify | revoke

#include <unistd.h>

#include <csignal>
#include <limits>
#include <memory>

#include "cli_error.hpp"
#include "commands.hpp"
#include "commands_token_inventory.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "pat/directory.hpp"
#include "pat/password.hpp"
#include "pat/sign_in.hpp"
#include "render.hpp"
#include "secret_input.hpp"
#include "targets.hpp"

namespace patctl {
namespace {

std::optional<pat::Level> level_option(const Invocation& invocation, std::string_view option) {
    const std::string* text = invocation.args.value(option);
    if (text == nullptr) {
        return std::nullopt;
    }
    return parse_level_argument(*text, "--" + std::string(option));
}

// Bitbucket's rule, kept simple: what is not given is admin (the user's own
// grants cap it at request time). The core then checks the combination, so
// "--repo read" alone (project admin, repo read) is refused with its rule.
std::optional<pat::TokenPermissions> requested_permissions(const Invocation& invocation) {
    std::optional<pat::Level> project = level_option(invocation, "project");
    std::optional<pat::Level> repo = level_option(invocation, "repo");
    if (!project && !repo) {
        return std::nullopt;  // the core's default: admin on both
    }
    return pat::TokenPermissions{project.value_or(pat::Level::admin), repo.value_or(pat::Level::admin)};
}

std::optional<int> requested_expiry_days(const Invocation& invocation) {
    const std::string* text = invocation.args.value("expiry-days");
    if (text == nullptr) {
        return std::nullopt;
    }
    std::optional<std::int64_t> days = parse_whole_number(*text);
    if (!days || *days < std::numeric_limits<int>::min() || *days > std::numeric_limits<int>::max()) {
        usage_error("invalid --expiry-days '" + printable(*text) + "': expected a whole number of days");
    }
    return static_cast<int>(*days);  // the core decides the accepted range
}

void print_token(const pat::TokenInfo& token, bool json, std::string_view what_happened) {
    if (json) {
        JsonWriter writer;
        write_json(writer, token);
        print_json(writer);
    } else {
        print_line(std::string(what_happened) + " token " + token.id + " (" + printable(token.name) + ", owner " +
                   token.owner + "): " + describe_permissions(token.permissions) + ", expires " +
                   format_time_or_never(token.expires_ms));
    }
}

// --directory FILE (must load), none, or the default file when it exists.
std::unique_ptr<const pat::DirectoryClient> open_directory(const Invocation& invocation) {
    const std::string* file = invocation.args.value("directory");
    if (file != nullptr && *file == "none") return nullptr;
    const std::string path = file != nullptr ? *file : pat::kDefaultDirectoryConfigPath;
    if (file == nullptr && access(path.c_str(), F_OK) != 0) return nullptr;
    // libldap writes to sockets: a server that closes its end must fail the
    // call, not kill patctl.
    std::signal(SIGPIPE, SIG_IGN);
    auto client = std::make_unique<const pat::DirectoryClient>(take(pat::load_directory_config(path)));
    for (const std::string& warning : client->config().warnings()) print_note("warning: " + printable(warning));
    return client;
}

// The owner's password, one line on standard input, checked as a sign-in
// checks it (the directory's for a directory user); a refusal ends patctl.
pat::SignIn sign_in_owner(pat::Store& store, const pat::DirectoryClient* directory, const std::string& owner,
                          const Invocation& invocation) {
    SecretLine password = read_secret_line("password", pat::kMaxPasswordLength);
    pat::SignIn signed_in = pat::sign_in(store, directory, owner, password.view(), invocation.audit_context());
    switch (signed_in.outcome()) {
        case pat::SignIn::Outcome::ok: break;
        case pat::SignIn::Outcome::refused: failure("wrong user name or password");
        case pat::SignIn::Outcome::unavailable:
            failure("the directory is unavailable, try again later: " + printable(signed_in.reason()));
        case pat::SignIn::Outcome::failed: failure(signed_in.reason());
    }
    return signed_in;
}

// A new token on standard output, shown this once: its text (JSON: with its
// details, and the id it replaces for a rotation). Everything that holds
// the text is reserved up front (no copies left by reallocation), written
// past stdio's buffer, then wiped. false: it could not be written.
bool print_new_token(const Invocation& invocation, const pat::CreatedToken& created,
                     std::optional<std::string_view> replaces) {
    const pat::TokenInfo& info = created.info;
    std::string output;
    if (invocation.json) {
        JsonWriter json;
        json.reserve(2048 + info.name.size() * 6);
        json.begin_object()
            .field("id", info.id)
            .field("token", created.text)
            .field("owner", info.owner)
            .field("name", info.name)
            .field("project", pat::level_name(info.permissions.project))
            .field("repo", pat::level_name(info.permissions.repo))
            .field("created", format_time_utc(info.created_ms))
            .optional_field("expires", info.expires_ms == 0
                                           ? std::nullopt
                                           : std::optional<std::string>(format_time_utc(info.expires_ms)));
        if (replaces) json.field("replaces", *replaces);
        json.end_object();
        json.text() += '\n';
        output.swap(json.text());
    } else {
        output.reserve(created.text.size() + 1);
        output += created.text;
        output += '\n';
    }
    return write_secret_to_stdout(output);
}

}  // namespace

int run_token_create(const Invocation& invocation) {
    const std::string& owner = invocation.operands[0];
    const std::string* label = invocation.args.value("name");
    if (label == nullptr) {
        usage_error("'token create' needs --name LABEL (what the token is for)");
    }
    if (!invocation.args.has("password-stdin")) {
        usage_error(
            "the owner's password is read from standard input: add --password-stdin "
            "(it is never taken from the command line)");
    }
    std::optional<pat::TokenPermissions> permissions = requested_permissions(invocation);
    std::optional<int> expiry_days = requested_expiry_days(invocation);
    // Refuse a bad request before asking for the password.
    throw_if_failed(pat::check_token_request(*label, permissions, expiry_days));
    std::unique_ptr<const pat::DirectoryClient> directory = open_directory(invocation);
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    // The token policy too (the store checks it again when it creates).
    throw_if_failed(pat::check_token_policy(take(store->token_policy()), expiry_days));
    const pat::SignIn signed_in = sign_in_owner(*store, directory.get(), owner, invocation);
    pat::CreatedToken created = take(
        store->create_token(signed_in, *label, permissions, expiry_days, pat::now_ms(), invocation.audit_context()));
    const pat::TokenInfo& info = created.info;

    if (!print_new_token(invocation, created, std::nullopt)) {
        failure("token " + info.id + " was created but could not be written to standard output: revoke it");
    }
    if (!invocation.json) {
        print_note("created token " + info.id + " for " + info.owner + " (" + describe_permissions(info.permissions) +
                   ", expires " + format_time_or_never(info.expires_ms) +
                   "); it is shown only this once and cannot be recovered");
    }
    return kExitOk;
}

int run_token_list(const Invocation& invocation) {
    if (has_token_selection(invocation)) return run_token_list_selected(invocation);
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::optional<std::string_view> owner;
    if (!invocation.operands.empty()) {
        owner = invocation.operands[0];
    }
    std::vector<pat::TokenInfo> tokens = take(store->list_tokens(owner));
    print_list(tokens, invocation.json, "no tokens");
    return kExitOk;
}

int run_token_modify(const Invocation& invocation) {
    pat::TokenChange change;
    change.project = level_option(invocation, "project");
    change.repo = level_option(invocation, "repo");
    if (const std::string* label = invocation.args.value("name")) {
        change.name = *label;
    }
    if (!change.project && !change.repo && !change.name) {
        usage_error("'token modify' needs something to change: --project, --repo or --name");
    }
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    // patctl runs on the server as its administrator: it acts as the system.
    pat::TokenInfo modified =
        take(store->modify_token(pat::Actor::system(), invocation.operands[0], change, invocation.audit_context()));
    print_token(modified, invocation.json, "modified");
    return kExitOk;
}

int run_token_revoke(const Invocation& invocation) {
    if (invocation.args.has("token-stdin")) return run_token_revoke_by_value(invocation);
    if (invocation.operands.empty() || has_token_selection(invocation) || invocation.args.has("dry-run"))
        return run_token_revoke_selected(invocation);
    const std::string& id = invocation.operands[0];
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    throw_if_failed(store->revoke_token(pat::Actor::system(), id, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("revoked", id).end_object();
        print_json(json);
    } else {
        print_line("revoked token " + id);
    }
    return kExitOk;
}

// patctl token rotate ID --password-stdin: the owner's password, as for
// create (the directory's for a directory user); the new token printed as
// create prints it. A token already rotated away: its family is revoked and
// the command fails (exit 1) saying so.
int run_token_rotate(const Invocation& invocation) {
    const std::string& id = invocation.operands[0];
    if (!invocation.args.has("password-stdin")) {
        usage_error(
            "the owner's password is read from standard input: add --password-stdin "
            "(it is never taken from the command line)");
    }
    std::unique_ptr<const pat::DirectoryClient> directory = open_directory(invocation);
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    const std::string owner = take(store->rotation_owner(id));
    const pat::SignIn signed_in = sign_in_owner(*store, directory.get(), owner, invocation);
    pat::CreatedToken created = take(store->rotate_token(signed_in, id, pat::now_ms(), invocation.audit_context()));
    const pat::TokenInfo& info = created.info;

    if (!print_new_token(invocation, created, id)) {
        failure("token " + id + " was rotated to " + info.id +
                " but the new token could not be written to standard output: rotate " + info.id + " again");
    }
    if (!invocation.json) {
        print_note("rotated token " + id + " to " + info.id + " for " + info.owner + " (" +
                   describe_permissions(info.permissions) + ", expires " + format_time_or_never(info.expires_ms) +
                   "); " + id + " is refused from now on; the new token is shown only this once");
    }
    return kExitOk;
}

}  // namespace patctl
