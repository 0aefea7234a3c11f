#include "pat/secret.hpp"

#include <openssl/crypto.h>

namespace pat {

void wipe(void* data, std::size_t size) {
    if (data != nullptr && size != 0) OPENSSL_cleanse(data, size);
}

void wipe(std::string& secret) {
    secret.resize(secret.capacity());
    wipe(secret.data(), secret.size());
    secret.clear();
}

}  // namespace pat
