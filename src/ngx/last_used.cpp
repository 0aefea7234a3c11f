#include "last_used.hpp"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "module_conf.hpp"
#include "pat/decision.hpp"
#include "pat/usage.hpp"

namespace pat::ngx {

namespace {

// Distinct tokens one worker can note between two flushes; more are dropped
// (and noted again at their next use). 8192 slots of 144 bytes (the time
// and 5 addresses): 1.1 MiB.
constexpr std::size_t kUseSlots = 8192;
// A use that finds no free or matching slot within this many probes is
// dropped: the table stays fast however full it gets.
constexpr std::size_t kMaxProbes = 16;

}  // namespace

// One batch of uses for one store's usage file, written by a thread-pool
// task.
struct FlushBatch {
    ngx_uint_t db_index = 0;
    UsageFile* file = nullptr;
    std::vector<UsageRecord> uses;
    // Filled on the thread, logged on the event loop.
    std::string failure;
    bool full = false;
};

struct UseSlot {
    std::int64_t last_ms;  // 0: free
    std::uint32_t db_index;
    char token_id[kTokenIdLength];
    UsageAddresses addresses;  // ms 0: none
};

namespace {

// The connection's address as the usage file keeps it; false for another family.
bool usage_address_of(const struct sockaddr* client, std::int64_t now_ms, UsageAddress& out) noexcept {
    if (client == nullptr) return false;
    if (client->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const struct sockaddr_in*>(client);
        std::memset(out.bytes, 0, sizeof out.bytes);
        out.bytes[10] = out.bytes[11] = 0xff;
        std::memcpy(out.bytes + 12, &in->sin_addr, 4);
    } else if (client->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(client);
        std::memcpy(out.bytes, &in6->sin6_addr, 16);
    } else {
        return false;
    }
    out.ms = now_ms;
    return true;
}

}  // namespace

struct FlushJob {
    std::vector<FlushBatch> batches;
};

namespace {

std::uint64_t hash_id(std::uint32_t db_index, const char* id) {
    std::uint64_t h = 1469598103934665603ull ^ db_index;  // FNV-1a
    for (std::size_t i = 0; i < kTokenIdLength; ++i) {
        h ^= static_cast<unsigned char>(id[i]);
        h *= 1099511628211ull;
    }
    return h;
}

// The writes, off the event loop.
void write_uses(FlushJob& job) noexcept {
    for (FlushBatch& batch : job.batches) {
        try {
            const UsageFile::Written written = batch.file->record_with_addresses(batch.uses);
            batch.full = written.full;
            if (!written.status.ok()) batch.failure = written.status.message();
        } catch (const std::exception& e) {
            batch.failure = e.what();
        } catch (...) {
            batch.failure = "unexpected exception";
        }
    }
}

void run_flush_task(void* data, ngx_log_t*) noexcept {
    write_uses(**static_cast<FlushJob**>(data));
}

}  // namespace

LastUsed::LastUsed(ngx_cycle_t* cycle, const MainConf* conf) noexcept : conf_(conf), log_(cycle->log) {
    if (conf == nullptr || conf->last_used_flush == 0 || conf->flush_pool == nullptr || conf->stores->nelts == 0) {
        return;
    }
    try {
        const auto* stores = static_cast<const StoreConf*>(conf->stores->elts);
        for (ngx_uint_t i = 0; i < conf->stores->nelts; ++i) {
            const ngx_str_t& path = stores[i].path;
            files_.push_back(std::make_unique<UsageFile>(
                std::string(reinterpret_cast<const char*>(path.data), path.len), UsageFile::Mode::create));
        }
        full_logged_.assign(files_.size(), false);
    } catch (...) {
        files_.clear();
    }
    slots_ = files_.empty() ? nullptr : new (std::nothrow) UseSlot[kUseSlots]();
    task_ = ngx_thread_task_alloc(cycle->pool, sizeof(FlushJob*));
    if (slots_ == nullptr || task_ == nullptr) {
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                      "auth_pat: no memory for the token-use table: last-use times are not recorded");
        delete[] slots_;
        slots_ = nullptr;
        return;
    }
    task_->handler = run_flush_task;
    task_->event.handler = flush_task_done;
    task_->event.data = this;
    task_->event.log = cycle->log;
    pool_ = conf->flush_pool;
    timer_.start(flush_timer, this, cycle->log, conf->last_used_flush);
}

LastUsed::~LastUsed() {
    if (slots_ == nullptr) return;
    timer_.stop();
    try {
        // A task whose completion never ran still holds its job (written or
        // not); the thread pool has finished it by now.
        if (job_ != nullptr) {
            log_outcome(log_, *job_);
            delete job_;
            job_ = nullptr;
        }
        if (used_ != 0) {
            FlushJob* job = take_uses();
            write_uses(*job);
            log_outcome(log_, *job);
            delete job;
        }
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, log_, 0, "auth_pat: could not write the last token uses at exit");
    }
    delete[] slots_;
}

// Failures at error, each time (the next flush tries again); a full file at
// warn, once until a write to it succeeds again.
void LastUsed::log_outcome(ngx_log_t* log, const FlushJob& job) {
    std::size_t count = 0;
    for (const FlushBatch& batch : job.batches) {
        count += batch.uses.size();
        if (batch.full) {
            if (!full_logged_[batch.db_index]) {
                full_logged_[batch.db_index] = true;
                ngx_log_error(
                    NGX_LOG_WARN, log, 0,
                    "auth_pat: the usage file \"%s\" is full: uses of tokens that find no free slot are "
                    "dropped (replace it with an empty file of the same owner and mode to start afresh; it holds "
                    "only last-use times)",
                    batch.file->path().c_str());
            }
        } else if (!batch.failure.empty()) {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "auth_pat: could not record when tokens were last used: %s (the workers need write "
                          "access to the usage file, or to the directory to create it; "
                          "\"auth_pat_last_used_flush off\" stops trying)",
                          batch.failure.c_str());
        } else {
            full_logged_[batch.db_index] = false;
        }
    }
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0, "auth_pat: recorded %uz token uses", count);
}

// Moves the noted uses into a job (one batch per store) and empties the
// table. Runs on the event loop (timer) or at exit.
FlushJob* LastUsed::take_uses() {
    auto* job = new FlushJob();
    for (std::size_t i = 0; i < kUseSlots; ++i) {
        UseSlot& slot = slots_[i];
        if (slot.last_ms == 0) continue;
        if (slot.db_index < files_.size()) {
            FlushBatch* batch = nullptr;
            for (auto& existing : job->batches) {
                if (existing.db_index == slot.db_index) batch = &existing;
            }
            if (batch == nullptr) {
                batch = &job->batches.emplace_back();
                batch->db_index = slot.db_index;
                batch->file = files_[slot.db_index].get();
            }
            batch->uses.push_back(
                UsageRecord{std::string(slot.token_id, kTokenIdLength), slot.last_ms, slot.addresses});
        }
        slot.last_ms = 0;
    }
    used_ = 0;
    return job;
}

void LastUsed::flush_task_done(ngx_event_t* ev) noexcept {
    auto* self = static_cast<LastUsed*>(ev->data);
    if (self->job_ == nullptr) return;
    self->log_outcome(ev->log, *self->job_);
    delete self->job_;
    self->job_ = nullptr;
}

void LastUsed::flush_timer(ngx_event_t* ev) noexcept {
    auto* self = static_cast<LastUsed*>(ev->data);
    try {
        if (self->dropped_ != 0) {
            ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                          "auth_pat: %uL token uses were not noted (more than %uz distinct tokens "
                          "between two flushes): their last-use time is written at their next use",
                          self->dropped_, kUseSlots);
            self->dropped_ = 0;
        }
        // One flush at a time: a slow one keeps collecting into the table.
        if (self->used_ != 0 && self->job_ == nullptr && !self->task_->event.active) {
            FlushJob* job = self->take_uses();
            *static_cast<FlushJob**>(self->task_->ctx) = job;
            self->job_ = job;
            if (ngx_thread_task_post(self->pool_, self->task_) != NGX_OK) {
                ngx_log_error(NGX_LOG_ERR, ev->log, 0, "auth_pat: could not start writing token uses (thread pool)");
                delete job;
                self->job_ = nullptr;
            }
        }
    } catch (...) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0, "auth_pat: could not start writing token uses (out of memory)");
    }
    self->timer_.again();
}

void LastUsed::note(ngx_uint_t db_index, const char* token_id, std::int64_t now_ms,
                    const struct sockaddr* client) noexcept {
    if (slots_ == nullptr || token_id == nullptr || token_id[0] == '\0' || now_ms <= 0) return;
    UsageAddress address{};
    const bool has_address = usage_address_of(client, now_ms, address);
    const auto index = static_cast<std::uint32_t>(db_index);
    std::size_t at = hash_id(index, token_id) % kUseSlots;
    for (std::size_t probe = 0; probe < kMaxProbes; ++probe, at = (at + 1) % kUseSlots) {
        UseSlot& slot = slots_[at];
        if (slot.last_ms == 0) {
            slot.last_ms = now_ms;
            slot.db_index = index;
            std::memcpy(slot.token_id, token_id, kTokenIdLength);
            slot.addresses = UsageAddresses{};
            if (has_address) note_usage_address(slot.addresses, address);
            ++used_;
            return;
        }
        if (slot.db_index == index && std::memcmp(slot.token_id, token_id, kTokenIdLength) == 0) {
            if (now_ms > slot.last_ms) slot.last_ms = now_ms;
            if (has_address) note_usage_address(slot.addresses, address);
            return;
        }
    }
    ++dropped_;
}

}  // namespace pat::ngx
