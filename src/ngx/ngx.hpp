// The one place the glue includes nginx: its headers are C, so they are
// wrapped here and nowhere else.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}
