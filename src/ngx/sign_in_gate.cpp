#include "sign_in_gate.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "pat/authorization.hpp"
#include "pat/names.hpp"

namespace pat::ngx {

namespace {

// One per worker process: the master has no threads, so a worker starts
// with it empty.
struct Gate {
    std::mutex lock;
    std::condition_variable changed;
    std::vector<std::string> users_inside;
    std::size_t inside = 0;
};

Gate gate;

}  // namespace

std::string sign_in_key(const ngx_str_t* authorization) {
    if (authorization == nullptr) return {};
    std::array<unsigned char, kCredentialsScratchSize> scratch;
    AuthorizationCredentials credentials;
    const std::string_view header(reinterpret_cast<const char*>(authorization->data), authorization->len);
    std::string key;
    if (parse_authorization(header, scratch, credentials) == AuthorizationError::none &&
        credentials.scheme == AuthScheme::basic) {
        char name[kMaxUserName];
        const std::size_t length = canonical_user_name(credentials.user, name);
        key.assign(name, length);  // length 0 for an invalid name: no password check follows
    }
    ngx_explicit_memzero(scratch.data(), scratch.size());  // held the password
    return key;
}

SignInPass::SignInPass(std::string_view key) : key_(key) {
    if (key_.empty()) return;
    std::unique_lock held(gate.lock);
    gate.changed.wait(held, [&] {
        return gate.inside < kMaxConcurrentSignIns &&
               std::find(gate.users_inside.begin(), gate.users_inside.end(), key_) == gate.users_inside.end();
    });
    gate.users_inside.push_back(key_);
    ++gate.inside;
    counted_ = true;
}

SignInPass::~SignInPass() {
    if (!counted_) return;
    {
        std::lock_guard held(gate.lock);
        gate.users_inside.erase(std::find(gate.users_inside.begin(), gate.users_inside.end(), key_));
        --gate.inside;
    }
    gate.changed.notify_all();
}

}  // namespace pat::ngx
