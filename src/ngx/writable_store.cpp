#include "writable_store.hpp"

#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <vector>

#include "pat/store.hpp"

namespace pat::ngx {

namespace {

struct WritableSlot {
    std::unique_ptr<Store> store;
    dev_t device = 0;
    ino_t inode = 0;
};

struct WritableStores {
    std::mutex lock;
    std::vector<WritableSlot> slots;
};

WritableStores* writable_stores = nullptr;

bool same_file(const WritableSlot& slot, const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && st.st_dev == slot.device && st.st_ino == slot.inode;
}

}  // namespace

void start_writable_stores() noexcept {
    try {
        if (writable_stores == nullptr) writable_stores = new WritableStores();
    } catch (...) {
        writable_stores = nullptr;  // every use then reports that the worker has no stores
    }
}

void stop_writable_stores() noexcept {
    delete writable_stores;
    writable_stores = nullptr;
}

bool with_writable_store(ngx_uint_t index, const std::string& path, const std::function<bool(Store&)>& use,
                         std::string& why) {
    if (writable_stores == nullptr) {
        why = "the worker has no writable stores (out of memory at start?)";
        return false;
    }
    std::lock_guard guard(writable_stores->lock);
    auto& slots = writable_stores->slots;
    if (slots.size() <= index) slots.resize(index + 1);
    WritableSlot& slot = slots[index];
    // Writing to a file that was replaced under its path (a restored backup
    // moved into place) would lose every change: follow the path.
    if (slot.store && !same_file(slot, path)) slot.store.reset();
    if (!slot.store) {
        auto opened = Store::open(path, Store::Mode::read_write);
        if (!opened) {
            why = "cannot open the store \"" + path + "\" for writing: " + opened.status().message();
            return false;
        }
        struct stat st;
        if (stat(path.c_str(), &st) == 0) {
            slot.device = st.st_dev;
            slot.inode = st.st_ino;
        }
        slot.store = std::move(opened.value());
    }
    if (!use(*slot.store)) slot.store.reset();
    return true;
}

}  // namespace pat::ngx
