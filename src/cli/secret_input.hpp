// Reading a password or a token from standard input, never from argv.
#pragma once

#include <string>
#include <string_view>

namespace patctl {

// A string that is wiped when it goes out of scope. Its capacity is reserved
// once, so growing it never leaves a copy in freed memory.
class SecretLine {
   public:
    SecretLine();
    ~SecretLine();
    SecretLine(const SecretLine&) = delete;
    SecretLine& operator=(const SecretLine&) = delete;
    SecretLine(SecretLine&& other) noexcept;
    SecretLine& operator=(SecretLine&&) = delete;

    std::string_view view() const { return text_; }
    bool empty() const { return text_.empty(); }

   private:
    friend SecretLine read_secret_line(std::string_view what, std::size_t max_length);
    std::string text_;
};

// Reads one line from stdin: up to '\n' or end of input, without the line
// end ("\n" or "\r\n"). On a terminal it prompts on stderr and turns echo
// off. Fails the command (exit 1) on an empty line or one longer than
// max_length; `what` names the secret in messages ("password", "token").
SecretLine read_secret_line(std::string_view what, std::size_t max_length);

}  // namespace patctl
