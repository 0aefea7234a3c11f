// How users, grants and tokens look in patctl's output: one JSON shape and
// one table layout per record type, shared by every command that shows them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "json.hpp"
#include "output.hpp"
#include "pat/store.hpp"

namespace patctl {

void write_json(JsonWriter& json, const pat::UserInfo& user);
// A user's grant has "user"; a group's "group"; the all-users default
// "all_users": true.
void write_json(JsonWriter& json, const pat::GrantInfo& grant);
void write_json(JsonWriter& json, const pat::GroupInfo& group);
void write_json(JsonWriter& json, const pat::PublicTarget& target);
// Never includes the token text: the store does not have it.
void write_json(JsonWriter& json, const pat::TokenInfo& token);

void write_json(JsonWriter& json, const pat::AuditEntry& entry);

std::string render_table(const std::vector<pat::UserInfo>& users);
std::string render_table(const std::vector<pat::GrantInfo>& grants);
std::string render_table(const std::vector<pat::GroupInfo>& groups);
std::string render_table(const std::vector<pat::PublicTarget>& targets);
std::string render_table(const std::vector<pat::TokenInfo>& tokens);
std::string render_table(const std::vector<pat::AuditEntry>& entries);

// "project read, repo write"
std::string describe_permissions(const pat::TokenPermissions& permissions);

// An array of strings (group members, the users a command added).
void write_json(JsonWriter& json, const std::vector<std::string>& names);

// Prints a finished JSON document and a newline.
void print_json(JsonWriter& json);

// Prints a list the one way every list command does: a JSON array with
// --json, else a table, or `none` ("no users") when there is nothing.
template <typename Record>
void print_list(const std::vector<Record>& records, bool json, std::string_view none) {
    if (json) {
        JsonWriter writer;
        writer.begin_array();
        for (const Record& record : records) {
            write_json(writer, record);
        }
        writer.end_array();
        print_json(writer);
    } else if (records.empty()) {
        print_line(none);
    } else {
        print_text(render_table(records));
    }
}

}  // namespace patctl
