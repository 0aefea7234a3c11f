// The lists a `directory sync` will read (DirectoryClient::list_users,
// list_groups_with_members), printed one item a line for
// tests/directory/test_lists.py until patctl has the sync that uses them.
//
//   directory_lists CONFIG
//   user NAME<TAB>DISPLAY NAME<TAB>DN
//   group NAME<TAB>DN<TAB>MEMBER,MEMBER,...
//   skipped WHY
#include <csignal>
#include <cstdio>
#include <string>

#include "pat/directory.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: directory_lists CONFIG\n");
        return 2;
    }
    std::signal(SIGPIPE, SIG_IGN);
    pat::Expected<pat::DirectoryConfig> config = pat::load_directory_config(argv[1]);
    if (!config) {
        std::fprintf(stderr, "directory_lists: %s\n", config.status().message().c_str());
        return 1;
    }
    pat::DirectoryClient client(std::move(config.value()));
    pat::DirectoryResult<pat::DirectoryUserList> users = client.list_users();
    if (!users) {
        std::fprintf(stderr, "directory_lists: %s\n", users.error().message.c_str());
        return 1;
    }
    for (const pat::DirectoryUser& user : users->users) {
        std::printf("user %s\t%s\t%s\n", user.name.c_str(), user.display_name.c_str(), user.dn.c_str());
    }
    for (const std::string& why : users->skipped) std::printf("skipped %s\n", why.c_str());
    pat::DirectoryResult<pat::DirectoryGroupList> groups = client.list_groups_with_members();
    if (!groups) {
        std::fprintf(stderr, "directory_lists: %s\n", groups.error().message.c_str());
        return 1;
    }
    for (const pat::DirectoryGroupMembers& group : groups->groups) {
        std::string members;
        for (const std::string& member : group.members) members += (members.empty() ? "" : ",") + member;
        std::printf("group %s\t%s\t%s\n", group.name.c_str(), group.dn.c_str(), members.c_str());
    }
    for (const std::string& why : groups->skipped) std::printf("skipped %s\n", why.c_str());
    return 0;
}
