// patctl token revoke --token-stdin: revoke a leaked token by its text.
#include <memory>
#include <string>

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "pat/token.hpp"
#include "render.hpp"
#include "secret_input.hpp"

namespace patctl {

namespace {

// More than a token's length, so that a longer line is told apart from a
// token (and refused as not one) rather than cut.
constexpr std::size_t kMaxTokenLine = 1024;

}  // namespace

int run_token_revoke_by_value(const Invocation& invocation) {
    if (!invocation.operands.empty()) {
        usage_error("'token revoke' takes either a token id or --token-stdin, not both");
    }
    if (invocation.args.has("unused-since") || invocation.args.has("user") || invocation.args.has("dry-run")) {
        usage_error("--token-stdin revokes one token: --unused-since, --user and --dry-run do not apply");
    }
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    pat::RevokedByValue revoked;
    {
        // Wiped when it goes out of scope, before anything is printed.
        SecretLine token = read_secret_line("token", kMaxTokenLine);
        revoked = take(store->revoke_token_by_value(token.view(), invocation.audit_context()));
    }
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("revoked", revoked.id).field("owner", revoked.owner).end_object();
        print_json(json);
    } else {
        print_line("revoked token " + revoked.id + " of user " + revoked.owner);
    }
    return kExitOk;
}

}  // namespace patctl
