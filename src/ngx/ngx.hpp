// The one place the glue includes nginx: its headers are C, so they are
// wrapped here and nowhere else.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>
}

// The management API and the "last authenticated" flush run store writes on
// nginx's thread pools; Debian's nginx (and any nginx built --with-threads)
// has them.
#if !(NGX_THREADS)
#error "ngx_http_auth_pat_module needs an nginx built with --with-threads"
#endif
