#include "server.hpp"

#include <microhttpd.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "client_address.hpp"
#include "fleet_limiter.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "pat/error_body.hpp"
#include "pat/kv.hpp"
#include "pat/management_api.hpp"
#include "pat/prometheus.hpp"
#include "pat/secret.hpp"
#include "pat/sign_in_limiter.hpp"
#include "pat/store.hpp"
#include "replication.hpp"
#include "sign_in_gate.hpp"
#include "source_pool.hpp"

namespace patd {

namespace {

// The store leased by the request this thread answers (a thread per
// connection), for the sign-in limiter's lookup; nullptr outside one. In
// fleet mode the node's replica (the source's records, read locally), or
// the source itself while the replica cannot be opened.
thread_local pat::Store* request_store = nullptr;

// A source lease waits this long for a free connection, then 503.
constexpr auto kSourceLeaseWait = std::chrono::milliseconds(5000);

}  // namespace

struct Server::State {
    // The store file: in fleet mode the node's replica, read-only.
    StoreHolder& store;
    // Fleet mode (docs/patd.md#fleet-mode): the source the API reads and
    // writes, the wait for the replica; nullptr in the single-host mode.
    SourcePool* source = nullptr;
    ReplicationWatch* replication = nullptr;
    Options options;
    const pat::DirectoryClient* directory = nullptr;
    // Known users are limited apart from unknown names and addresses, so
    // traffic for other names can never evict a user's budget
    // (docs/sign-in-limits.md).
    pat::SignInLimiter limiter;
    // Fleet mode: the throttle counted in the source, over `limiter`.
    std::unique_ptr<FleetSignInLimiter> fleet_limiter;
    // Calls of the credential-less revoke-by-value endpoint, per client
    // address (IPv6 per /64), in this process's memory: per node in fleet
    // mode (docs/rest-api.md#revoke-leaked-tokens-by-value).
    pat::SignInLimiter revoke_limiter{[](std::string_view) { return false; }, revoke_limits()};
    SignInGate gate;
    Metrics metrics;
    MHD_Daemon* daemon = nullptr;

    State(StoreHolder& s, const Options& o)
        : store(s),
          options(o),
          limiter(
              [](std::string_view user) {
                  // Runs on the request's thread, inside handle(): the
                  // request's own store, never one switched in since.
                  return request_store != nullptr && request_store->get_user(user).ok();
              },
              limits_for(o)),
          gate(o.max_sign_ins) {}

    // One user's fair share of the password-check places: the limiter's
    // (2), but always one place fewer than there are, so that others find
    // one (with --max-sign-ins 1 there is nothing to share).
    static pat::SignInLimits revoke_limits() {
        pat::SignInLimits limits;
        limits.address_attempts = 20;
        limits.window_ms = 60'000;
        return limits;
    }

    static pat::SignInLimits limits_for(const Options& o) {
        pat::SignInLimits limits;
        limits.user_in_flight = std::clamp<std::uint32_t>(o.max_sign_ins - 1, 1, limits.user_in_flight);
        return limits;
    }
};

namespace {

// Everything one request collects before it is answered. Created by the
// URI callback (which sees the raw request target, query included).
struct Exchange {
    std::string target;  // the raw request target
    std::string body;
    bool body_too_large = false;
    bool headers_seen = false;  // the first call (headers only) is over
    std::size_t dropped = 0;    // body bytes read past the limit
    ~Exchange() { pat::wipe(body); }
};

// Whether the client of this connection has gone: it closed the connection
// (or its sending half, which HTTP clients do only when they leave; nginx
// reads it the same way) or the connection failed. The request's thread is
// the only one that serves this connection, so libmicrohttpd cannot tell
// while the handler runs: the socket itself is asked, without waiting.
bool client_gone(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info == nullptr) return false;
    pollfd socket{info->connect_fd, POLLRDHUP, 0};
    if (::poll(&socket, 1, 0) != 1) return false;
    return (socket.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

// patd's say before each password check (pat::PasswordCheckGate): a client
// that has gone is dropped; otherwise the check needs one of the
// --max-sign-ins places, or the answer is 503 at once.
class CheckGate final : public pat::PasswordCheckGate {
   public:
    CheckGate(Server::State& state, MHD_Connection* connection) : state_(state), connection_(connection) {}

    Verdict enter() override {
        if (client_gone(connection_)) {
            gone_ = true;
            state_.metrics.count_dropped();
            return Verdict::client_gone;
        }
        if (store_ != nullptr && !state_.store.in_use(store_)) {
            // Replaced since this request took its lease: the check would
            // hold the old file (~0.1 s of CPU, more when busy) and what
            // follows could write to it. 503 as while the store reopens.
            replaced_ = true;
            return Verdict::busy;
        }
        pass_.emplace(state_.gate);
        if (!pass_->admitted()) {
            pass_.reset();
            state_.metrics.count_busy();
            return Verdict::busy;
        }
        state_.metrics.count_check();
        checked_ = true;
        return Verdict::go;
    }
    void leave() noexcept override { pass_.reset(); }

    // The store file this request leased (not in fleet mode: the source is
    // no file to be replaced).
    void use(const pat::Store* store) { store_ = store; }
    bool gone() const { return gone_; }
    // The check was refused because the store was replaced meanwhile.
    bool replaced() const { return replaced_; }
    // A password check ran for this request.
    bool checked() const { return checked_; }

   private:
    Server::State& state_;
    MHD_Connection* connection_;
    std::optional<SignInGate::Pass> pass_;
    const pat::Store* store_ = nullptr;
    bool gone_ = false;
    bool replaced_ = false;
    bool checked_ = false;
};

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void* uri_seen(void*, const char* uri, MHD_Connection*) {
    try {
        auto* exchange = new Exchange;
        exchange->target = uri != nullptr ? uri : "";
        return exchange;
    } catch (...) {
        return nullptr;
    }
}

void request_done(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<Exchange*>(*con_cls);
    *con_cls = nullptr;
}

// The body of a response, owned by libmicrohttpd until sent, then wiped.
void free_body(void* cls) {
    auto* body = static_cast<std::string*>(cls);
    pat::wipe(*body);
    delete body;
}

MHD_Result send(MHD_Connection* connection, pat::ApiResponse& answer, const std::optional<std::string>& replicated) {
    auto* body = new std::string(std::move(answer.body));
    MHD_Response* response =
        MHD_create_response_from_buffer_with_free_callback_cls(body->size(), body->data(), free_body, body);
    if (response == nullptr) {
        free_body(body);
        return MHD_NO;
    }
    // Bodies can hold a token or who has which tokens: nobody may keep a copy.
    MHD_add_response_header(response, "Cache-Control", "no-store");
    if (!answer.content_type.empty()) MHD_add_response_header(response, "Content-Type", answer.content_type.c_str());
    if (!answer.www_authenticate.empty()) {
        MHD_add_response_header(response, "WWW-Authenticate", answer.www_authenticate.c_str());
    }
    if (!answer.allow.empty()) MHD_add_response_header(response, "Allow", answer.allow.c_str());
    if (answer.retry_after_s > 0) {
        MHD_add_response_header(response, "Retry-After", std::to_string(answer.retry_after_s).c_str());
    }
    if (replicated) MHD_add_response_header(response, "X-Pat-Replicated", replicated->c_str());
    const MHD_Result result = MHD_queue_response(connection, static_cast<unsigned>(answer.status), response);
    MHD_destroy_response(response);
    return result;
}

const char* header(MHD_Connection* connection, const char* name) {
    return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

std::string_view view(const char* text) {
    return text != nullptr ? std::string_view(text) : std::string_view();
}

pat::ApiResponse answer_request(Server::State& state, MHD_Connection* connection, const char* url, const char* method,
                                const Exchange& exchange, CheckGate& check_gate,
                                std::optional<std::string>& replicated);

// Fleet mode: the request runs over a store of the source that it alone
// uses, so its engine's last committed position, read after the exchange,
// is this request's own last write (it changed when the request wrote). A
// successful change then waits for the node's replica (ReplicationWatch).
pat::ApiResponse answer_from_source(Server::State& state, const pat::ApiRequest& request, std::string_view method,
                                    pat::ManagementApiOptions options, std::optional<std::string>& replicated) {
    std::string why;
    SourcePool::Lease source = state.source->lease(kSourceLeaseWait, why);
    if (!source) {
        pat::ApiResponse response = pat::fixed_error_response(503);
        response.audit_line = "token API: " + std::string(method) + " answered 503: " + why;
        return response;
    }
    pat::kv::Engine& engine = source.store().engine();
    const std::uint64_t before = engine.last_committed_position();
    pat::ApiResponse response;
    {
        // The limiter's "is this a user" asks the replica (local, no round
        // trip under the limiter's lock) when it can be had. Let go of
        // before the wait below: a replica the follower replaces by rename
        // must not be held (the workers could not use the new file).
        const std::shared_ptr<pat::Store> replica = state.store.lease();
        struct RequestStore {
            explicit RequestStore(pat::Store* store) { request_store = store; }
            ~RequestStore() { request_store = nullptr; }
        } const request_store_set(replica ? replica.get() : &source.store());
        pat::ManagementApi api(source.store(), std::move(options));
        response = api.handle(request);
    }
    const std::uint64_t after = engine.last_committed_position();
    // A store error (the connection broke, PostgreSQL restarted): the next
    // request opens a new connection.
    if (response.status == 500) source.discard();
    const bool change = method != "GET" && method != "HEAD";
    if (change && after != before && response.status >= 200 && response.status < 300) {
        const ReplicationWatch::Outcome outcome = state.replication->await(after);
        replicated = outcome.nodes;
        if (!outcome.local) {
            log_line(Level::warn, "token API: change " + std::to_string(after) + " was not in this node's replica " +
                                      "within 2 s (is its follower running?)");
        }
    }
    return response;
}

pat::ApiResponse answer_request(Server::State& state, MHD_Connection* connection, const char* url, const char* method,
                                const Exchange& exchange, CheckGate& check_gate,
                                std::optional<std::string>& replicated) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const std::string address =
        client_address(info != nullptr ? info->client_addr : nullptr, header(connection, kClientAddressHeader));
    const std::string_view target = exchange.target;
    const std::size_t question = target.find('?');

    pat::ApiRequest request;
    request.method = method;
    request.path = url;  // the path, percent-decoded by libmicrohttpd
    request.query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    request.body = exchange.body;
    request.body_too_large = exchange.body_too_large;
    request.authorization = view(header(connection, MHD_HTTP_HEADER_AUTHORIZATION));
    request.content_type = view(header(connection, MHD_HTTP_HEADER_CONTENT_TYPE));
    const char* origin = header(connection, "Origin");
    request.has_origin = origin != nullptr;
    request.origin = view(origin);
    request.host = view(header(connection, MHD_HTTP_HEADER_HOST));
    request.client_address = address;
    request.now_ms = now_ms();
    // Before each password check: is the client still there, and is there a
    // place? Asked after the limiter, so attempts it refuses hold no place.
    request.check_gate = &check_gate;

    pat::ManagementApiOptions options;
    options.realm = state.options.realm;
    options.limiter =
        state.fleet_limiter ? static_cast<pat::PasswordAttemptLimiter*>(state.fleet_limiter.get()) : &state.limiter;
    options.directory = state.directory;
    options.note_empty_password = [&state](std::string_view client, std::int64_t now) {
        return state.limiter.note_empty_password(client, now);
    };
    options.note_revoke_request = [&state](std::string_view client, std::int64_t now) {
        return state.revoke_limiter.note_empty_password(client, now);
    };
    if (state.source != nullptr)
        return answer_from_source(state, request, view(method), std::move(options), replicated);

    // The store, or 503 while a replaced file is reopened.
    const std::shared_ptr<pat::Store> store = state.store.lease();
    if (!store) return pat::fixed_error_response(503);
    check_gate.use(store.get());
    struct RequestStore {
        explicit RequestStore(pat::Store* store) { request_store = store; }
        ~RequestStore() { request_store = nullptr; }
    } const request_store_set(store.get());
    pat::ManagementApi api(*store, std::move(options));
    pat::ApiResponse response = api.handle(request);
    const bool change = view(method) != "GET" && view(method) != "HEAD";
    if (change && response.status >= 200 && response.status < 300 && !state.store.in_use(store.get())) {
        // A restore renamed another file over the store while this change
        // ran: it went into the old file, which is no longer used, so it is
        // not in the store every request now reads. Saying so (503, retry)
        // instead of 200 keeps a client from trusting a token that does not
        // exist or a revocation that did not happen. The assignment wipes a
        // new token's text.
        const std::string action = response.audit_line;
        response = pat::fixed_error_response(503);
        response.audit_line = "token API: " + std::string(view(method)) +
                              " answered 503: the store was replaced while it ran, so the change is not in "
                              "the store now in use (" +
                              (action.empty() ? std::string("no audit line") : action) + ")";
    }
    return response;
}

// GET /metrics: the counters (metrics.hpp), for a scraper that nginx lets
// through (docs/metrics.md); not part of the token API, whose paths all
// start with /rest/.
pat::ApiResponse metrics_response(const Server::State& state, std::string_view method) {
    pat::ApiResponse response;
    if (method != "GET" && method != "HEAD") {
        response.status = 405;
        response.content_type = "text/plain; charset=utf-8";
        response.body = "Use GET for /metrics.\n";
        response.allow = "GET, HEAD";
        return response;
    }
    const MHD_DaemonInfo* info = MHD_get_daemon_info(state.daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    response.status = 200;
    response.content_type = pat::kPrometheusContentType;
    response.body = state.metrics.text(info != nullptr ? info->num_connections : 0);
    return response;
}

MHD_Result answer(Server::State& state, MHD_Connection* connection, const char* url, const char* method,
                  const Exchange& exchange) {
    pat::ApiResponse response;
    if (view(url) == "/metrics") {
        try {
            response = metrics_response(state, view(method));
        } catch (...) {
            response = pat::fixed_error_response(500);
        }
        return send(connection, response, std::nullopt);
    }
    CheckGate check_gate(state, connection);
    std::optional<std::string> replicated;
    try {
        response = answer_request(state, connection, url, method, exchange, check_gate, replicated);
    } catch (...) {
        response = pat::fixed_error_response(500);
        log_line(Level::crit, "token API: request failed (out of memory?)");
    }
    if (check_gate.replaced()) {
        // The core answered as for a busy gate; this is the store's 503.
        response = pat::fixed_error_response(503);
        const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        response.audit_line =
            "token API: sign-in from " +
            client_address(info != nullptr ? info->client_addr : nullptr, header(connection, kClientAddressHeader)) +
            " answered 503 before its password check: the store was replaced";
    }
    if (check_gate.gone()) {
        // Nobody reads an answer: the connection is closed instead.
        if (!response.audit_line.empty()) log_line(Level::info, response.audit_line);
        return MHD_NO;
    }
    if (!response.audit_line.empty()) {
        log_line(response.status == 500 ? Level::crit : Level::notice, response.audit_line);
    }
    state.metrics.count_request(view(method), response.status, check_gate.checked());
    return send(connection, response, replicated);
}

constexpr std::size_t kConnectionMemory = 32 * 1024;
// Each connection's thread: the handler, the core's API and scrypt (whose
// 32 MiB are on the heap) need far less.
constexpr std::size_t kThreadStack = 512 * 1024;

// A body past the limit is read and dropped up to this much more (its
// answer, 400, comes once it is in); beyond, the connection is closed.
constexpr std::size_t kMaxDroppedBytes = 16 * pat::kMaxApiBodyBytes;

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                      const char* upload_data, size_t* upload_data_size, void** con_cls) {
    auto& state = *static_cast<Server::State*>(cls);
    auto* exchange = static_cast<Exchange*>(*con_cls);
    if (exchange == nullptr) return MHD_NO;  // out of memory in uri_seen: drop the connection
    if (!exchange->headers_seen) {
        // The first call brings the headers only. A declared length past
        // the limit is answered (400) at once, without reading the body.
        exchange->headers_seen = true;
        const char* length = header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length != nullptr && std::strtoull(length, nullptr, 10) > pat::kMaxApiBodyBytes) {
            exchange->body_too_large = true;
            return answer(state, connection, url, method, *exchange);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        // More of the body: kept up to the limit, then dropped.
        if (!exchange->body_too_large && exchange->body.size() + *upload_data_size > pat::kMaxApiBodyBytes) {
            exchange->body_too_large = true;
            exchange->dropped = exchange->body.size();
            pat::wipe(exchange->body);
            exchange->body.clear();
        }
        if (exchange->body_too_large) {
            exchange->dropped += *upload_data_size;
            if (exchange->dropped > kMaxDroppedBytes) return MHD_NO;
        } else {
            exchange->body.append(upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return answer(state, connection, url, method, *exchange);
}

void mhd_log(void*, const char* format, va_list args) {
    char text[512];
    std::vsnprintf(text, sizeof(text), format, args);
    std::size_t n = std::strlen(text);
    while (n > 0 && text[n - 1] == '\n') text[--n] = '\0';
    log_line(Level::info, std::string("http: ") + text);
}

}  // namespace

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() {
    if (state_ && state_->daemon != nullptr) MHD_stop_daemon(state_->daemon);
}

std::unique_ptr<Server> Server::start(StoreHolder& store, const Options& options, const pat::DirectoryClient* directory,
                                      int listen_fd, std::string& error, SourcePool* source,
                                      ReplicationWatch* replication) {
    auto state = std::make_unique<State>(store, options);
    state->directory = directory;
    if (source != nullptr) {
        state->source = source;
        state->replication = replication;
        state->fleet_limiter = std::make_unique<FleetSignInLimiter>(state->limiter, source->connfile());
        if (!state->fleet_limiter->open(error)) return nullptr;
    }
    // A thread per connection, not a pool: a password check (~0.1 s of CPU)
    // blocks only its own connection. In a pool each thread serves many
    // connections in turn, so under a sign-in flood every connection behind
    // a check waited for it: sign-ins took up to 50 s and idle connections
    // were cut 16 s late instead of 3 (tests/patd/test_patd_abuse.py). The
    // threads are bounded by --max-connections; each is mostly idle.
    const unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                           MHD_USE_ITC | MHD_USE_ERROR_LOG;
    MHD_OptionItem items[] = {
        {MHD_OPTION_LISTEN_SOCKET, listen_fd, nullptr},
        {MHD_OPTION_THREAD_STACK_SIZE, static_cast<intptr_t>(kThreadStack), nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.max_connections), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.idle_timeout_s), nullptr},
        // Each connection's buffer for the request line and headers (more:
        // 431) and the read buffer; the body is kept apart, in Exchange.
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(kConnectionMemory), nullptr},
        {MHD_OPTION_END, 0, nullptr},
    };
    state->daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, state.get(), MHD_OPTION_EXTERNAL_LOGGER,
                                     &mhd_log, nullptr, MHD_OPTION_ARRAY, items, MHD_OPTION_URI_LOG_CALLBACK, &uri_seen,
                                     nullptr, MHD_OPTION_NOTIFY_COMPLETED, &request_done, nullptr, MHD_OPTION_END);
    if (state->daemon == nullptr) {
        error = "libmicrohttpd did not start (see the lines above)";
        return nullptr;
    }
    return std::unique_ptr<Server>(new Server(std::move(state)));
}

void Server::sweep_throttle() {
    if (state_->fleet_limiter) state_->fleet_limiter->sweep();
}

void Server::quiesce() {
    MHD_quiesce_daemon(state_->daemon);
}

Server::Counters Server::counters() const {
    return Counters{state_->metrics.checks(), state_->metrics.dropped(), state_->metrics.busy()};
}

unsigned Server::connections() const {
    const MHD_DaemonInfo* info = MHD_get_daemon_info(state_->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info != nullptr ? info->num_connections : 0;
}

}  // namespace patd
