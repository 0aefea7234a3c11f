#include "last_used.hpp"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "module_conf.hpp"
#include "pat/decision.hpp"
#include "pat/store.hpp"
#include "worker_stores.hpp"

namespace pat::ngx {

namespace {

// Distinct tokens one worker can note between two flushes; more are dropped
// (and noted again at their next use). 8192 slots of 24 bytes: 192 KiB.
constexpr std::size_t kUseSlots = 8192;
// A use that finds no free or matching slot within this many probes is
// dropped: the table stays fast however full it gets.
constexpr std::size_t kMaxProbes = 16;

struct UseSlot {
    std::int64_t last_ms;  // 0: free
    std::uint32_t db_index;
    char token_id[kTokenIdLength];
};

// One batch of uses for one store, written by a thread-pool task. The
// store is taken on the event loop before the task is posted and released
// there when the job is deleted (worker_stores.hpp).
struct FlushBatch {
    ngx_uint_t db_index = 0;
    std::string path;
    std::shared_ptr<Store> store;  // nullptr: unavailable, the batch is dropped
    std::vector<std::pair<std::string, std::int64_t>> uses;
};

struct FlushJob {
    std::vector<FlushBatch> batches;
    std::vector<std::string> failures;  // filled on the thread, logged on the event loop
};

struct LastUsed {
    UseSlot* slots = nullptr;  // kUseSlots, allocated at worker start
    std::size_t used = 0;
    std::uint64_t dropped = 0;

    ngx_cycle_t* cycle = nullptr;
    ngx_msec_t interval = 0;
    ngx_thread_pool_t* pool = nullptr;
    ngx_event_t timer{};
    ngx_thread_task_t* task = nullptr;  // reused; busy while task->event.active
    FlushJob* job = nullptr;            // the job of the running task
};

LastUsed* state = nullptr;

std::uint64_t hash_id(std::uint32_t db_index, const char* id) {
    std::uint64_t h = 1469598103934665603ull ^ db_index;  // FNV-1a
    for (std::size_t i = 0; i < kTokenIdLength; ++i) {
        h ^= static_cast<unsigned char>(id[i]);
        h *= 1099511628211ull;
    }
    return h;
}

// Moves the noted uses into a job (one batch per store, with the store)
// and empties the table. Runs on the event loop (timer) or at exit. Uses of
// a store that is unavailable right now are dropped (and noted again at
// their next use); why goes to job->failures.
FlushJob* take_uses(const MainConf& conf, ngx_log_t* log) {
    auto* job = new FlushJob();
    const auto* stores = static_cast<const StoreConf*>(conf.stores->elts);
    for (std::size_t i = 0; i < kUseSlots; ++i) {
        UseSlot& slot = state->slots[i];
        if (slot.last_ms == 0) continue;
        if (slot.db_index < conf.stores->nelts) {
            FlushBatch* batch = nullptr;
            for (auto& existing : job->batches) {
                if (existing.db_index == slot.db_index) batch = &existing;
            }
            if (batch == nullptr) {
                const ngx_str_t& path = stores[slot.db_index].path;
                batch = &job->batches.emplace_back();
                batch->db_index = slot.db_index;
                batch->path.assign(reinterpret_cast<const char*>(path.data), path.len);
                TaskStore taken = store_for_task(slot.db_index, log);
                batch->store = std::move(taken.store);
                if (batch->store == nullptr) job->failures.push_back(std::move(taken.why));
            }
            batch->uses.emplace_back(std::string(slot.token_id, kTokenIdLength), slot.last_ms);
        }
        slot.last_ms = 0;
    }
    state->used = 0;
    return job;
}

// The writes, off the event loop.
void write_uses(FlushJob& job) noexcept {
    for (const FlushBatch& batch : job.batches) {
        if (batch.store == nullptr) continue;  // take_uses noted why
        try {
            const Status written = batch.store->record_token_uses(batch.uses);
            if (!written.ok()) job.failures.push_back("\"" + batch.path + "\": " + written.message());
        } catch (const std::exception& e) {
            job.failures.push_back(e.what());
        } catch (...) {
            job.failures.push_back("unexpected exception");
        }
    }
}

void log_outcome(ngx_log_t* log, const FlushJob& job) {
    for (const std::string& failure : job.failures) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "auth_pat: could not record when tokens were last used: %s (the worker needs write "
                      "access to the store; \"auth_pat_last_used_flush off\" stops trying)",
                      failure.c_str());
    }
    std::size_t count = 0;
    for (const FlushBatch& batch : job.batches) count += batch.uses.size();
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0, "auth_pat: recorded %uz token uses", count);
}

void run_flush_task(void* data, ngx_log_t*) noexcept {
    write_uses(**static_cast<FlushJob**>(data));
}

void flush_task_done(ngx_event_t* ev) noexcept {
    if (state == nullptr || state->job == nullptr) return;
    log_outcome(ev->log, *state->job);
    delete state->job;
    state->job = nullptr;
}

void flush_timer(ngx_event_t* ev) noexcept {
    if (state == nullptr) return;
    try {
        auto* conf =
            static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(state->cycle, ngx_http_auth_pat_module));
        if (state->dropped != 0) {
            ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                          "auth_pat: %uL token uses were not noted (more than %uz distinct tokens "
                          "between two flushes): their last-use time is written at their next use",
                          state->dropped, kUseSlots);
            state->dropped = 0;
        }
        // One flush at a time: a slow one keeps collecting into the table.
        if (state->used != 0 && state->job == nullptr && !state->task->event.active) {
            FlushJob* job = take_uses(*conf, ev->log);
            *static_cast<FlushJob**>(state->task->ctx) = job;
            state->job = job;
            if (ngx_thread_task_post(state->pool, state->task) != NGX_OK) {
                ngx_log_error(NGX_LOG_ERR, ev->log, 0, "auth_pat: could not start writing token uses (thread pool)");
                delete job;
                state->job = nullptr;
            }
        }
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0, "auth_pat: could not start writing token uses (out of memory)");
    }
    if (!ngx_exiting) ngx_add_timer(&state->timer, state->interval);
}

}  // namespace

void start_last_used(ngx_cycle_t* cycle) noexcept {
    auto* conf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_auth_pat_module));
    if (conf == nullptr || conf->last_used_flush == 0 || conf->flush_pool == nullptr || conf->stores->nelts == 0) {
        return;
    }
    state = new (std::nothrow) LastUsed();
    if (state != nullptr) state->slots = new (std::nothrow) UseSlot[kUseSlots]();
    ngx_thread_task_t* task = ngx_thread_task_alloc(cycle->pool, sizeof(FlushJob*));
    if (state == nullptr || state->slots == nullptr || task == nullptr) {
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                      "auth_pat: no memory for the token-use table: last-use times are not recorded");
        if (state != nullptr) delete[] state->slots;
        delete state;
        state = nullptr;
        return;
    }
    task->handler = run_flush_task;
    task->event.handler = flush_task_done;
    task->event.data = nullptr;
    task->event.log = cycle->log;
    state->task = task;
    state->cycle = cycle;
    state->interval = conf->last_used_flush;
    state->pool = conf->flush_pool;
    state->timer.handler = flush_timer;
    state->timer.log = cycle->log;
    state->timer.data = state;
    state->timer.cancelable = 1;  // never delays a graceful shutdown
    ngx_add_timer(&state->timer, state->interval);
}

void stop_last_used(ngx_cycle_t* cycle) noexcept {
    if (state == nullptr) return;
    try {
        auto* conf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_auth_pat_module));
        // A task whose completion never ran still holds its job (written or
        // not); the thread pool has finished it by now.
        if (state->job != nullptr) {
            log_outcome(cycle->log, *state->job);
            delete state->job;
            state->job = nullptr;
        }
        if (state->used != 0 && conf != nullptr) {
            FlushJob* job = take_uses(*conf, cycle->log);
            write_uses(*job);
            log_outcome(cycle->log, *job);
            delete job;
        }
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0, "auth_pat: could not write the last token uses at exit");
    }
    if (state->timer.timer_set) ngx_del_timer(&state->timer);
    delete[] state->slots;
    delete state;
    state = nullptr;
}

void note_token_use(ngx_uint_t db_index, const char* token_id, std::int64_t now_ms) noexcept {
    if (state == nullptr || token_id == nullptr || token_id[0] == '\0' || now_ms <= 0) return;
    const auto index = static_cast<std::uint32_t>(db_index);
    std::size_t at = hash_id(index, token_id) % kUseSlots;
    for (std::size_t probe = 0; probe < kMaxProbes; ++probe, at = (at + 1) % kUseSlots) {
        UseSlot& slot = state->slots[at];
        if (slot.last_ms == 0) {
            slot.last_ms = now_ms;
            slot.db_index = index;
            std::memcpy(slot.token_id, token_id, kTokenIdLength);
            ++state->used;
            return;
        }
        if (slot.db_index == index && std::memcmp(slot.token_id, token_id, kTokenIdLength) == 0) {
            if (now_ms > slot.last_ms) slot.last_ms = now_ms;
            return;
        }
    }
    ++state->dropped;
}

}  // namespace pat::ngx
