#include "worker_state.hpp"

#include <exception>
#include <new>

#include "module_conf.hpp"
#include "pat/token.hpp"
#include "worker_stores.hpp"

namespace pat::ngx {

namespace {

// The stores' timer (idle snapshots, closing, replaced files).
constexpr ngx_msec_t kTendInterval = 1000;

struct WorkerState {
    TokenHasher hasher;
    ngx_event_t tend_timer{};
};

WorkerState* worker_state = nullptr;

void tend_timer(ngx_event_t* ev) noexcept {
    tend_worker_stores(ev->log);
    if (!ngx_exiting && worker_state != nullptr) ngx_add_timer(&worker_state->tend_timer, kTendInterval);
}

}  // namespace

void start_worker(ngx_cycle_t* cycle) noexcept {
    try {
        if (worker_state == nullptr) worker_state = new WorkerState();
        if (!worker_state->hasher.ready()) {
            ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                          "auth_pat: OpenSSL provides no SHA-256; every protected request gets 500");
        }
        auto* conf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_auth_pat_module));
        if (conf == nullptr || conf->stores == nullptr || conf->stores->nelts == 0) return;
        start_worker_stores(*conf, cycle->log);

        ngx_event_t& timer = worker_state->tend_timer;
        timer.handler = tend_timer;
        timer.log = cycle->log;
        timer.data = worker_state;
        timer.cancelable = 1;  // never delays a graceful shutdown
        ngx_add_timer(&timer, kTendInterval);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "auth_pat: worker start failed: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "auth_pat: worker start failed");
    }
}

void stop_worker() noexcept {
    if (worker_state != nullptr && worker_state->tend_timer.timer_set) ngx_del_timer(&worker_state->tend_timer);
    stop_worker_stores();
    delete worker_state;
    worker_state = nullptr;
}

TokenHasher* worker_hasher() noexcept {
    if (worker_state == nullptr || !worker_state->hasher.ready()) return nullptr;
    return &worker_state->hasher;
}

}  // namespace pat::ngx
