// The store's management operations: users, grants, token rules, schema and
// corrupt files.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <fstream>
#include <iterator>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using L = Level;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes raw bytes into a table of a closed store, as an attacker or a disk
// fault could: the store must treat the file as untrusted input.
void poke(const std::string& path, const char* table, std::string_view key, std::string_view value) {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 32);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), MDB_NOSUBDIR, 0600), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, table, 0, &dbi), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

TEST_F(StoreTest, OnlyTheOwnersPasswordCreatesAToken) {
    add_user("alice");
    add_user("root", true);
    // The sysadmin's own password does not create a token for alice.
    auto by_admin = store_->create_token("alice", "root-pw", "ci", std::nullopt, std::nullopt, now_ms());
    EXPECT_EQ(by_admin.status().code(), StatusCode::refused);
    auto wrong = store_->create_token("alice", "", "ci", std::nullopt, std::nullopt, now_ms());
    EXPECT_EQ(wrong.status().code(), StatusCode::refused);
    auto unknown = store_->create_token("mallory", "x", "ci", std::nullopt, std::nullopt, now_ms());
    EXPECT_EQ(unknown.status().code(), StatusCode::refused);
    EXPECT_EQ(unknown.status().message(), wrong.status().message());  // no user enumeration
    EXPECT_TRUE(store_->list_tokens(std::nullopt)->empty());

    auto created = store_->create_token("Alice", "alice-pw", "ci", std::nullopt, std::nullopt, 1234);
    ASSERT_TRUE(created.ok()) << created.status().message();
    EXPECT_EQ(created->info.owner, "alice");
    EXPECT_EQ(created->info.created_ms, 1234);
    EXPECT_EQ(created->info.permissions, (TokenPermissions{L::admin, L::admin}));  // the default
    EXPECT_EQ(check_token_format(created->text), TokenFormat::valid);
    EXPECT_TRUE(is_valid_token_id(created->info.id));
}

TEST_F(StoreTest, TheStoreHoldsOnlyTheDigestNeverTheText) {
    add_user("alice");
    std::string token = create_token("alice", {L::read, L::read});
    store_.reset();
    const std::string bytes = read_file(path_);
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes.find(token), std::string::npos);
    EXPECT_EQ(bytes.find(token.substr(5, 20)), std::string::npos);  // nor any part of the secret
    EXPECT_EQ(bytes.find("alice-pw"), std::string::npos);
}

TEST_F(StoreTest, OwnersAndSysadminsManageTokensOthersSeeNothing) {
    add_user("alice");
    add_user("bob");
    auto created =
        store_->create_token("alice", "alice-pw", "ci", TokenPermissions{L::read, L::write}, std::nullopt, now_ms());
    ASSERT_TRUE(created.ok());
    const std::string id = created->info.id;

    TokenChange change;
    change.repo = L::admin;
    auto by_bob = store_->modify_token(Actor{"bob", false}, id, change);
    EXPECT_EQ(by_bob.status().code(), StatusCode::not_found);
    EXPECT_EQ(store_->revoke_token(Actor{"bob", false}, id).code(), StatusCode::not_found);

    auto by_owner = store_->modify_token(Actor{"alice", false}, id, change);
    ASSERT_TRUE(by_owner.ok());
    EXPECT_EQ(by_owner->permissions, (TokenPermissions{L::read, L::admin}));
    EXPECT_EQ(by_owner->name, "ci");  // omitted fields stay

    TokenChange rename;
    rename.name = "deploy";
    rename.project = L::write;
    auto by_admin = store_->modify_token(Actor{"root", true}, id, rename);
    ASSERT_TRUE(by_admin.ok());
    EXPECT_EQ(by_admin->name, "deploy");
    EXPECT_EQ(by_admin->permissions, (TokenPermissions{L::write, L::admin}));

    // A change that leaves the table is refused and changes nothing.
    TokenChange bad;
    bad.repo = L::read;
    auto refused = store_->modify_token(Actor::system(), id, bad);
    EXPECT_EQ(refused.status().code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->get_token(id)->permissions, (TokenPermissions{L::write, L::admin}));

    EXPECT_TRUE(store_->revoke_token(Actor{"alice", false}, id).ok());
}

TEST_F(StoreTest, UsersAreValidatedAndUnique) {
    add_user("alice");
    EXPECT_EQ(store_->add_user("ALICE", "", false, "pw").code(), StatusCode::already_exists);
    EXPECT_EQ(store_->add_user("bad name", "", false, "pw").code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->add_user("bob", "", false, "").code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->add_user("bob", "line\nbreak", false, "pw").code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->set_password("nobody", "pw").code(), StatusCode::not_found);
    EXPECT_EQ(store_->delete_user("nobody").code(), StatusCode::not_found);

    auto token_shaped = generate_token();
    ASSERT_TRUE(token_shaped.ok());
    EXPECT_EQ(store_->add_user("bob", "", false, *token_shaped).code(), StatusCode::invalid_argument);
    ASSERT_TRUE(store_->add_user("Bob", "Bob Builder", true, "pw").ok());
    EXPECT_EQ(store_->set_password("bob", *token_shaped).code(), StatusCode::invalid_argument);
    auto users = store_->list_users();
    ASSERT_TRUE(users.ok());
    ASSERT_EQ(users->size(), 2u);
    EXPECT_EQ((*users)[0].name, "alice");
    EXPECT_EQ((*users)[0].display_name, "alice");
    EXPECT_EQ((*users)[1].name, "bob");
    EXPECT_EQ((*users)[1].display_name, "Bob Builder");
    EXPECT_TRUE((*users)[1].sysadmin);

    ASSERT_TRUE(store_->set_password("bob", "new").ok());
    EXPECT_EQ(store_->authenticate_user("bob", "pw").code(), StatusCode::refused);
    EXPECT_TRUE(store_->authenticate_user("BOB", "new").ok());
    EXPECT_EQ(store_->get_user("bob")->display_name, "Bob Builder");  // kept across the change
}

TEST_F(StoreTest, GrantsNeedAUserAndValidNames) {
    EXPECT_EQ(store_->grant_project("ghost", "WORK", L::read).code(), StatusCode::not_found);
    add_user("alice");
    EXPECT_EQ(store_->grant_project("alice", "1WORK", L::read).code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->grant_project("alice", "WORK", L::none).code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->grant_repo("alice", "WORK", "-x", L::read).code(), StatusCode::invalid_argument);
    EXPECT_EQ(store_->revoke_project_grant("alice", "WORK").code(), StatusCode::not_found);
    ASSERT_TRUE(store_->grant_project("alice", "work", L::write).ok());
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::read).ok());  // replaces
    ASSERT_TRUE(store_->grant_repo("alice", "work", "Repo", L::admin).ok());
    auto grants = store_->list_grants("alice");
    ASSERT_TRUE(grants.ok());
    ASSERT_EQ(grants->size(), 2u);
    EXPECT_EQ((*grants)[0].project, "WORK");
    EXPECT_EQ((*grants)[0].repo, "");
    EXPECT_EQ((*grants)[0].level, L::read);
    EXPECT_EQ((*grants)[1].repo, "repo");
    EXPECT_EQ((*grants)[1].level, L::admin);
}

TEST_F(StoreTest, LastAuthenticatedOnlyMovesForward) {
    add_user("alice");
    auto created = store_->create_token("alice", "alice-pw", "ci", std::nullopt, std::nullopt, 1000);
    ASSERT_TRUE(created.ok());
    const std::string id = created->info.id;
    ASSERT_TRUE(store_->record_token_uses({{id, 5000}, {"999999999999", 7000}}).ok());
    EXPECT_EQ(store_->get_token(id)->last_authenticated_ms, 5000);
    ASSERT_TRUE(store_->record_token_uses({{id, 4000}}).ok());
    EXPECT_EQ(store_->get_token(id)->last_authenticated_ms, 5000);
}

TEST_F(StoreTest, ListingOrdersByOwnerThenCreation) {
    add_user("bob");
    add_user("alice");
    ASSERT_TRUE(store_->create_token("bob", "bob-pw", "b1", std::nullopt, std::nullopt, 30).ok());
    ASSERT_TRUE(store_->create_token("alice", "alice-pw", "a2", std::nullopt, std::nullopt, 20).ok());
    ASSERT_TRUE(store_->create_token("alice", "alice-pw", "a1", std::nullopt, std::nullopt, 10).ok());
    auto all = store_->list_tokens(std::nullopt);
    ASSERT_TRUE(all.ok());
    ASSERT_EQ(all->size(), 3u);
    EXPECT_EQ((*all)[0].name, "a1");
    EXPECT_EQ((*all)[1].name, "a2");
    EXPECT_EQ((*all)[2].name, "b1");
    EXPECT_EQ(store_->list_tokens("bob")->size(), 1u);
    EXPECT_EQ(store_->list_tokens("nobody").status().code(), StatusCode::not_found);
    EXPECT_EQ(store_->list_grants("nobody").status().code(), StatusCode::not_found);
}

TEST_F(StoreTest, CreateRefusesAnExistingFileAndOpenRefusesGarbage) {
    EXPECT_EQ(Store::create(path_).status().code(), StatusCode::already_exists);
    auto missing = Store::open(dir_ + "/missing.db", Store::Mode::read_only);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("does not exist"), std::string::npos);

    const std::string junk = dir_ + "/junk.db";
    std::ofstream(junk) << std::string(8192, 'x');
    auto opened = Store::open(junk, Store::Mode::read_only);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), StatusCode::store_error);
}

TEST_F(StoreTest, ATruncatedOrDamagedFileIsRefusedBeforeLmdbReadsIt) {
    add_user("alice");
    store_.reset();
    const std::string bytes = read_file(path_);
    ASSERT_GT(bytes.size(), 16384u);
    auto write_variant = [&](const std::string& name, const std::string& content) {
        const std::string variant = dir_ + "/" + name;
        std::ofstream(variant, std::ios::binary) << content;
        return variant;
    };
    std::string zero_page_size = bytes;
    zero_page_size.replace(40, 4, std::string(4, '\0'));
    for (const auto& variant :
         {write_variant("cut.db", bytes.substr(0, bytes.size() - 4096)),
          write_variant("half-meta.db", bytes.substr(0, 100)), write_variant("zero-psize.db", zero_page_size)}) {
        for (auto mode : {Store::Mode::read_only, Store::Mode::read_write}) {
            auto opened = Store::open(variant, mode);
            ASSERT_FALSE(opened.ok()) << variant;
            EXPECT_NE(opened.status().message().find("damaged"), std::string::npos) << opened.status().message();
        }
    }
    EXPECT_TRUE(Store::open(path_, Store::Mode::read_only).ok());
}

TEST_F(StoreTest, AStoreOfAnotherSchemaVersionIsRefused) {
    store_.reset();
    poke(path_, "meta", "schema_version", "3");
    for (auto mode : {Store::Mode::read_only, Store::Mode::read_write}) {
        auto opened = Store::open(path_, mode);
        ASSERT_FALSE(opened.ok());
        EXPECT_NE(opened.status().message().find("schema version 3"), std::string::npos) << opened.status().message();
    }
}

TEST_F(StoreTest, ACorruptTokenRecordFailsClosed) {
    add_user("alice", true);
    const std::string token = create_token("alice", {L::read, L::read});
    TokenDigest digest;
    ASSERT_TRUE(hasher_.digest(token, digest));
    store_.reset();
    poke(path_, "tokens", {reinterpret_cast<const char*>(digest.data()), digest.size()}, "\x01garbage");
    auto reopened = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reopened.ok());
    store_ = std::move(*reopened);
    Decision d = decide(token, Need::repo_read);
    EXPECT_EQ(d.reason, Reason::store_error);
    EXPECT_EQ(verdict_of(d.reason), Verdict::fault);
}

TEST_F(StoreTest, ACorruptUserOrGrantRecordFailsClosed) {
    add_user("alice");
    ASSERT_TRUE(store_->grant_project("alice", "WORK", L::read).ok());
    const std::string token = create_token("alice", {L::read, L::read});
    store_.reset();
    // The request path reads the effective level, the listing the grant.
    poke(path_, "grants", std::string("alice\0WORK", 10), "\x07");
    poke(path_, "effective", std::string("alice\0WORK", 10), "\x07");
    store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    EXPECT_EQ(decide(token, Need::repo_read).reason, Reason::store_error);
    EXPECT_EQ(store_->list_grants(std::nullopt).status().code(), StatusCode::store_error);
    store_.reset();
    poke(path_, "users", "alice", "\x01\x01");
    store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    EXPECT_EQ(decide(token, Need::authenticated).reason, Reason::store_error);
    EXPECT_EQ(store_->list_users().status().code(), StatusCode::store_error);
}

TEST_F(StoreTest, AReadOnlyStoreDecidesButNeverWrites) {
    add_user("alice", true);
    const std::string token = create_token("alice", {L::read, L::read});
    auto reader = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    AccessRequest request;
    request.token = token;
    request.need = Need::repo_read;
    request.project = "WORK";
    request.repo = "x";
    EXPECT_EQ((*reader)->decide(hasher_, request, now_ms()).reason, Reason::allowed);
    EXPECT_EQ((*reader)->add_user("bob", "", false, "pw").code(), StatusCode::store_error);

    // A change by the writer is seen by the reader's next decision, whether
    // the reader's snapshot was kept, released, or stale by several commits.
    EXPECT_EQ((*reader)->decide(hasher_, request, now_ms()).reason, Reason::allowed);
    ASSERT_TRUE(store_->grant_project("alice", "OTHER", Level::read).ok());
    ASSERT_TRUE(store_->grant_project("alice", "OTHER2", Level::read).ok());
    auto listed = store_->list_tokens("alice");
    ASSERT_TRUE(store_->revoke_token(Actor::system(), (*listed)[0].id).ok());
    EXPECT_EQ((*reader)->decide(hasher_, request, now_ms()).reason, Reason::revoked);
    (*reader)->release_snapshot();
    (*reader)->release_snapshot();  // idempotent
    EXPECT_EQ((*reader)->decide(hasher_, request, now_ms()).reason, Reason::revoked);
}

TEST_F(StoreTest, AFullStoreRefusesAChangeCleanlyAndKeepsWorking) {
    const std::string small = dir_ + "/small.db";
    auto created = Store::create(small, kMinStoreSize);
    ASSERT_TRUE(created.ok()) << created.status().message();
    std::unique_ptr<Store> store = std::move(*created);
    ASSERT_TRUE(store->add_user("alice", "", false, "alice-pw").ok());
    Store::BulkLoad load;
    for (int i = 0; i < 40000; ++i) load.grants.push_back({"alice", "P" + std::to_string(i), "", Level::read});
    auto full = store->bulk_load(load, /*batch_size=*/40000);  // one transaction that cannot fit
    ASSERT_FALSE(full.ok());
    EXPECT_NE(full.status().message().find("full"), std::string::npos) << full.status().message();
    EXPECT_TRUE(store->list_grants("alice")->empty());                      // nothing of it was written
    EXPECT_TRUE(store->grant_project("alice", "WORK", Level::write).ok());  // small changes still fit
    EXPECT_EQ(Store::create(dir_ + "/tiny.db", 4096).status().code(), StatusCode::invalid_argument);
}

TEST_F(StoreTest, ManyWritesGrowTheFileWithoutLosingAny) {
    // 300 users' grants in separate transactions: the data survives a reopen.
    add_user("alice");
    for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE(store_->grant_repo("alice", "P" + std::to_string(i), "repo", L::read).ok());
    }
    store_.reset();
    store_ = std::move(*Store::open(path_, Store::Mode::read_only));
    EXPECT_EQ(store_->list_grants("alice")->size(), 300u);
}

}  // namespace
}  // namespace pat::testing
