// A real PostgreSQL 15 for the fleet tests: initdb into a temporary
// directory (as the postgres user when running as root: initdb refuses
// root), a server on a free loopback port, a fresh database per test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "pat/fleet.hpp"

namespace fleet_test {

inline const char* kPgBin = "/usr/lib/postgresql/15/bin";

inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

inline std::string as_db_user(const std::string& command) {
    return ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
}

inline int shell(const std::string& command) {
    return std::system(command.c_str());
}

class PgServer {
   public:
    PgServer() {
        char pattern[] = "/tmp/pat-fleet-pg-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp");
        dir_ = pattern;
        if (::geteuid() == 0) {
            passwd* pw = ::getpwnam("postgres");
            if (pw == nullptr) throw std::runtime_error("no postgres user");
            if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown");
        }
        port_ = free_port();
        if (shell(as_db_user(std::string(kPgBin) + "/initdb -D " + dir_ +
                             "/data -A trust -U postgres --no-sync "
                             "-E UTF8 >" +
                             dir_ + "/initdb.log 2>&1")) != 0) {
            throw std::runtime_error("initdb failed: see " + dir_ + "/initdb.log");
        }
        if (shell(as_db_user(
                std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -w -l " + dir_ + "/server.log -o \"-p " +
                std::to_string(port_) + " -k " + dir_ +
                " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50 -c log_statement=all\" start "
                ">/dev/null")) != 0) {
            throw std::runtime_error("pg_ctl start failed: see " + dir_ + "/server.log");
        }
    }
    ~PgServer() {
        shell(as_db_user(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -m immediate stop >/dev/null 2>&1"));
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    int port() const { return port_; }
    const std::string& dir() const { return dir_; }
    std::string conninfo(const std::string& db = "postgres") const {
        return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + db + " user=postgres";
    }
    // A new, empty database; returns its conninfo.
    std::string fresh_database() {
        std::string name = "t" + std::to_string(++databases_);
        auto conn = pat::fleet::Connection::open(conninfo(), "fleet-test", pat::fleet::Purpose::writer);
        if (!conn.ok()) throw std::runtime_error(conn.status().message());
        if (!(*conn)->exec("CREATE DATABASE " + name).ok()) throw std::runtime_error("create database");
        return conninfo(name);
    }

   private:
    std::string dir_;
    int port_ = 0;
    int databases_ = 0;
};

// One server for a test binary's fleet suites.
inline PgServer& server() {
    static std::unique_ptr<PgServer> instance = std::make_unique<PgServer>();
    return *instance;
}

}  // namespace fleet_test
