#include "metrics.hpp"

#include <sys/stat.h>

#include <exception>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "pat/prometheus.hpp"
#include "pat/version.hpp"
#include "worker.hpp"

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

// Fleet mode's families, after the core's (format_access_metrics): the
// stale refusals, and each store's mode and replica state as this worker's
// timer last read them (every worker reads the same file). Whether any
// protected location using a store would answer 503 now: then the whole
// page is answered with 503, so that a load balancer drains the node.
std::string fleet_metrics(const SharedCounters* counters, const MainConf* conf, bool& stale) {
    stale = false;
    PrometheusText out;
    out.family("auth_pat_requests_stale_total", "counter",
               "Protected requests answered 503 because the fleet replica was not verified against its source within "
               "auth_pat_max_staleness, summed over all workers (not in auth_pat_requests_refused_total).");
    out.sample("auth_pat_requests_stale_total", counters != nullptr ? counters->stale_refusals : 0);

    Worker* worker = Worker::current();
    if (conf == nullptr || conf->stores == nullptr || worker == nullptr) return out.take();
    const auto* stores = static_cast<const StoreConf*>(conf->stores->elts);
    std::vector<std::string> paths;
    std::vector<StoreHealth> health;
    for (ngx_uint_t i = 0; i < conf->stores->nelts && i < worker->stores().size(); ++i) {
        paths.emplace_back(view(stores[i].path));
        health.push_back(worker->stores().health(i));
        if (health.back().stale) stale = true;
    }
    auto each_replica = [&](auto&& emit) {
        for (std::size_t i = 0; i < health.size(); ++i) {
            if (health[i].view.mode == ReplicaView::Mode::replica && !health[i].view.read_failed) emit(i);
        }
    };

    out.family("auth_pat_fleet_mode", "gauge",
               "1 when the store is a fleet replica (the follower keeps a replica state in it), 0 when it is a "
               "single-host store; absent while no worker has opened it.");
    for (std::size_t i = 0; i < health.size(); ++i) {
        if (health[i].view.mode == ReplicaView::Mode::unknown) continue;
        out.sample("auth_pat_fleet_mode", {{"store", paths[i]}}, health[i].view.mode == ReplicaView::Mode::replica);
    }
    out.family("auth_pat_replica_stale", "gauge",
               "1 when a protected location using the store answers 503 now (auth_pat_max_staleness passed, "
               "verified on another boot, or the state unreadable); the status page is then answered with 503.");
    for (std::size_t i = 0; i < health.size(); ++i) {
        if (health[i].view.mode == ReplicaView::Mode::unknown) continue;
        out.sample("auth_pat_replica_stale", {{"store", paths[i]}}, health[i].stale);
    }
    out.family("auth_pat_replica_max_staleness_seconds", "gauge",
               "The smallest auth_pat_max_staleness of the protected locations using the replica.");
    each_replica([&](std::size_t i) {
        if (health[i].bound != 0)
            out.gauge("auth_pat_replica_max_staleness_seconds", {{"store", paths[i]}},
                      static_cast<double>(health[i].bound) / 1000.0);
    });
    out.family("auth_pat_replica_position", "gauge", "The last change-log seq the follower applied to the replica.");
    each_replica([&](std::size_t i) {
        out.sample("auth_pat_replica_position", {{"store", paths[i]}}, health[i].view.position);
    });
    out.family("auth_pat_replica_source_head", "gauge",
               "The source's head (change-log seq) when the follower last verified the replica.");
    each_replica([&](std::size_t i) {
        out.sample("auth_pat_replica_source_head", {{"store", paths[i]}}, health[i].view.source_head);
    });
    out.family("auth_pat_replica_lag", "gauge",
               "Changes the replica was behind its source when last verified (source head - position).");
    each_replica([&](std::size_t i) {
        const ReplicaView& v = health[i].view;
        out.sample("auth_pat_replica_lag", {{"store", paths[i]}},
                   v.source_head > v.position ? v.source_head - v.position : 0);
    });
    out.family("auth_pat_replica_verified_age_seconds", "gauge",
               "Seconds since the follower last verified the replica against its source (CLOCK_BOOTTIME); absent "
               "when it was verified on another boot (stale).");
    each_replica([&](std::size_t i) {
        if (health[i].view.this_boot)
            out.gauge("auth_pat_replica_verified_age_seconds", {{"store", paths[i]}},
                      static_cast<double>(health[i].view.age_now_ms()) / 1000.0);
    });
    return out.take();
}

ngx_int_t send_text(ngx_http_request_t* r, const std::string& text, ngx_uint_t status) {
    r->headers_out.status = status;
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
        std::string text =
            format_access_metrics(snapshot(shared_counters(conf)), store_facts(conf), now_ms(), kVersion);
        bool stale = false;
        text += fleet_metrics(shared_counters(conf), conf, stale);
        return send_text(r, text, stale ? NGX_HTTP_SERVICE_UNAVAILABLE : NGX_HTTP_OK);
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
