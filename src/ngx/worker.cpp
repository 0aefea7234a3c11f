#include "worker.hpp"

#include <exception>

#include "module_conf.hpp"

namespace pat::ngx {

Worker* Worker::current_ = nullptr;

Worker::Worker(ngx_cycle_t* cycle, const MainConf* conf) : stores_(conf, cycle->log), last_used_(cycle, conf) {
    if (!hasher_.ready()) {
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                      "auth_pat: OpenSSL provides no SHA-256; every protected request gets 500");
    }
    if (!stores_.empty()) tend_timer_.start(tend, this, cycle->log, WorkerStores::kTendInterval);
}

void Worker::tend(ngx_event_t* ev) noexcept {
    auto* self = static_cast<Worker*>(ev->data);
    self->tend_timer_.again(self->stores_.tend(ev->log));
}

void Worker::start(ngx_cycle_t* cycle) noexcept {
    if (current_ != nullptr) return;
    try {
        const auto* conf =
            static_cast<const MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_auth_pat_module));
        current_ = new Worker(cycle, conf);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "auth_pat: worker start failed: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "auth_pat: worker start failed");
    }
}

void Worker::stop() noexcept {
    delete current_;
    current_ = nullptr;
}

}  // namespace pat::ngx
