// patctl init

#include "cli_error.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "render.hpp"

namespace patctl {

int run_init(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = take(pat::Store::create(invocation.db_path));
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
