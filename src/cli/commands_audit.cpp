// patctl audit: the store's audit trail, newest first.

#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "render.hpp"

namespace patctl {
namespace {

constexpr std::int64_t kDefaultAuditLimit = 50;

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

}  // namespace

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
