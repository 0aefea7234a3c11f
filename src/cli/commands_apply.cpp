// patctl apply FILE | patctl export: permissions as a file. The format is
// pat/permissions_file.hpp's (docs/permissions-file.md); reconciling is
// Store::apply's, in one transaction; this file reads and writes files.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>

#include "cli_error.hpp"
#include "commands.hpp"
#include "json.hpp"
#include "output.hpp"
#include "pat/permissions_file.hpp"
#include "render.hpp"

namespace patctl {

namespace {

// The file's text, "-" for standard input. At most one byte past the
// format's limit is read: the parser then names the line where the limit
// falls, and a runaway stream cannot fill the memory.
std::string read_input(const std::string& path) {
    const std::size_t most = pat::kMaxPermissionsFileSize + 1;
    std::string text;
    std::FILE* file = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (file == nullptr) failure("cannot read " + printable(path) + ": " + std::strerror(errno));
    char buffer[65536];
    while (text.size() < most) {
        const std::size_t n = std::fread(buffer, 1, std::min(sizeof buffer, most - text.size()), file);
        text.append(buffer, n);
        if (n == 0) break;
    }
    const bool failed = std::ferror(file) != 0;
    const int error = errno;
    if (file != stdin) std::fclose(file);
    if (failed) failure("cannot read " + printable(path) + ": " + std::strerror(error));
    return text;
}

std::string source_name(const std::string& path) {
    return path == "-" ? "standard input" : printable(path);
}

// Writes text to a new file beside path (mode 0600), syncs it and renames it
// over path: a reader sees the old file or the new one, never a part.
void write_file_atomically(const std::string& path, const std::string& text) {
    std::string temp = path + ".XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) failure("cannot write " + printable(path) + ": " + std::strerror(errno));
    auto fail_with = [&](int error) {
        ::close(fd);
        ::unlink(temp.c_str());
        failure("cannot write " + printable(path) + ": " + std::strerror(error));
    };
    if (::fchmod(fd, 0600) != 0) fail_with(errno);
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail_with(n < 0 ? errno : EIO);
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) fail_with(errno);
    if (::close(fd) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        failure("cannot write " + printable(path) + ": " + std::strerror(error));
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        failure("cannot write " + printable(path) + ": " + std::strerror(error));
    }
    // The rename itself on disk: sync the directory (best effort).
    const std::size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

std::string_view kind_name(pat::GranteeKind kind) {
    switch (kind) {
        case pat::GranteeKind::user: return "user";
        case pat::GranteeKind::group: return "group";
        case pat::GranteeKind::all_users: return "all-users";
    }
    return "user";
}

// The state as JSON (export --json): the same facts as the file, as lists.
void write_state_json(JsonWriter& json, const pat::PermissionsState& state) {
    json.begin_object().key("users").begin_array();
    for (const auto& user : state.users) {
        json.begin_object()
            .field("name", user.name)
            .field("display_name", user.display_name)
            .field("sysadmin", user.sysadmin)
            .field("active", user.active)
            .end_object();
    }
    json.end_array().key("groups").begin_array();
    for (const auto& group : state.groups) {
        json.begin_object().field("name", group.name).key("members").begin_array();
        for (const auto& member : group.members) json.string(member.name);
        json.end_array().end_object();
    }
    json.end_array().key("grants").begin_array();
    for (const auto& grant : state.grants) {
        json.begin_object().field("kind", kind_name(grant.kind));
        json.optional_field(
            "name", grant.kind == pat::GranteeKind::all_users ? std::nullopt : std::optional<std::string>(grant.user));
        json.field("project", grant.project);
        json.optional_field("repo", grant.repo.empty() ? std::nullopt : std::optional<std::string>(grant.repo));
        json.field("level", pat::level_name(grant.level)).end_object();
    }
    json.end_array().key("public").begin_array();
    for (const auto& target : state.public_targets) {
        json.begin_object().field("project", target.project);
        json.optional_field("repo", target.repo.empty() ? std::nullopt : std::optional<std::string>(target.repo));
        json.end_object();
    }
    json.end_array().end_object();
}

}  // namespace

int run_apply(const Invocation& invocation) {
    const std::string& path = invocation.operands[0];
    pat::ApplyOptions options;
    options.dry_run = invocation.args.has("dry-run");
    options.prune = invocation.args.has("prune");

    // The whole file is read and checked before the store is opened: a bad
    // file changes nothing.
    const std::string text = read_input(path);
    pat::Expected<pat::PermissionsState> state = pat::parse_permissions_file(text);
    if (!state) failure(source_name(path) + ": " + state.status().message());

    // read_write for a dry run too: apply computes the changes in a write
    // transaction it then aborts.
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_write);
    pat::Expected<std::vector<std::string>> changes = store->apply(*state, options, invocation.audit_context());
    if (!changes) failure(source_name(path) + ": " + changes.status().message());

    if (invocation.json) {
        JsonWriter json;
        json.begin_object().field("dry_run", options.dry_run).field("prune", options.prune).key("changes");
        json.begin_array();
        for (const std::string& change : *changes) json.string(change);
        json.end_array().end_object();
        print_json(json);
    } else if (changes->empty()) {
        print_line("no changes");
    } else {
        for (const std::string& change : *changes) {
            print_line((options.dry_run ? "would: " : "") + printable(change));
        }
    }
    return kExitOk;
}

int run_export(const Invocation& invocation) {
    std::unique_ptr<pat::Store> store = invocation.open_store(pat::Store::Mode::read_only);
    const pat::PermissionsState state = take(store->export_state());
    const std::string* output = invocation.args.value("output");

    if (invocation.json && output == nullptr) {
        JsonWriter json;
        write_state_json(json, state);
        print_json(json);
        return kExitOk;
    }
    const std::string text = pat::write_permissions_file(state);
    if (output == nullptr) {
        print_text(text);
        return kExitOk;
    }
    write_file_atomically(*output, text);
    if (invocation.json) {
        JsonWriter json;
        json.begin_object()
            .field("output", *output)
            .field("users", static_cast<std::int64_t>(state.users.size()))
            .field("groups", static_cast<std::int64_t>(state.groups.size()))
            .field("grants", static_cast<std::int64_t>(state.grants.size()))
            .end_object();
        print_json(json);
    } else {
        print_line("exported " + std::to_string(state.users.size()) + " users, " + std::to_string(state.groups.size()) +
                   " groups and " + std::to_string(state.grants.size()) + " grants to " + printable(*output));
    }
    return kExitOk;
}

}  // namespace patctl
