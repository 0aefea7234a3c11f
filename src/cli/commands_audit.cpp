// patctl audit: the store's audit trail, newest first; audit prune: delete
// what is older than a number of days.

#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "render.hpp"

namespace patctl {
namespace {

constexpr std::int64_t kDefaultAuditLimit = 50;
constexpr std::int64_t kMaxPruneDays = 36500;
constexpr std::int64_t kDayMs = 86'400'000;

std::size_t audit_limit(const Invocation& invocation) {
    const std::string* text = invocation.args.value("limit");
    if (text == nullptr) {
        return kDefaultAuditLimit;
    }
    std::optional<std::int64_t> limit = parse_whole_number(*text);
    if (!limit || *limit < 1) {
        usage_error("invalid --limit '" + printable(*text) + "': expected a whole number of entries, 1 or more");
    }
    return static_cast<std::size_t>(*limit);
}

std::int64_t prune_days(const Invocation& invocation) {
    const std::string* text = invocation.args.value("older-than");
    if (text == nullptr) {
        usage_error("'audit prune' needs --older-than DAYS (usage: patctl audit prune --older-than DAYS)");
    }
    std::optional<std::int64_t> days = parse_whole_number(*text);
    if (!days || *days < 0 || *days > kMaxPruneDays) {
        usage_error("invalid --older-than '" + printable(*text) + "': expected a whole number of days, 0 to " +
                    std::to_string(kMaxPruneDays));
    }
    return *days;
}

}  // namespace

int run_audit_prune(const Invocation& invocation) {
    const std::int64_t before_ms = pat::now_ms() - prune_days(invocation) * kDayMs;
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    const std::size_t pruned = take(store->prune_audit(before_ms, invocation.audit_context()));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("pruned", static_cast<std::int64_t>(pruned))
            .field("before", format_time_utc(before_ms))
            .end_object();
        print_json(json);
    } else {
        print_line("pruned " + std::to_string(pruned) + " audit entries from before " + format_time_utc(before_ms));
    }
    return kExitOk;
}

int run_audit(const Invocation& invocation) {
    const std::size_t limit = audit_limit(invocation);
    std::optional<std::string_view> user;
    if (!invocation.operands.empty()) {
        user = invocation.operands[0];
    }
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    std::vector<pat::AuditEntry> entries = take(store->list_audit(user, limit));
    print_list(entries, invocation.json, "no audit entries");
    return kExitOk;
}

}  // namespace patctl
