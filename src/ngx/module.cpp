// ngx_http_auth_pat_module: directives, configuration, variables and the
// worker lifecycle. The decision itself is in access_handler.cpp.

#include <string_view>

#include "access_handler.hpp"
#include "error_filter.hpp"
#include "helpers.hpp"
#include "metrics.hpp"
#include "module_conf.hpp"
#include "ngx.hpp"
#include "pat/permission.hpp"
#include "request_context.hpp"
#include "rest_rules_conf.hpp"
#include "store_probe.hpp"
#include "worker.hpp"

namespace pat::ngx {

namespace {

char* const kConfOk = NGX_CONF_OK;
char* const kConfError = static_cast<char*>(NGX_CONF_ERROR);
char* const kIsDuplicate = const_cast<char*>("is duplicate");

// ---- directives ----

char* set_db(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->db_index != NGX_CONF_UNSET_UINT) return kIsDuplicate;

    ngx_str_t path = static_cast<ngx_str_t*>(cf->args->elts)[1];
    if (path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"auth_pat_db\" needs the path of a store");
        return kConfError;
    }
    // Relative paths are taken from the configuration prefix, like
    // auth_basic_user_file.
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) return kConfError;

    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_pat_module));
    auto* stores = static_cast<StoreConf*>(mcf->stores->elts);
    for (ngx_uint_t i = 0; i < mcf->stores->nelts; ++i) {
        if (view(stores[i].path) == view(path)) {
            lcf->db_index = i;
            return kConfOk;
        }
    }
    auto* added = static_cast<StoreConf*>(ngx_array_push(mcf->stores));
    if (added == nullptr) return kConfError;
    // NUL-terminated copy: workers hand it to stat() and to the store.
    added->path.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, path.len + 1));
    if (added->path.data == nullptr) return kConfError;
    ngx_memcpy(added->path.data, path.data, path.len);
    added->path.data[path.len] = '\0';
    added->path.len = path.len;
    lcf->db_index = mcf->stores->nelts - 1;

    added->conf_file = cf->conf_file->file.name;
    added->conf_line = cf->conf_file->line;
    return kConfOk;
}

// auth_pat realm | off: "off" here is a location left unprotected (the
// realm may also be a variable whose value is "off" at request time, as with
// auth_basic); anything else is nginx's complex value.
char* set_realm(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->realm != NGX_CONF_UNSET_PTR) return kIsDuplicate;

    const ngx_str_t& value = static_cast<ngx_str_t*>(cf->args->elts)[1];
    if (view(value) == "off") {
        lcf->realm = nullptr;
        return kConfOk;
    }
    if (value.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"auth_pat\" takes a realm (a non-empty string) or \"off\"");
        return kConfError;
    }
    return ngx_http_set_complex_value_slot(cf, cmd, conf);
}

char* set_route(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->route != NGX_CONF_UNSET_UINT) return kIsDuplicate;

    const ngx_str_t& value = static_cast<ngx_str_t*>(cf->args->elts)[1];
    const std::string_view text = view(value);
    if (text == "git") {
        lcf->route = static_cast<ngx_uint_t>(RouteKind::git);
    } else if (text == "rest") {
        lcf->route = static_cast<ngx_uint_t>(RouteKind::rest);
    } else if (text == "off") {
        lcf->route = static_cast<ngx_uint_t>(RouteKind::off);
    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"auth_pat_route\": it must be \"git\", "
                           "\"rest\" or \"off\"",
                           &value);
        return kConfError;
    }
    return kConfOk;
}

char* set_require(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->require != NGX_CONF_UNSET_UINT) return kIsDuplicate;

    const ngx_str_t& value = static_cast<ngx_str_t*>(cf->args->elts)[1];
    const auto need = parse_need(view(value));
    if (!need) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"auth_pat_require\": it must be one of "
                           "\"authenticated\", \"repo-read\", \"repo-write\", \"repo-admin\", "
                           "\"project-read\", \"project-write\", \"project-admin\", \"repo-fork\"",
                           &value);
        return kConfError;
    }
    lcf->require = static_cast<ngx_uint_t>(*need);
    return kConfOk;
}

// auth_pat_api, auth_pat_api_thread_pool: the token API left the module for
// patd (a daemon that alone writes the store). The names stay for a release
// so that an old configuration fails `nginx -t` with what to write instead,
// rather than with "unknown directive".
char* moved_to_patd(ngx_conf_t* cf, ngx_command_t* cmd, void*) noexcept {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" is gone: the token API moved to patd; serve it with "
                       "\"location /rest/access-tokens/ { proxy_pass http://unix:/run/nginx-pat/patd.sock; }\" "
                       "(see nginx-conf-examples/patd.conf and docs/patd.md)",
                       &cmd->name);
    return kConfError;
}

// auth_pat_last_used_flush time | off
char* set_last_used_flush(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* mcf = static_cast<MainConf*>(conf);
    if (mcf->last_used_flush != NGX_CONF_UNSET_MSEC) return kIsDuplicate;
    ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
    if (view(value[1]) == "off") {
        mcf->last_used_flush = 0;
        return kConfOk;
    }
    const ngx_int_t ms = ngx_parse_time(&value[1], 0);
    if (ms == NGX_ERROR || ms <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"auth_pat_last_used_flush\": it must be a positive time "
                           "(e.g. \"60s\", \"500ms\") or \"off\"",
                           &value[1]);
        return kConfError;
    }
    mcf->last_used_flush = static_cast<ngx_msec_t>(ms);
    return kConfOk;
}

// auth_pat_max_staleness time | off: how long a fleet replica may go
// unverified against its source before the protected locations that use it
// answer 503. At least a second: the follower verifies once a second.
char* set_max_staleness(ngx_conf_t* cf, ngx_command_t*, void* conf) noexcept {
    auto* lcf = static_cast<LocConf*>(conf);
    if (lcf->max_staleness != NGX_CONF_UNSET_MSEC) return kIsDuplicate;
    ngx_str_t* value = static_cast<ngx_str_t*>(cf->args->elts);
    if (view(value[1]) == "off") {
        lcf->max_staleness = 0;
        return kConfOk;
    }
    const ngx_int_t ms = ngx_parse_time(&value[1], 0);
    if (ms == NGX_ERROR || ms < 1000 || ms > kMaxStalenessBound) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"auth_pat_max_staleness\": it must be a time from 1s to 1d "
                           "(e.g. \"30s\", \"2m\"; the follower verifies the replica once a second) or \"off\"",
                           &value[1]);
        return kConfError;
    }
    lcf->max_staleness = static_cast<ngx_msec_t>(ms);
    return kConfOk;
}

// The index of the (store, bound) pair in MainConf::gates, added when new;
// NGX_CONF_UNSET_UINT when out of memory.
ngx_uint_t gate_index(MainConf& mcf, ngx_uint_t db_index, ngx_msec_t bound) {
    auto* gates = static_cast<GateConf*>(mcf.gates->elts);
    for (ngx_uint_t i = 0; i < mcf.gates->nelts; ++i) {
        if (gates[i].db_index == db_index && gates[i].bound == bound) return i;
    }
    auto* added = static_cast<GateConf*>(ngx_array_push(mcf.gates));
    if (added == nullptr) return NGX_CONF_UNSET_UINT;
    added->db_index = db_index;
    added->bound = bound;
    return mcf.gates->nelts - 1;
}

constexpr ngx_uint_t kAnyContext = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_HTTP_LMT_CONF;
constexpr ngx_uint_t kContexts = kAnyContext | NGX_CONF_TAKE1;

// clang-format off
ngx_command_t commands[] = {
    {ngx_string("auth_pat"), kContexts, set_realm, NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, realm), nullptr},
    {ngx_string("auth_pat_db"), kContexts, set_db, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_pat_route"), kContexts, set_route, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_pat_require"), kContexts, set_require, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_pat_project"), kContexts, ngx_http_set_complex_value_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(LocConf, project), nullptr},
    {ngx_string("auth_pat_repo"), kContexts, ngx_http_set_complex_value_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(LocConf, repo), nullptr},
    {ngx_string("auth_pat_rest_rule"), (kContexts & ~NGX_CONF_TAKE1) | NGX_CONF_TAKE3, set_rest_rule,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_pat_api"), kAnyContext | NGX_CONF_ANY, moved_to_patd, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_pat_api_thread_pool"), kAnyContext | NGX_CONF_ANY, moved_to_patd, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("auth_pat_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_status, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("auth_pat_max_staleness"), kContexts, set_max_staleness, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("auth_pat_last_used_flush"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_last_used_flush,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},
    ngx_null_command,
};
// clang-format on

// ---- configuration structures ----

void* create_main_conf(ngx_conf_t* cf) noexcept {
    auto* mcf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
    if (mcf == nullptr) return nullptr;
    mcf->stores = ngx_array_create(cf->pool, 2, sizeof(StoreConf));
    if (mcf->stores == nullptr) return nullptr;
    mcf->gates = ngx_array_create(cf->pool, 2, sizeof(GateConf));
    if (mcf->gates == nullptr) return nullptr;
    mcf->last_used_flush = NGX_CONF_UNSET_MSEC;
    return mcf;
}

// `nginx -t` fails when the workers could not open a store; a start or a
// reload does not (init_module logs the same at error, store_probe.hpp), so
// a server started before its store exists serves once it appears. Checked
// once the http block is parsed: a syntax error is reported first.
char* check_stores(ngx_conf_t* cf, const MainConf& mcf) noexcept {
    const auto* stores = static_cast<const StoreConf*>(mcf.stores->elts);
    for (ngx_uint_t i = 0; i < mcf.stores->nelts; ++i) {
        StoreProbe probe;
        probe_store(cf->cycle, reinterpret_cast<const char*>(stores[i].path.data), probe);
        if (probe.ok) continue;
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"auth_pat_db\" \"%V\": the nginx workers%s%s%s cannot open the store: %s. Fix: %s in %V:%ui",
                      &stores[i].path, probe.user[0] != '\0' ? " (user \"" : "", probe.user,
                      probe.user[0] != '\0' ? "\")" : "", probe.message, probe.fix, &stores[i].conf_file,
                      stores[i].conf_line);
        return kConfError;
    }
    return kConfOk;
}

char* init_main_conf(ngx_conf_t* cf, void* conf) noexcept {
    auto* mcf = static_cast<MainConf*>(conf);
    if (mcf->last_used_flush == NGX_CONF_UNSET_MSEC) mcf->last_used_flush = 60'000;
    if (ngx_test_config) return check_stores(cf, *mcf);
    return kConfOk;
}

void* create_loc_conf(ngx_conf_t* cf) noexcept {
    auto* lcf = static_cast<LocConf*>(ngx_palloc(cf->pool, sizeof(LocConf)));
    if (lcf == nullptr) return nullptr;
    lcf->realm = static_cast<ngx_http_complex_value_t*>(NGX_CONF_UNSET_PTR);
    lcf->db_index = NGX_CONF_UNSET_UINT;
    lcf->route = NGX_CONF_UNSET_UINT;
    lcf->require = NGX_CONF_UNSET_UINT;
    lcf->project = static_cast<ngx_http_complex_value_t*>(NGX_CONF_UNSET_PTR);
    lcf->repo = static_cast<ngx_http_complex_value_t*>(NGX_CONF_UNSET_PTR);
    lcf->rest_rules = NGX_CONF_UNSET_PTR;
    lcf->max_staleness = NGX_CONF_UNSET_MSEC;
    lcf->gate = NGX_CONF_UNSET_UINT;
    return lcf;
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) noexcept {
    auto* prev = static_cast<LocConf*>(parent);
    auto* conf = static_cast<LocConf*>(child);

    ngx_conf_merge_ptr_value(conf->realm, prev->realm, nullptr);
    ngx_conf_merge_uint_value(conf->db_index, prev->db_index, NGX_CONF_UNSET_UINT);
    ngx_conf_merge_uint_value(conf->route, prev->route, static_cast<ngx_uint_t>(RouteKind::off));
    ngx_conf_merge_uint_value(conf->require, prev->require, NGX_CONF_UNSET_UINT);
    ngx_conf_merge_ptr_value(conf->project, prev->project, nullptr);
    ngx_conf_merge_ptr_value(conf->repo, prev->repo, nullptr);
    ngx_conf_merge_ptr_value(conf->rest_rules, prev->rest_rules, nullptr);
    ngx_conf_merge_msec_value(conf->max_staleness, prev->max_staleness, kDefaultMaxStaleness);

    // A protected location must name its store at the same or an enclosing
    // level; otherwise every request would get 500.
    if (conf->realm != nullptr && conf->db_index == NGX_CONF_UNSET_UINT) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"auth_pat\" is on but no \"auth_pat_db\" is set at this level or above");
        return kConfError;
    }

    // A protected location with a store has a staleness gate (unless "off");
    // whether the store is a fleet replica is known only to the workers.
    if (conf->realm != nullptr && conf->db_index != NGX_CONF_UNSET_UINT && conf->max_staleness != 0) {
        auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_pat_module));
        conf->gate = gate_index(*mcf, conf->db_index, conf->max_staleness);
        if (conf->gate == NGX_CONF_UNSET_UINT) return kConfError;
    } else {
        conf->gate = NGX_CONF_UNSET_UINT;
    }

    return kConfOk;
}

// ---- variables ----

ngx_int_t identity_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) noexcept {
    // Subrequests skip the access phase: they carry the main request's
    // identity.
    const RequestContext* ctx = find_request_context(r->main);
    const char* text = nullptr;
    if (ctx != nullptr) text = data == 0 ? ctx->user : ctx->token_id;
    if (text == nullptr || text[0] == '\0') {
        v->not_found = 1;
        return NGX_OK;
    }
    v->data = reinterpret_cast<u_char*>(const_cast<char*>(text));
    v->len = static_cast<unsigned>(ngx_strlen(text));
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

ngx_int_t add_variables(ngx_conf_t* cf) noexcept {
    struct Definition {
        ngx_str_t name;
        uintptr_t data;
    };
    Definition definitions[] = {{ngx_string("pat_user"), 0}, {ngx_string("pat_token_id"), 1}};
    for (auto& definition : definitions) {
        ngx_http_variable_t* variable = ngx_http_add_variable(cf, &definition.name, NGX_HTTP_VAR_NOCACHEABLE);
        if (variable == nullptr) return NGX_ERROR;
        variable->get_handler = identity_variable;
        variable->data = definition.data;
    }
    return NGX_OK;
}

// ---- phases and lifecycle ----

ngx_int_t postconfiguration(ngx_conf_t* cf) noexcept {
    auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    auto* handler = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers));
    if (handler == nullptr) return NGX_ERROR;
    *handler = access_handler;
    // Subrequests skip the access phase: refuse those that reach a
    // protected location in the rewrite phase, before `return` answers.
    auto* guard = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers));
    if (guard == nullptr) return NGX_ERROR;
    *guard = rewrite_phase_handler;
    install_error_filters();

    // The "last authenticated" flush writes the usage files on nginx's
    // default thread pool (a commit waits for the disk).
    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_pat_module));
    if (mcf->stores->nelts != 0 && mcf->last_used_flush != 0) {
        ngx_str_t name = ngx_string("default");
        mcf->flush_pool = ngx_thread_pool_add(cf, &name);
        if (mcf->flush_pool == nullptr) return NGX_ERROR;
    }
    return NGX_OK;
}

// In the master, once per start and reload (and nowhere under `nginx -t`):
// the version line and whether the workers can open each store. Never an
// error: a missing store is served (500) until it appears.
ngx_int_t init_module(ngx_cycle_t* cycle) noexcept {
    log_start(cycle);
    return NGX_OK;
}

ngx_int_t init_process(ngx_cycle_t* cycle) noexcept {
    // Never NGX_ERROR: the master would stop respawning workers. A worker
    // without a store answers 500 and keeps retrying.
    if (ngx_process == NGX_PROCESS_WORKER || ngx_process == NGX_PROCESS_SINGLE) {
        Worker::start(cycle);
    }
    return NGX_OK;
}

// The thread pools have stopped by now (their module's exit_process runs
// before ours), so the last flush runs alone.
void exit_process(ngx_cycle_t*) noexcept {
    Worker::stop();
}

ngx_http_module_t module_ctx = {
    add_variables,      // preconfiguration
    postconfiguration,  // postconfiguration
    create_main_conf,   // create main configuration
    init_main_conf,     // init main configuration
    nullptr,            // create server configuration
    nullptr,            // merge server configuration
    create_loc_conf,    // create location configuration
    merge_loc_conf,     // merge location configuration
};

}  // namespace
}  // namespace pat::ngx

// The only exported symbol.
extern "C" {
__attribute__((visibility("default")))
ngx_module_t ngx_http_auth_pat_module = {NGX_MODULE_V1,
                                         &pat::ngx::module_ctx,   // module context
                                         pat::ngx::commands,      // module directives
                                         NGX_HTTP_MODULE,         // module type
                                         nullptr,                 // init master
                                         pat::ngx::init_module,   // init module
                                         pat::ngx::init_process,  // init process
                                         nullptr,                 // init thread
                                         nullptr,                 // exit thread
                                         pat::ngx::exit_process,  // exit process
                                         nullptr,                 // exit master
                                         NGX_MODULE_V1_PADDING};
}
