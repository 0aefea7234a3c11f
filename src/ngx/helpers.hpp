// Small helpers over nginx's types that the glue's files share.
#pragma once

#include <cstdint>
#include <string_view>

#include "ngx.hpp"

namespace pat::ngx {

// The bytes of an ngx_str_t, borrowed.
inline std::string_view view(const ngx_str_t& s) noexcept {
    return {reinterpret_cast<const char*>(s.data), s.len};
}

// nginx's cached wall-clock time (updated once per event-loop turn) in
// milliseconds since the epoch: the "now" of the core's decisions.
inline std::int64_t now_ms() noexcept {
    const ngx_time_t* now = ngx_timeofday();
    return static_cast<std::int64_t>(now->sec) * 1000 + static_cast<std::int64_t>(now->msec);
}

// Appends "NAME: VALUE" to the response headers. Neither is copied: both
// must live as long as the response (a literal, r->pool). nullptr when the
// pool is exhausted.
inline ngx_table_elt_t* push_response_header(ngx_http_request_t* r, std::string_view name, ngx_str_t value) noexcept {
    auto* header = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
    if (header == nullptr) return nullptr;
    header->hash = 1;
    header->key.data = reinterpret_cast<u_char*>(const_cast<char*>(name.data()));
    header->key.len = name.size();
    header->value = value;
    header->lowcase_key = nullptr;
#if nginx_version >= 1023000
    header->next = nullptr;  // 1.23 chains headers of one name; 1.22 has no such field
#endif
    return header;
}

// A timer on the worker's event loop, owned like any member: it fires
// handler(event) with event->data == data, and is taken off the loop when
// destroyed. It never delays a graceful shutdown (cancelable).
class Timer {
   public:
    Timer() = default;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer() { stop(); }

    void start(ngx_event_handler_pt handler, void* data, ngx_log_t* log, ngx_msec_t interval) noexcept {
        event_.handler = handler;
        event_.data = data;
        event_.log = log;
        event_.cancelable = 1;
        interval_ = interval;
        ngx_add_timer(&event_, interval_);
    }
    // From the handler: fire again after the interval (or after `after`),
    // unless the worker is shutting down.
    void again() noexcept { again(interval_); }
    void again(ngx_msec_t after) noexcept {
        if (!ngx_exiting) ngx_add_timer(&event_, after);
    }
    void stop() noexcept {
        if (event_.timer_set) ngx_del_timer(&event_);
    }

   private:
    ngx_event_t event_{};
    ngx_msec_t interval_ = 0;
};

}  // namespace pat::ngx
