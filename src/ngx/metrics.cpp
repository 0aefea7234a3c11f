#include "metrics.hpp"

#include <sys/stat.h>

#include <exception>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "pat/prometheus.hpp"
#include "pat/version.hpp"

namespace pat::ngx {

namespace {

char* const kConfOk = NGX_CONF_OK;
char* const kConfError = static_cast<char*>(NGX_CONF_ERROR);

// Runs in the master when the cycle's shared memory is set up. DATA is the
// previous cycle's counters when a reload keeps the zone.
ngx_int_t init_zone(ngx_shm_zone_t* zone, void* data) noexcept {
    if (data != nullptr) {
        zone->data = data;
        return NGX_OK;
    }
    auto* pool = reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr);
    void* counters = ngx_slab_calloc(pool, sizeof(SharedCounters));
    if (counters == nullptr) return NGX_ERROR;
    zone->data = counters;
    return NGX_OK;
}

AccessCounts snapshot(const SharedCounters* counters) {
    AccessCounts counts;
    if (counters == nullptr) return counts;
    for (std::size_t i = 0; i < kAccessOutcomeCount; ++i) counts.outcomes[i] = counters->outcomes[i];
    counts.store_open_failures = counters->store_open_failures;
    return counts;
}

std::vector<StoreFileFacts> store_facts(const MainConf* conf) {
    std::vector<StoreFileFacts> facts;
    if (conf == nullptr || conf->stores == nullptr) return facts;
    const auto* stores = static_cast<const StoreConf*>(conf->stores->elts);
    for (ngx_uint_t i = 0; i < conf->stores->nelts; ++i) {
        StoreFileFacts fact;
        fact.path = std::string(view(stores[i].path));
        struct stat st;
        if (stat(fact.path.c_str(), &st) == 0) {
            fact.exists = true;
            fact.size_bytes = static_cast<std::uint64_t>(st.st_size);
            fact.modified_ms = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
        }
        facts.push_back(std::move(fact));
    }
    return facts;
}

ngx_int_t send_text(ngx_http_request_t* r, const std::string& text) {
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = static_cast<off_t>(text.size());
    r->headers_out.content_type.data = reinterpret_cast<u_char*>(const_cast<char*>(kPrometheusContentType.data()));
    r->headers_out.content_type.len = kPrometheusContentType.size();
    r->headers_out.content_type_len = kPrometheusContentType.size();
    if (r->method == NGX_HTTP_HEAD) return ngx_http_send_header(r);

    auto* data = static_cast<u_char*>(ngx_pnalloc(r->pool, text.size()));
    auto* b = static_cast<ngx_buf_t*>(ngx_pcalloc(r->pool, sizeof(ngx_buf_t)));
    if (data == nullptr || b == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    ngx_memcpy(data, text.data(), text.size());
    b->pos = data;
    b->last = data + text.size();
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    ngx_chain_t out{b, nullptr};

    const ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
    return ngx_http_output_filter(r, &out);
}

ngx_int_t status_handler(ngx_http_request_t* r) noexcept {
    try {
        if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
        if (const ngx_int_t rc = ngx_http_discard_request_body(r); rc != NGX_OK) return rc;
        const auto* conf = main_conf(r);
        const std::string text =
            format_access_metrics(snapshot(shared_counters(conf)), store_facts(conf), now_ms(), kVersion);
        return send_text(r, text);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat_status: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0, "auth_pat_status: unexpected exception");
    }
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace

char* set_status(ngx_conf_t* cf, ngx_command_t*, void*) noexcept {
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
    if (clcf->handler == status_handler) return const_cast<char*>("is duplicate");
    clcf->handler = status_handler;

    auto* mcf = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_auth_pat_module));
    if (mcf->status_zone == nullptr) {
        ngx_str_t name = ngx_string("auth_pat_status");
        // A slab pool's own pages and one SharedCounters fit with room to spare.
        mcf->status_zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize, &ngx_http_auth_pat_module);
        if (mcf->status_zone == nullptr) return kConfError;
        mcf->status_zone->init = init_zone;
    }
    return kConfOk;
}

}  // namespace pat::ngx
