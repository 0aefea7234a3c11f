#include "store_holder.hpp"

#include <sys/stat.h>

#include "log.hpp"

namespace patd {

namespace {

// A failed open is retried after this long; a lock region that still
// describes the replaced file (another process holds it: the last one may
// let go any moment) after a tenth of it.
constexpr auto kReopenInterval = std::chrono::milliseconds(1000);
constexpr auto kLockRegionRetry = std::chrono::milliseconds(100);

}  // namespace

namespace {

const char* mode_name(pat::Store::Mode mode) {
    return mode == pat::Store::Mode::read_write ? "read-write" : "read-only";
}

}  // namespace

bool StoreHolder::open(const std::string& path, std::string& error, pat::Store::Mode mode) {
    const std::lock_guard lock(mutex_);
    path_ = path;
    mode_ = mode;
    open_locked();
    if (!current_) error = last_failure_;
    return current_ != nullptr;
}

// Takes the open store out of use when the path names another file or none.
void StoreHolder::check_locked() {
    if (!current_) return;
    struct stat st;
    if (::stat(path_.c_str(), &st) == 0 && FileId{st.st_dev, st.st_ino} == file_) return;
    log_line(Level::warn, "the store " + path_ + " was replaced or removed: reopening it once the " +
                              std::to_string(current_.use_count() - 1) + " request(s) using it finish");
    ++replacements_;
    current_.reset();  // closes it now, or when the last lease goes
    next_attempt_ = Clock::time_point{};
}

void StoreHolder::open_locked() {
    if (current_ || open_stores_.load(std::memory_order_acquire) != 0) return;
    if (Clock::now() < next_attempt_) return;
    // The file's identity before the open: if it is replaced in between, the
    // next check sees the difference and reopens.
    struct stat st;
    const bool identified = ::stat(path_.c_str(), &st) == 0;
    auto opened = pat::Store::open(path_, mode_);
    if (!opened) {
        next_attempt_ = Clock::now() + kReopenInterval;
        if (opened.status().message() != last_failure_) {
            last_failure_ = opened.status().message();
            log_line(Level::crit, "cannot open the store " + path_ + " " + mode_name(mode_) + ": " + last_failure_);
        }
        return;
    }
    std::unique_ptr<pat::Store> store = std::move(opened.value());
    // Once per store: the next open finds schema 2.
    if (store->upgraded_from() == 1) {
        log_line(Level::notice,
                 "upgraded the store " + path_ + " from schema 1 to schema " + std::to_string(pat::kSchemaVersion));
    }
    if (const pat::Status region = store->check_lock_region(); !region.ok()) {
        // Closed at once: holding it would keep the region stale for good.
        next_attempt_ = Clock::now() + kLockRegionRetry;
        if (region.message() != last_failure_) {
            last_failure_ = region.message();
            // Expected for a moment after a restore, while nginx's workers
            // let go of the old file: not a fault.
            log_line(Level::warn, "cannot use the store " + path_ + " yet: " + last_failure_ + "; retrying");
        }
        return;
    }
    open_stores_.fetch_add(1, std::memory_order_acq_rel);
    // The deleter may run on any thread, holding mutex_ or not: it only
    // counts (an atomic), after the store has closed.
    current_ = std::shared_ptr<pat::Store>(store.release(), [this](pat::Store* closing) {
        delete closing;
        open_stores_.fetch_sub(1, std::memory_order_acq_rel);
    });
    file_ = identified ? FileId{st.st_dev, st.st_ino} : FileId{};
    if (!last_failure_.empty() || replacements_.load() != 0) {
        log_line(Level::notice, "opened the store " + path_ + " " + mode_name(mode_));
    }
    last_failure_.clear();
}

std::shared_ptr<pat::Store> StoreHolder::lease() {
    const std::lock_guard lock(mutex_);
    check_locked();
    open_locked();
    return current_;
}

bool StoreHolder::in_use(const pat::Store* store) {
    const std::lock_guard lock(mutex_);
    check_locked();
    return current_ && current_.get() == store;
}

void StoreHolder::tend() {
    const std::lock_guard lock(mutex_);
    check_locked();
    open_locked();
}

void StoreHolder::close() {
    const std::lock_guard lock(mutex_);
    current_.reset();
}

}  // namespace patd
