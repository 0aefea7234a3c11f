// How users, grants and tokens look in patctl's output: one JSON shape and
// one table layout per record type, shared by every command that shows them.
#pragma once

#include <string>
#include <vector>

#include "json.hpp"
#include "pat/store.hpp"

namespace patctl {

void write_user_json(JsonWriter& json, const pat::UserInfo& user);
void write_grant_json(JsonWriter& json, const pat::GrantInfo& grant);
// Never includes the token text: the store does not have it.
void write_token_json(JsonWriter& json, const pat::TokenInfo& token);

void write_audit_json(JsonWriter& json, const pat::AuditEntry& entry);

std::string users_table(const std::vector<pat::UserInfo>& users);
std::string grants_table(const std::vector<pat::GrantInfo>& grants);
std::string tokens_table(const std::vector<pat::TokenInfo>& tokens);
std::string audit_table(const std::vector<pat::AuditEntry>& entries);

// "project read, repo write"
std::string describe_permissions(const pat::TokenPermissions& permissions);

// Prints a finished JSON document and a newline.
void print_json(JsonWriter& json);

}  // namespace patctl
