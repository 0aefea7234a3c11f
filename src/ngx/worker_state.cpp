#include "worker_state.hpp"

#include <sys/stat.h>

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "module_conf.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"

namespace pat::ngx {

namespace {

// A failed open is retried after this long; requests in between get 500
// without touching the file system.
constexpr ngx_msec_t kReopenInterval = 1000;
// How often an open store's path is checked for a replaced file.
constexpr ngx_msec_t kReplacedCheckInterval = 1000;

struct StoreSlot {
    std::unique_ptr<Store> store;
    bool attempted = false;
    ngx_msec_t last_attempt = 0;
    // The file the open store reads, to notice when the path names another
    // one (a backup restored by rename) or none (deleted): LMDB would go on
    // reading the old file forever, tokens revoked since included.
    dev_t device = 0;
    ino_t inode = 0;
    ngx_msec_t last_check = 0;
};

bool same_file_at(const StoreSlot& slot, const ngx_str_t& path) {
    struct stat st;
    if (stat(reinterpret_cast<const char*>(path.data), &st) != 0) return false;
    return st.st_dev == slot.device && st.st_ino == slot.inode;
}

struct WorkerState {
    TokenHasher hasher;
    std::vector<StoreSlot> stores;
};

WorkerState* worker_state = nullptr;

Store* open_store(StoreSlot& slot, const ngx_str_t& path, ngx_log_t* log) {
    slot.attempted = true;
    slot.last_attempt = ngx_current_msec;
    const std::string path_text(reinterpret_cast<const char*>(path.data), path.len);
    auto opened = Store::open(path_text, Store::Mode::read_only);
    if (!opened) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &path,
                      opened.status().message().c_str());
        return nullptr;
    }
    struct stat st;
    if (stat(path_text.c_str(), &st) == 0) {
        slot.device = st.st_dev;
        slot.inode = st.st_ino;
    }
    slot.last_check = ngx_current_msec;
    slot.store = std::move(opened.value());
    ngx_log_error(NGX_LOG_INFO, log, 0, "auth_pat: opened the store \"%V\"", &path);
    return slot.store.get();
}

}  // namespace

void start_worker(ngx_cycle_t* cycle) noexcept {
    try {
        if (worker_state == nullptr) worker_state = new WorkerState();
        if (!worker_state->hasher.ready()) {
            ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                          "auth_pat: OpenSSL provides no SHA-256; every protected request gets 500");
        }
        auto* conf = static_cast<MainConf*>(
            ngx_http_cycle_get_module_main_conf(cycle, ngx_http_auth_pat_module));
        if (conf == nullptr || conf->db_paths == nullptr) return;
        const auto* paths = static_cast<const ngx_str_t*>(conf->db_paths->elts);
        for (ngx_uint_t i = 0; i < conf->db_paths->nelts; ++i) {
            worker_store(i, paths[i], cycle->log);
        }
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "auth_pat: worker start failed: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "auth_pat: worker start failed");
    }
}

void stop_worker() noexcept {
    delete worker_state;  // closes every store
    worker_state = nullptr;
}

TokenHasher* worker_hasher() noexcept {
    if (worker_state == nullptr || !worker_state->hasher.ready()) return nullptr;
    return &worker_state->hasher;
}

Store* worker_store(ngx_uint_t index, const ngx_str_t& path, ngx_log_t* log) noexcept {
    if (worker_state == nullptr) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: no worker state (not a worker process?)");
        return nullptr;
    }
    try {
        auto& stores = worker_state->stores;
        if (stores.size() <= index) stores.resize(index + 1);
        StoreSlot& slot = stores[index];
        if (slot.store && ngx_current_msec - slot.last_check >= kReplacedCheckInterval) {
            slot.last_check = ngx_current_msec;
            if (!same_file_at(slot, path)) {
                ngx_log_error(NGX_LOG_WARN, log, 0,
                              "auth_pat: the store \"%V\" was replaced or removed: reopening it",
                              &path);
                slot.store.reset();
                slot.attempted = false;
            }
        }
        if (slot.store) return slot.store.get();
        if (slot.attempted && ngx_current_msec - slot.last_attempt < kReopenInterval) {
            ngx_log_error(NGX_LOG_CRIT, log, 0,
                          "auth_pat: the store \"%V\" is unavailable (retrying once a second)", &path);
            return nullptr;
        }
        return open_store(slot, path, log);
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\": %s", &path,
                      e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_CRIT, log, 0, "auth_pat: cannot open the store \"%V\"", &path);
    }
    return nullptr;
}

void drop_worker_store(ngx_uint_t index) noexcept {
    if (worker_state == nullptr || worker_state->stores.size() <= index) return;
    StoreSlot& slot = worker_state->stores[index];
    slot.store.reset();
    // The next request reopens it, unless the last open was under a second
    // ago: a store that opens but fails every read costs at most one open
    // a second.
}

}  // namespace pat::ngx
