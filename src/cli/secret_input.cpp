#include "secret_input.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>

#include "cli_error.hpp"
#include "pat/token.hpp"

namespace patctl {
namespace {

// The longest line accepted by any caller, plus room for "\r\n"; reserved
// up front so the buffer never moves.
constexpr std::size_t kLineCapacity = 4096;

// The terminal settings to restore if a signal ends patctl at the prompt
// (Ctrl-C must not leave the user's terminal without echo).
termios g_saved_terminal{};
volatile sig_atomic_t g_echo_is_off = 0;

extern "C" void restore_terminal_and_reraise(int signal_number) {
    if (g_echo_is_off) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_terminal);  // async-signal-safe
    }
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
}

constexpr int kPromptSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Turns terminal echo off for its lifetime when stdin is a terminal.
class EchoOff {
   public:
    EchoOff() {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &g_saved_terminal) != 0) {
            return;
        }
        for (int signal_number : kPromptSignals) {
            std::signal(signal_number, restore_terminal_and_reraise);
        }
        termios quiet = g_saved_terminal;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        g_echo_is_off = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    ~EchoOff() {
        if (g_echo_is_off) {
            ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_terminal);
            g_echo_is_off = 0;
            std::fputc('\n', stderr);  // the user's Enter was not echoed
        }
        for (int signal_number : kPromptSignals) {
            std::signal(signal_number, SIG_DFL);
        }
    }
    EchoOff(const EchoOff&) = delete;
    EchoOff& operator=(const EchoOff&) = delete;
};

}  // namespace

SecretLine::SecretLine() {
    text_.reserve(kLineCapacity);
}

SecretLine::~SecretLine() {
    pat::wipe(text_);
}

SecretLine::SecretLine(SecretLine&& other) noexcept : text_(std::move(other.text_)) {}

SecretLine read_secret_line(std::string_view what, std::size_t max_length) {
    SecretLine line;
    const std::size_t limit = std::min(max_length, kLineCapacity - 2);
    bool too_long = false;
    {
        if (::isatty(STDIN_FILENO)) {
            std::fprintf(stderr, "%.*s: ", static_cast<int>(what.size()), what.data());
            std::fflush(stderr);
        }
        EchoOff echo_off;
        // Byte by byte with read(2): stdio would keep a copy in its buffer.
        for (;;) {
            char byte = 0;
            ssize_t n = ::read(STDIN_FILENO, &byte, 1);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                failure("cannot read the " + std::string(what) + " from standard input");
            }
            if (n == 0 || byte == '\n') {
                break;
            }
            if (line.text_.size() < limit + 1) {
                line.text_.push_back(byte);  // one beyond the limit keeps a "\r" in reach
            } else {
                too_long = true;  // keep reading to the end of the line
            }
            pat::wipe(&byte, 1);
        }
    }
    if (!line.text_.empty() && line.text_.back() == '\r') {
        line.text_.back() = '\0';
        line.text_.pop_back();
    }
    if (too_long || line.text_.size() > limit) {
        failure("the " + std::string(what) + " on standard input is longer than " + std::to_string(limit) + " bytes");
    }
    if (line.text_.empty()) {
        failure("no " + std::string(what) + " on standard input (expected one line)");
    }
    return line;
}

}  // namespace patctl
