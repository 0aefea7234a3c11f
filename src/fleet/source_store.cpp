// open_source_store (pat/fleet.hpp): a Store over the PostgreSQL engine.

#include "pat/store.hpp"
#include "pg_engine.hpp"

namespace pat::fleet {

Expected<std::unique_ptr<Store>> open_source_store(const std::string& connfile, std::string_view application_name) {
    Expected<std::unique_ptr<PgEngine>> engine = PgEngine::open_connfile(connfile, std::string(application_name));
    if (!engine.ok()) return engine.status();
    return Store::over(std::move(*engine));
}

}  // namespace pat::fleet
