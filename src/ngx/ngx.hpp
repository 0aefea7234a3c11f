// The one place the glue includes nginx: its headers are C, so they are
// wrapped here and nowhere else.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>
}

// The "last authenticated" flush writes the usage files on nginx's default
// thread pool; Debian's nginx (and any nginx built --with-threads) has it.
#if !(NGX_THREADS)
#error "ngx_http_auth_pat_module needs an nginx built with --with-threads"
#endif
