// patctl policy show | set: the token policy (pat/token_policy.hpp), which
// the store applies to every token creation (patctl, the API, the page).

#include <limits>

#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "render.hpp"

namespace patctl {
namespace {

std::optional<bool> word_option(const Invocation& invocation, std::string_view option, std::string_view on,
                                std::string_view off) {
    const std::string* text = invocation.args.value(option);
    if (text == nullptr) return std::nullopt;
    if (*text == on) return true;
    if (*text == off) return false;
    usage_error("invalid --" + std::string(option) + " '" + printable_argument(*text) + "': expected " +
                std::string(on) + " or " + std::string(off));
}

// N, or none (no maximum); the core decides the accepted range. Fills out
// only when the option is given.
void maximum_option(const Invocation& invocation, std::string_view option, std::optional<std::optional<int>>& out) {
    const std::string* text = invocation.args.value(option);
    if (text == nullptr) return;
    if (*text == "none") {
        out.emplace(std::nullopt);
        return;
    }
    std::optional<std::int64_t> n = parse_whole_number(*text);
    if (!n || *n < std::numeric_limits<int>::min() || *n > std::numeric_limits<int>::max()) {
        usage_error("invalid --" + std::string(option) + " '" + printable_argument(*text) +
                    "': expected a whole number or none");
    }
    out.emplace(static_cast<int>(*n));
}

std::string maximum_text(const std::optional<int>& value) {
    return value ? std::to_string(*value) : "none";
}

void write_policy(JsonWriter& json, const pat::TokenPolicy& policy) {
    json.begin_object().field("requireExpiry", policy.require_expiry).key("maxExpiryDays");
    if (policy.max_expiry_days) {
        json.number(*policy.max_expiry_days);
    } else {
        json.null();
    }
    json.key("maxTokensPerUser");
    if (policy.max_tokens_per_user) {
        json.number(*policy.max_tokens_per_user);
    } else {
        json.null();
    }
    json.field("creationEnabled", policy.creation_enabled).end_object();
}

void print_policy(const pat::TokenPolicy& policy) {
    Table table({"SETTING", "VALUE"});
    table.add_row({"require-expiry", policy.require_expiry ? "yes" : "no"});
    table.add_row({"max-expiry-days", maximum_text(policy.max_expiry_days)});
    table.add_row({"max-tokens-per-user", maximum_text(policy.max_tokens_per_user)});
    table.add_row({"creation", policy.creation_enabled ? "enabled" : "disabled"});
    print_text(table.render());
}

std::string tokens(std::size_t n) {
    return std::to_string(n) + (n == 1 ? " existing token" : " existing tokens");
}

}  // namespace

int run_policy_show(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    const pat::TokenPolicy policy = take(store->token_policy());
    if (invocation.json) {
        JsonWriter json;
        write_policy(json, policy);
        print_json(json);
    } else {
        print_policy(policy);
    }
    return kExitOk;
}

int run_policy_set(const Invocation& invocation) {
    pat::TokenPolicyUpdate update;
    update.require_expiry = word_option(invocation, "require-expiry", "yes", "no");
    maximum_option(invocation, "max-expiry-days", update.max_expiry_days);
    maximum_option(invocation, "max-tokens-per-user", update.max_tokens_per_user);
    update.creation_enabled = word_option(invocation, "creation", "enabled", "disabled");
    if (!update.require_expiry && !update.max_expiry_days && !update.max_tokens_per_user && !update.creation_enabled) {
        usage_error(
            "'policy set' needs something to set: --require-expiry, --max-expiry-days, --max-tokens-per-user or "
            "--creation");
    }
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    const pat::TokenPolicyChange change =
        take(store->set_token_policy(update, pat::now_ms(), invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("changed", change.changed).key("before");
        write_policy(json, change.before);
        json.key("policy");
        write_policy(json, change.after);
        json.field("neverExpiring", static_cast<std::int64_t>(change.never_expiring))
            .field("beyondMaxExpiryDays", static_cast<std::int64_t>(change.beyond_expiry_maximum))
            .field("beyondMaxTokensPerUser", static_cast<std::int64_t>(change.beyond_count_maximum))
            .end_object();
        print_json(json);
        return kExitOk;
    }
    if (!change.changed) {
        print_line("the token policy is unchanged: " + pat::describe_token_policy(change.after));
        return kExitOk;
    }
    print_line("token policy changed: " + pat::describe_token_policy_change(change.before, change.after));
    if (change.never_expiring != 0) {
        print_line(tokens(change.never_expiring) + (change.never_expiring == 1 ? " never expires" : " never expire") +
                   " (left as they are; patctl token list shows them)");
    }
    if (change.beyond_expiry_maximum != 0) {
        print_line(tokens(change.beyond_expiry_maximum) + (change.beyond_expiry_maximum == 1 ? " exceeds" : " exceed") +
                   " the new maximum of " + std::to_string(*change.after.max_expiry_days) +
                   " days until expiry (left as they are; patctl token list shows them)");
    }
    if (change.beyond_count_maximum != 0) {
        print_line(tokens(change.beyond_count_maximum) + (change.beyond_count_maximum == 1 ? " exceeds" : " exceed") +
                   " the new maximum of " + std::to_string(*change.after.max_tokens_per_user) +
                   " live tokens per user (left as they are; their owners cannot create more until below it)");
    }
    return kExitOk;
}

}  // namespace patctl
