// At most N password checks at once (each scrypt check takes 32 MiB and
// ~50-100 ms of CPU): a request that finds every place taken is answered
// 503 with Retry-After at once, never queued.
#pragma once

#include <atomic>

namespace patd {

class SignInGate {
   public:
    explicit SignInGate(unsigned places) : free_(static_cast<int>(places)) {}

    // A place, or none (the caller answers 503). Released on destruction.
    class Pass {
       public:
        explicit Pass(SignInGate& gate) : gate_(&gate) {
            if (gate.free_.fetch_sub(1, std::memory_order_acq_rel) <= 0) {
                gate.free_.fetch_add(1, std::memory_order_acq_rel);
                gate_ = nullptr;
            }
        }
        ~Pass() {
            if (gate_ != nullptr) gate_->free_.fetch_add(1, std::memory_order_acq_rel);
        }
        Pass(const Pass&) = delete;
        Pass& operator=(const Pass&) = delete;
        bool admitted() const { return gate_ != nullptr; }

       private:
        SignInGate* gate_;
    };

   private:
    std::atomic<int> free_;
};

}  // namespace patd
