// patctl init

#include "cli_error.hpp"
#include "commands.hpp"
#include "numbers.hpp"
#include "output.hpp"
#include "render.hpp"

namespace patctl {

namespace {

std::size_t requested_max_size(const Invocation& invocation) {
    const std::string* text = invocation.args.value("max-size");
    if (text == nullptr) return pat::kDefaultStoreSize;
    const std::optional<std::int64_t> mib = parse_whole_number(*text);
    if (!mib || *mib < 1 || *mib > (std::int64_t{1} << 20)) {
        usage_error("invalid --max-size '" + printable(*text) + "': expected a whole number of MiB from 1 to 1048576");
    }
    return static_cast<std::size_t>(*mib) << 20;
}

}  // namespace

int run_init(const Invocation& invocation) {
    const std::size_t max_size = requested_max_size(invocation);
    std::unique_ptr<pat::Store> store = take(pat::Store::create(invocation.db_path, max_size));
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("path", store->path())
            .field("schema_version", static_cast<std::int64_t>(pat::kSchemaVersion))
            .end_object();
        print_json(json);
    } else {
        print_line("created store " + printable(store->path()));
    }
    return kExitOk;
}

}  // namespace patctl
