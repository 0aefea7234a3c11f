#include "api_handler.hpp"

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "helpers.hpp"
#include "module_conf.hpp"
#include "pat/error_body.hpp"
#include "pat/management_api.hpp"
#include "pat/store.hpp"
#include "pat/token.hpp"
#include "request_context.hpp"
#include "sign_in_gate.hpp"
#include "throttle_zone.hpp"
#include "worker.hpp"

namespace pat::ngx {

// Everything one API request needs on the thread, copied out of nginx's
// structures (the thread must not read memory the event loop may change),
// and the answer it produces. Secrets (the Authorization header, a body
// with passwords, a new token in the answer) are wiped when it is freed.
//
// The store is the worker's one Store for the path (worker_stores.hpp),
// shared with the access phase and with the other tasks: several API
// requests of one worker run at once (each password check is its own
// scrypt), as pat::Store's thread contract allows. The job leases it on its
// thread only while the call runs, after its turn at the sign-in gate: a
// job waiting in the queue keeps no store open.
struct ApiJob {
    std::string method;
    std::string path;
    std::string query;
    std::string address;
    std::string authorization;
    std::string content_type;
    bool has_origin = false;
    std::string origin;
    std::string host;
    std::string sign_in_key;  // sign_in_gate.hpp
    std::string body;
    bool body_too_large = false;
    std::int64_t now_ms = 0;

    ngx_uint_t db_index = 0;
    std::shared_ptr<StoreLeases> store;  // nullptr when unavailable: store_problem says why
    std::string store_problem;           // logged at crit (at warn when store_reopening)
    bool store_reopening = false;        // unavailable for a moment: 503, retry
    std::string realm;
    ngx_shm_zone_t* throttle_zone = nullptr;

    ApiResponse response;  // wipes a secret body itself
    std::string failure;   // why the thread could not answer; logged at alert

    ApiJob() = default;
    ApiJob(const ApiJob&) = delete;
    ApiJob& operator=(const ApiJob&) = delete;
    ~ApiJob() {
        wipe(authorization);
        wipe(body);
    }
};

namespace {

std::string copy(const ngx_str_t& s) {
    return std::string(view(s));
}

// An answer the core did not make (the store is unavailable, or the task
// failed): the core's fixed body for the status, or the status alone when
// even that cannot be allocated.
void set_error(ApiJob& job, int status) noexcept {
    try {
        job.response = fixed_error_response(status);
    } catch (...) {
        job.response.status = status;
    }
}

// ---- on the thread pool ----

void run_job(void* data, ngx_log_t*) noexcept {
    ApiJob& job = **static_cast<ApiJob**>(data);
    try {
        SharedThrottle limiter(job.throttle_zone);
        ManagementApiOptions options;
        options.realm = job.realm;
        options.limiter = &limiter;

        ApiRequest request;
        request.method = job.method;
        request.path = job.path;
        request.query = job.query;
        request.body = job.body;
        request.body_too_large = job.body_too_large;
        request.authorization = job.authorization;
        request.content_type = job.content_type;
        request.has_origin = job.has_origin;
        request.origin = job.origin;
        request.host = job.host;
        request.client_address = job.address;
        request.now_ms = job.now_ms;

        if (job.store == nullptr) {
            // Answered here rather than on the event loop: one path for
            // every answer.
            set_error(job, job.store_reopening ? 503 : 500);
            return;
        }
        // Its turn at the sign-in gate first, then the store: a task that
        // waits holds no lease, so a replaced store closes as soon as the
        // calls actually running on it finish.
        const SignInPass pass(job.sign_in_key);
        const StoreLease lease(*job.store);
        if (lease.get() == nullptr) {
            job.store_reopening = true;
            job.store_problem = "the store is being reopened (its file was replaced, or it failed): answered 503";
            set_error(job, 503);
            return;
        }
        // Its own instance per request: ManagementApi keeps no state
        // between calls, but the limiter it points to is this task's.
        ManagementApi api(*lease.get(), options);
        job.response = api.handle(request);
    } catch (const std::exception& e) {
        try {
            job.failure = e.what();
        } catch (...) {
        }
        set_error(job, 500);
    } catch (...) {
        try {
            job.failure = "unexpected exception";
        } catch (...) {
        }
        set_error(job, 500);
    }
}

// ---- on the event loop ----

void delete_job(void* data) noexcept {
    delete static_cast<ApiJob*>(data);
}

// The write handler while the job runs: a writable socket has nothing to
// send yet.
void waiting_for_job(ngx_http_request_t*) noexcept {}

// A header whose value is copied into r->pool (the name is a literal).
ngx_table_elt_t* add_header(ngx_http_request_t* r, std::string_view name, std::string_view value) {
    ngx_str_t copied{value.size(), static_cast<u_char*>(ngx_pnalloc(r->pool, value.size()))};
    if (copied.data == nullptr && !value.empty()) return nullptr;
    ngx_memcpy(copied.data, value.data(), value.size());
    return push_response_header(r, name, copied);
}

ngx_int_t send_answer(ngx_http_request_t* r, ApiJob& job) {
    const ApiResponse& answer = job.response;
    r->headers_out.status = static_cast<ngx_uint_t>(answer.status);
    // Bodies can hold a token (the creation) or who has which tokens:
    // nothing may keep a copy.
    if (add_header(r, "Cache-Control", "no-store") == nullptr) return NGX_ERROR;
    if (!answer.www_authenticate.empty()) {
        ngx_table_elt_t* header = add_header(r, "WWW-Authenticate", answer.www_authenticate);
        if (header == nullptr) return NGX_ERROR;
        r->headers_out.www_authenticate = header;
    }
    if (!answer.allow.empty() && add_header(r, "Allow", answer.allow) == nullptr) return NGX_ERROR;
    if (answer.retry_after_s > 0 && add_header(r, "Retry-After", std::to_string(answer.retry_after_s)) == nullptr) {
        return NGX_ERROR;
    }
    r->allow_ranges = 0;
    if (!answer.content_type.empty()) {
        r->headers_out.content_type.data = reinterpret_cast<u_char*>(const_cast<char*>(answer.content_type.data()));
        r->headers_out.content_type.len = answer.content_type.size();
        r->headers_out.content_type_len = answer.content_type.size();
        r->headers_out.content_type_lowcase = nullptr;
    }
    r->headers_out.content_length_n = static_cast<off_t>(answer.body.size());
#if (NGX_HTTP_GZIP)
    if (answer.body_is_secret) {
        // gzip would copy the token into buffers nobody wipes.
        r->gzip_tested = 1;
        r->gzip_ok = 0;
    }
#endif
    const ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only || answer.body.empty()) return rc;

    // The buffer points into the job, which r->pool's cleanup frees (and
    // wipes) only after the last byte has gone out.
    auto* buf = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
    if (buf == nullptr) return NGX_ERROR;
    buf->pos = reinterpret_cast<u_char*>(const_cast<char*>(answer.body.data()));
    buf->last = buf->pos + answer.body.size();
    buf->memory = 1;
    buf->last_buf = 1;
    buf->last_in_chain = 1;
    ngx_chain_t out{buf, nullptr};
    return ngx_http_output_filter(r, &out);
}

void log_job(ngx_http_request_t* r, const ApiJob& job) {
    ngx_log_t* log = r->connection->log;
    if (!job.store_problem.empty()) {
        const ngx_uint_t level = job.store_reopening ? NGX_LOG_WARN : NGX_LOG_CRIT;
        ngx_log_error(level, log, 0, "auth_pat: token API: %s", job.store_problem.c_str());
    }
    if (!job.failure.empty()) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "auth_pat: token API failed: %s", job.failure.c_str());
    }
    const std::string& line = job.response.audit_line;
    if (line.empty()) return;
    // Changes and password failures at notice (the audit); a store fault
    // the core reports, at crit like the access handler's.
    const ngx_uint_t level = job.response.status >= 500 ? NGX_LOG_CRIT : NGX_LOG_NOTICE;
    ngx_log_error(level, log, 0, "auth_pat: %s", line.c_str());
}

void job_done(ngx_event_t* ev) noexcept {
    auto* r = static_cast<ngx_http_request_t*>(ev->data);
    ngx_connection_t* c = r->connection;
    ngx_http_set_log_request(c->log, r);
    // The task is over (its lease returned on its thread): close a store
    // that waited for it now rather than at the next request or tick.
    if (RequestContext* done = find_request_context(r); done != nullptr && done->api_job != nullptr) {
        done->api_job->store.reset();
        if (Worker* worker = Worker::current()) worker->stores().tend(c->log);
    }
    r->main->blocked--;
    r->aio = 0;

    if (r->write_event_handler != waiting_for_job) {
        // The request was terminated meanwhile (the client went away):
        // nginx installed its finalizer.
        r->write_event_handler(r);
        ngx_http_run_posted_requests(c);
        return;
    }
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_int_t rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    try {
        RequestContext* ctx = find_request_context(r);
        if (ctx != nullptr && ctx->api_job != nullptr) {
            log_job(r, *ctx->api_job);
            rc = send_answer(r, *ctx->api_job);
        }
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, c->log, 0, "auth_pat: token API: could not send the answer");
        rc = NGX_ERROR;
    }
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}

bool post_job(ngx_http_request_t* r, ApiJob& job) {
    const LocConf* conf = loc_conf(r);
    ngx_thread_task_t* task = ngx_thread_task_alloc(r->pool, sizeof(ApiJob*));
    if (task == nullptr) return false;
    Worker* worker = Worker::current();
    TaskStore taken;
    if (worker != nullptr) {
        taken = worker->stores().for_task(job.db_index, r->connection->log);
    } else {
        taken.why = "the worker could not set up its stores (logged at its start)";
    }
    job.store = std::move(taken.leases);
    job.store_problem = std::move(taken.why);
    job.store_reopening = taken.retry_soon;
    *static_cast<ApiJob**>(task->ctx) = &job;
    task->handler = run_job;
    task->event.handler = job_done;
    task->event.data = r;
    task->event.log = r->connection->log;
    if (ngx_thread_task_post(conf->api_thread_pool, task) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "auth_pat: token API: the thread pool refused the task (queue full?)");
        job.store.reset();
        return false;
    }
    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = waiting_for_job;
    return true;
}

// Copies the body into the job and wipes nginx's in-memory copies (a
// password change carries passwords). Parts nginx wrote to a temporary file
// (bodies over client_body_buffer_size) are read back from it.
bool collect_body(ngx_http_request_t* r, ApiJob& job) {
    if (r->request_body == nullptr) return true;
    std::size_t total = 0;
    for (ngx_chain_t* link = r->request_body->bufs; link != nullptr; link = link->next) {
        total += static_cast<std::size_t>(ngx_buf_size(link->buf));
    }
    if (total > kMaxApiBodyBytes) {
        job.body_too_large = true;
    } else {
        job.body.reserve(total);  // no reallocation: no stray copy of a secret
    }
    for (ngx_chain_t* link = r->request_body->bufs; link != nullptr; link = link->next) {
        ngx_buf_t* buf = link->buf;
        if (buf->in_file) {
            if (job.body_too_large) continue;
            const auto size = static_cast<std::size_t>(buf->file_last - buf->file_pos);
            const std::size_t at = job.body.size();
            job.body.resize(at + size);
            const ssize_t n =
                ngx_read_file(buf->file, reinterpret_cast<u_char*>(job.body.data() + at), size, buf->file_pos);
            if (n != static_cast<ssize_t>(size)) {
                ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                              "auth_pat: token API: could not read the request body back from \"%V\"",
                              &buf->file->name);
                return false;
            }
        } else if (buf->pos != nullptr && buf->last > buf->pos) {
            if (!job.body_too_large)
                job.body.append(reinterpret_cast<const char*>(buf->pos),
                                static_cast<std::size_t>(buf->last - buf->pos));
            ngx_explicit_memzero(buf->pos, static_cast<size_t>(buf->last - buf->pos));
        }
    }
    return true;
}

void body_read(ngx_http_request_t* r) noexcept {
    try {
        RequestContext* ctx = find_request_context(r);
        if (ctx != nullptr && ctx->api_job != nullptr && collect_body(r, *ctx->api_job) && post_job(r, *ctx->api_job)) {
            return;
        }
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0, "auth_pat: token API: out of memory");
    }
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}

// The Origin header (nginx 1.22 keeps no pointer to it); nullptr if absent.
const ngx_table_elt_t* origin_header(ngx_http_request_t* r) {
    for (ngx_list_part_t* part = &r->headers_in.headers.part; part != nullptr; part = part->next) {
        const auto* headers = static_cast<const ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            if (headers[i].key.len == 6 && ngx_strncasecmp(headers[i].key.data, (u_char*)"origin", 6) == 0) {
                return &headers[i];
            }
        }
    }
    return nullptr;
}

// $remote_user is nginx's parse of the Basic user name; a token sent as the
// user name ("<token>:") must not reach the access log through it (the API
// refuses it anyway). See hide_remote_user in access_handler.cpp.
void hide_token_as_remote_user(ngx_http_request_t* r) {
    if (ngx_http_auth_basic_user(r) != NGX_OK) return;
    if (!looks_like_token(view(r->headers_in.user))) return;
    ngx_explicit_memzero(r->headers_in.user.data, r->headers_in.user.len);
    r->headers_in.user.len = 0;
    r->headers_in.user.data = reinterpret_cast<u_char*>(const_cast<char*>(""));
}

ApiJob* create_job(ngx_http_request_t* r, const LocConf& conf) {
    ngx_pool_cleanup_t* cleanup = ngx_pool_cleanup_add(r->pool, 0);
    if (cleanup == nullptr) return nullptr;
    auto* job = new ApiJob();
    cleanup->handler = delete_job;
    cleanup->data = job;

    job->method = copy(r->method_name);
    job->path = copy(r->uri);
    job->query = copy(r->args);
    job->address = copy(r->connection->addr_text);
    if (r->headers_in.authorization != nullptr) {
        job->authorization = copy(r->headers_in.authorization->value);
        job->sign_in_key = sign_in_key(&r->headers_in.authorization->value);
        hide_token_as_remote_user(r);
    }
    if (r->headers_in.content_type != nullptr) job->content_type = copy(r->headers_in.content_type->value);
    if (const ngx_table_elt_t* origin = origin_header(r)) {
        job->has_origin = true;
        job->origin = copy(origin->value);
    }
    if (r->headers_in.host != nullptr) job->host = copy(r->headers_in.host->value);
    job->now_ms = now_ms();

    job->db_index = conf.db_index;
    job->realm = copy(conf.api_realm);
    job->throttle_zone = main_conf(r)->throttle_zone;
    return job;
}

}  // namespace

ngx_int_t api_content_handler(ngx_http_request_t* r) noexcept {
    try {
        const LocConf* conf = loc_conf(r);
        if (r != r->main) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "auth_pat: the token API does not serve subrequests");
            return NGX_HTTP_FORBIDDEN;
        }
        if (r->request_body_in_persistent_file) {
            // client_body_in_file_only on keeps every body on disk, and a
            // password change's body holds passwords.
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "auth_pat: the token API refuses to run with \"client_body_in_file_only on\"");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (conf->db_index == NGX_CONF_UNSET_UINT || conf->api_thread_pool == nullptr) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;  // nginx -t refuses such a configuration
        }
        RequestContext* ctx = request_context(r);
        if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        ctx->api_job = create_job(r, *conf);
        if (ctx->api_job == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

        if (r->headers_in.content_length_n > static_cast<off_t>(kMaxApiBodyBytes)) {
            // Not worth reading: the core answers 400 (after its 404/405
            // checks) without looking at the body.
            ctx->api_job->body_too_large = true;
            const ngx_int_t rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) return rc;
            r->main->count++;  // the job's reference, released by job_done's finalize
            if (!post_job(r, *ctx->api_job)) {
                r->main->count--;
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            return NGX_DONE;
        }
        const ngx_int_t rc = ngx_http_read_client_request_body(r, body_read);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) return rc;
        return NGX_DONE;
    } catch (const std::exception& e) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0, "auth_pat: token API: %s", e.what());
    } catch (...) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0, "auth_pat: token API: unexpected exception");
    }
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace pat::ngx
