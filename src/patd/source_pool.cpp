#include "source_pool.hpp"

#include "log.hpp"
#include "pat/fleet.hpp"

namespace patd {

namespace {

constexpr const char* kApplicationName = "nginx-pat patd";

}  // namespace

SourcePool::SourcePool(std::string connfile, unsigned size) : connfile_(std::move(connfile)), size_(size) {}

SourcePool::~SourcePool() = default;

bool SourcePool::open(std::string& error) {
    pat::Expected<std::unique_ptr<pat::Store>> store = pat::fleet::open_source_store(connfile_, kApplicationName);
    if (!store) {
        error = store.status().message();
        return false;
    }
    const std::lock_guard lock(mutex_);
    idle_.push_back(std::move(store.value()));
    return true;
}

SourcePool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), store_(std::move(other.store_)), broken_(other.broken_) {
    other.pool_ = nullptr;
}

SourcePool::Lease::~Lease() {
    if (pool_ != nullptr && store_) pool_->give_back(std::move(store_), broken_);
}

SourcePool::Lease SourcePool::lease(std::chrono::milliseconds wait, std::string& error) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        if (!idle_.empty()) {
            std::unique_ptr<pat::Store> store = std::move(idle_.back());
            idle_.pop_back();
            ++out_;
            return Lease(this, std::move(store));
        }
        if (out_ + opening_ < size_) break;
        if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
            out_ + opening_ >= size_) {
            error = "all " + std::to_string(size_) + " connections to the fleet source are in use";
            return {};
        }
    }
    // A new connection, opened outside the lock (connecting may take up to
    // its connect timeout).
    ++opening_;
    lock.unlock();
    pat::Expected<std::unique_ptr<pat::Store>> store = pat::fleet::open_source_store(connfile_, kApplicationName);
    lock.lock();
    --opening_;
    if (!store) {
        error = store.status().message();
        if (error != last_failure_) {
            last_failure_ = error;
            log_line(Level::crit, "cannot open the fleet source: " + error);
        }
        returned_.notify_one();
        return {};
    }
    if (!last_failure_.empty()) {
        log_line(Level::notice, "connected to the fleet source again");
        last_failure_.clear();
    }
    ++out_;
    return Lease(this, std::move(store.value()));
}

void SourcePool::give_back(std::unique_ptr<pat::Store> store, bool broken) {
    if (broken) store.reset();  // closes its connection, outside the lock
    {
        const std::lock_guard lock(mutex_);
        --out_;
        if (store) idle_.push_back(std::move(store));
    }
    returned_.notify_one();
}

}  // namespace patd
