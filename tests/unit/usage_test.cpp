// The usage file (pat/usage.hpp) and the listing's merge of it: the workers'
// last-use times, kept apart from the store and never trusted.
//
// The helpers below restate the file's layout from pat/usage.hpp (hash,
// seal, slot bytes) independently of usage.cpp, as a hostile member of the
// workers' group would write it.
#include "pat/usage.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>

#include "store_fixture.hpp"

namespace pat::testing {
namespace {

using Uses = std::vector<std::pair<std::string, std::int64_t>>;
using SlotBytes = std::array<unsigned char, kUsageSlotBytes>;

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

unsigned mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
}

std::uint64_t fnv1a(std::uint64_t h, const unsigned char* bytes, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
    return h;
}

std::size_t home_of(const std::string& id) {
    return fnv1a(1469598103934665603ull, reinterpret_cast<const unsigned char*>(id.data()), id.size()) %
           (kUsageSlots - kUsageWindow + 1);
}

// A slot as a writer makes it; seal false: a wrong seal (a torn write).
SlotBytes slot_for(std::string_view id, std::int64_t ms, bool seal = true) {
    SlotBytes slot{};
    std::memcpy(slot.data(), id.data(), std::min(id.size(), std::size_t{12}));
    for (int i = 0; i < 8; ++i) slot[16 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(ms) >> (8 * i));
    std::uint64_t h = fnv1a(1469598103934665603ull, slot.data(), 12);
    h = fnv1a(h, slot.data() + 16, 8);
    const auto sealed = static_cast<std::uint32_t>(h ^ (h >> 32)) ^ (seal ? 0u : 1u);
    for (int i = 0; i < 4; ++i) slot[12 + i] = static_cast<unsigned char>(sealed >> (8 * i));
    return slot;
}

off_t slot_offset(std::size_t index) {
    return static_cast<off_t>(kUsageHeaderBytes + index * kUsageSlotBytes);
}

void write_bytes(const std::string& path, off_t offset, const void* bytes, std::size_t n) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0660);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::pwrite(fd, bytes, n, offset), static_cast<ssize_t>(n));
    ::close(fd);
}

SlotBytes read_slot(const std::string& path, std::size_t index) {
    SlotBytes slot{};
    const int fd = ::open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << path;
    EXPECT_EQ(::pread(fd, slot.data(), slot.size(), slot_offset(index)), static_cast<ssize_t>(slot.size()));
    ::close(fd);
    return slot;
}

// Writes a raw slot into a usage file, as a hostile member of the workers'
// group could.
void poke(const std::string& path, std::size_t index, const SlotBytes& slot) {
    write_bytes(path, slot_offset(index), slot.data(), slot.size());
}

std::string header_bytes(std::uint32_t version = 1) {
    std::string header(kUsageHeaderBytes, '\0');
    std::memcpy(header.data(), "NPATUSE1", 8);
    header[8] = static_cast<char>(version);
    return header;
}

// count ids (besides first) whose window starts where first's does.
std::vector<std::string> same_window_as(const std::string& first, std::size_t count) {
    std::vector<std::string> found{first};
    const std::size_t home = home_of(first);
    for (std::uint64_t n = 100'000'000'000ull; found.size() <= count; ++n) {
        std::string id = std::to_string(n);
        if (id != first && home_of(id) == home) found.push_back(id);
    }
    return found;
}

// A usage file in a directory of its own (no store needed).
class UsageTest : public ::testing::Test {
   protected:
    void SetUp() override {
        char dir_template[] = "/tmp/pat-usage-test-XXXXXX";
        ASSERT_NE(mkdtemp(dir_template), nullptr);
        dir_ = dir_template;
        store_path_ = dir_ + "/pat.db";
        usage_path_ = store_path_ + "-usage";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    void create_file() {
        UsageFile writer(store_path_, UsageFile::Mode::create);
        ASSERT_TRUE(writer.prepare().ok());
    }

    std::string dir_, store_path_, usage_path_;
};

TEST_F(UsageTest, ItLivesBesideTheStore) {
    EXPECT_EQ(UsageFile::path_for("/var/lib/nginx-pat/pat.db"), "/var/lib/nginx-pat/pat.db-usage");
    EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).path(), usage_path_);
}

TEST_F(UsageTest, TheWriterCreatesItGroupWritableAtFullSizeAndKeepsTheNewestTime) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_FALSE(exists(usage_path_));
    const mode_t old_mask = ::umask(022);  // nginx's usual umask must not narrow the mode
    const auto written = writer.record({{"111111111111", 5000}, {"222222222222", 7000}});
    ::umask(old_mask);
    ASSERT_TRUE(written.status.ok()) << written.status.message();
    EXPECT_FALSE(written.full);
    EXPECT_EQ(mode_of(usage_path_), 0660u);
    EXPECT_FALSE(exists(usage_path_ + "-lock"));
    struct stat st {};
    ASSERT_EQ(::stat(usage_path_.c_str(), &st), 0);
    EXPECT_EQ(static_cast<std::size_t>(st.st_size), kUsageFileSize);
    EXPECT_LT(static_cast<std::size_t>(st.st_blocks) * 512, std::size_t{1} << 20);  // sparse
    std::string header(kUsageHeaderBytes, '\0');
    std::ifstream(usage_path_).read(header.data(), kUsageHeaderBytes);
    EXPECT_EQ(header.substr(0, 12), header_bytes().substr(0, 12));
    EXPECT_EQ(std::filesystem::directory_iterator(dir_)->path(), usage_path_);  // no temporary left behind

    ASSERT_TRUE(writer.record({{"111111111111", 4000}, {"222222222222", 9000}}).status.ok());
    EXPECT_EQ(writer.lookup({"111111111111", "222222222222", "333333333333"}),
              (std::vector<std::int64_t>{5000, 9000, 0}));
    // The slot, byte for byte, as pat/usage.hpp describes it.
    const SlotBytes slot = read_slot(usage_path_, home_of("222222222222"));
    EXPECT_EQ(slot, slot_for("222222222222", 9000));
    // Another object (another process) reads what this one wrote.
    EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).lookup({"111111111111"}),
              (std::vector<std::int64_t>{5000}));
}

TEST_F(UsageTest, WhatIsNotATokenIdOrATimeIsSkipped) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"not-an-id", 5000}, {"111111111111", 0}, {"222222222222", -4}}).status.ok());
    EXPECT_EQ(writer.lookup({"not-an-id", "111111111111", "222222222222", "011111111111", ""}),
              (std::vector<std::int64_t>{0, 0, 0, 0, 0}));
}

TEST_F(UsageTest, OnlyTheCreateModeCreatesOrRecords) {
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(reader.record({{"111111111111", 5}}).status.ok());
    EXPECT_FALSE(reader.prepare().ok());
    UsageFile manager(store_path_, UsageFile::Mode::read_write);
    EXPECT_TRUE(manager.forget({"111111111111"}).ok());  // nothing to forget
    EXPECT_EQ(manager.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(manager.record({{"111111111111", 5}}).status.ok());
    EXPECT_FALSE(exists(usage_path_));
}

TEST_F(UsageTest, ForgetLeavesATombstoneReusedOnlyByAnIdNotFurtherOn) {
    const std::vector<std::string> ids = same_window_as("111111111111", 3);  // a, b, c, d share a window
    const std::string &a = ids[0], &b = ids[1], &c = ids[2], &d = ids[3];
    const std::size_t home = home_of(a);
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{a, 1000}, {b, 2000}, {c, 3000}}).status.ok());
    EXPECT_EQ(read_slot(usage_path_, home + 2), slot_for(c, 3000));

    UsageFile manager(store_path_, UsageFile::Mode::read_write);
    ASSERT_TRUE(manager.forget({b, "999999999999"}).ok());
    EXPECT_EQ(manager.lookup({a, b, c}), (std::vector<std::int64_t>{1000, 0, 3000}));
    EXPECT_EQ(read_slot(usage_path_, home + 1)[0], '-');

    // c lives past the tombstone: its own slot is updated, the tombstone stays.
    ASSERT_TRUE(writer.record({{c, 3500}}).status.ok());
    EXPECT_EQ(read_slot(usage_path_, home + 1)[0], '-');
    EXPECT_EQ(read_slot(usage_path_, home + 2), slot_for(c, 3500));
    // d is nowhere in the window: it takes the tombstone.
    ASSERT_TRUE(writer.record({{d, 4000}}).status.ok());
    EXPECT_EQ(read_slot(usage_path_, home + 1), slot_for(d, 4000));
    EXPECT_EQ(read_slot(usage_path_, home + 3), SlotBytes{});
    EXPECT_EQ(writer.lookup({a, b, c, d}), (std::vector<std::int64_t>{1000, 0, 3500, 4000}));
}

TEST_F(UsageTest, AFullWindowDropsTheUseAndSaysSo) {
    const std::vector<std::string> ids = same_window_as("123456789012", kUsageWindow);
    Uses uses;
    for (std::size_t i = 0; i < kUsageWindow; ++i) uses.emplace_back(ids[i], 100 + i);
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record(uses).status.ok());
    const std::string& last = ids[kUsageWindow];
    const auto written = writer.record({{last, 42}, {"222222222222", 43}});
    EXPECT_TRUE(written.full);
    EXPECT_FALSE(written.status.ok());
    // The rest of the batch was written; what was there stays.
    EXPECT_EQ(writer.lookup({last, "222222222222", ids[0], ids[kUsageWindow - 1]}),
              (std::vector<std::int64_t>{0, 43, 100, 100 + kUsageWindow - 1}));
    // Newer uses of ids already there still fit; a forgotten one makes room.
    EXPECT_TRUE(writer.record({{ids[5], 9000}}).status.ok());
    UsageFile manager(store_path_, UsageFile::Mode::read_write);
    ASSERT_TRUE(manager.forget({ids[7]}).ok());
    const auto again = writer.record({{last, 44}});
    EXPECT_TRUE(again.status.ok()) << again.status.message();
    EXPECT_EQ(writer.lookup({last, ids[5], ids[7]}), (std::vector<std::int64_t>{44, 9000, 0}));
}

TEST_F(UsageTest, AnEmptyFileIsAdoptedByTheWriterOnly) {
    { std::ofstream touch(usage_path_); }
    ::chmod(usage_path_.c_str(), 0660);
    EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).lookup({"111111111111"}),
              (std::vector<std::int64_t>{0}));
    EXPECT_TRUE(UsageFile(store_path_, UsageFile::Mode::read_write).forget({"111111111111"}).ok());
    EXPECT_EQ(std::filesystem::file_size(usage_path_), 0u);
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"111111111111", 5000}}).status.ok());
    EXPECT_EQ(std::filesystem::file_size(usage_path_), kUsageFileSize);
    EXPECT_EQ(mode_of(usage_path_), 0660u);
    EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).lookup({"111111111111"}),
              (std::vector<std::int64_t>{5000}));
}

TEST_F(UsageTest, AFileReplacedOrRemovedIsReopened) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"111111111111", 5000}}).status.ok());
    std::filesystem::remove(usage_path_);
    // The next write creates a new file rather than writing to the unlinked one.
    ASSERT_TRUE(writer.record({{"222222222222", 6000}}).status.ok());
    ASSERT_TRUE(exists(usage_path_));
    EXPECT_EQ(writer.lookup({"111111111111", "222222222222"}), (std::vector<std::int64_t>{0, 6000}));
}

TEST_F(UsageTest, ALongListReadsTheSameTimesAsWindowByWindow) {
    Uses uses;
    std::vector<std::string> ids;
    for (std::uint64_t n = 0; n < 6000; ++n) {
        ids.push_back(std::to_string(100'000'000'000ull + n * 7919));
        if (n % 3 != 0) uses.emplace_back(ids.back(), static_cast<std::int64_t>(1000 + n));
    }
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record(uses).status.ok());
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    for (std::uintmax_t size : {std::uintmax_t{kUsageFileSize}, std::uintmax_t{kUsageFileSize / 2}}) {
        std::filesystem::resize_file(usage_path_, size);               // a short file reads as zeros past its end
        const std::vector<std::int64_t> at_once = reader.lookup(ids);  // the whole file in one read
        std::size_t known = 0;
        for (std::size_t start = 0; start < ids.size(); start += 100) {
            const std::vector<std::string> some(ids.begin() + start, ids.begin() + start + 100);
            const std::vector<std::int64_t> windows = reader.lookup(some);  // a window per id
            for (std::size_t i = 0; i < some.size(); ++i) {
                EXPECT_EQ(windows[i], at_once[start + i]) << some[i];
                EXPECT_TRUE(at_once[start + i] == 0 ||
                            at_once[start + i] == static_cast<std::int64_t>(1000 + start + i))
                    << some[i];
                known += at_once[start + i] != 0;
            }
        }
        EXPECT_EQ(known == uses.size(), size == kUsageFileSize) << known;
    }
}

// ---- what a hostile member of the workers' group can write ----

TEST_F(UsageTest, ForgedSlotsGiveForgedTimesOrNone) {
    create_file();
    poke(usage_path_, home_of("111111111111"), slot_for("111111111111", 10000));         // a forged time is just a time
    poke(usage_path_, home_of("222222222222"), slot_for("222222222222", 10000, false));  // torn: bad seal
    poke(usage_path_, home_of("333333333333"), slot_for("333333333333", -5));
    poke(usage_path_, home_of("444444444444"), slot_for("44444444444x", 10000));  // not digits
    poke(usage_path_, home_of("555555555555"), slot_for("055555555555", 10000));  // not a token id
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111", "222222222222", "333333333333", "444444444444", "555555555555",
                             "44444444444x", "055555555555"}),
              (std::vector<std::int64_t>{10000, 0, 0, 0, 0, 0, 0}));
    // A writer overwrites what is not a token's slot, and fixes a torn one.
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"222222222222", 20}, {"444444444444", 30}}).status.ok());
    EXPECT_EQ(read_slot(usage_path_, home_of("222222222222")), slot_for("222222222222", 20));
    EXPECT_EQ(read_slot(usage_path_, home_of("444444444444")), slot_for("444444444444", 30));
}

TEST_F(UsageTest, EntriesListEverySealedIdOnceWithItsNewestTime) {
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_TRUE(reader.entries().empty());                                   // no file
    const std::vector<std::string> ids = same_window_as("111111111111", 2);  // a, b, c share a window
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{ids[0], 1000}, {ids[1], 2000}, {ids[2], 3000}, {"222222222222", 4000}}).status.ok());
    ASSERT_TRUE(UsageFile(store_path_, UsageFile::Mode::read_write).forget({ids[1]}).ok());
    const std::size_t home = home_of(ids[0]);
    // Two writers placed c twice (the later slot newer); a torn slot and a
    // slot that is no token id are skipped.
    poke(usage_path_, home + 3, slot_for(ids[2], 3500));
    poke(usage_path_, home_of("333333333333"), slot_for("333333333333", 10000, false));
    poke(usage_path_, home_of("555555555555"), slot_for("055555555555", 10000));
    auto entries = reader.entries();
    std::sort(entries.begin(), entries.end());
    std::vector<std::pair<std::string, std::int64_t>> expected{{ids[0], 1000}, {ids[2], 3500}, {"222222222222", 4000}};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(entries, expected);
    // They agree with lookup().
    for (const auto& [id, ms] : entries) EXPECT_EQ(reader.lookup({id}), (std::vector<std::int64_t>{ms}));
    // A foreign file gives none.
    std::ofstream(usage_path_, std::ios::trunc) << "not a usage file";
    EXPECT_TRUE(UsageFile(store_path_, UsageFile::Mode::read_only).entries().empty());
}

TEST_F(UsageTest, RandomBytesMeanNoTimesAndNoCrash) {
    std::mt19937_64 random(7);
    std::string bytes(kUsageFileSize + 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    std::vector<std::string> ids;
    for (int i = 0; i < 2000; ++i) ids.push_back(std::to_string(100'000'000'000ull + random() % 900'000'000'000ull));
    const std::vector<std::int64_t> zeros(ids.size(), 0);

    std::ofstream(usage_path_, std::ios::binary) << bytes;  // no magic either
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup(ids), zeros);
    UsageFile writer(store_path_, UsageFile::Mode::create);
    const auto refused = writer.record({{ids[0], 5}});
    EXPECT_FALSE(refused.status.ok());
    EXPECT_FALSE(refused.full);
    EXPECT_FALSE(writer.prepare().ok());

    // With a valid header the slots are still noise: read as nothing,
    // overwritten by the next use.
    std::filesystem::remove(usage_path_);
    std::ofstream(usage_path_, std::ios::binary) << header_bytes() << bytes.substr(kUsageHeaderBytes);
    EXPECT_EQ(reader.lookup(ids), zeros);
    const auto written = writer.record({{ids[0], 5}, {ids[1], 6}});
    ASSERT_TRUE(written.status.ok()) << written.status.message();
    EXPECT_EQ(reader.lookup({ids[0], ids[1], ids[2]}), (std::vector<std::int64_t>{5, 6, 0}));
    EXPECT_TRUE(UsageFile(store_path_, UsageFile::Mode::read_write).forget(ids).ok());
    EXPECT_EQ(reader.lookup(ids), zeros);
}

TEST_F(UsageTest, AShortFileReadsAsZerosAndGrowsNoFurtherThanTheBound) {
    const std::string id = "111111111111";
    {
        UsageFile writer(store_path_, UsageFile::Mode::create);
        ASSERT_TRUE(writer.record({{id, 5000}}).status.ok());
    }
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    for (std::size_t size : {static_cast<std::size_t>(slot_offset(home_of(id))) + 10, kUsageHeaderBytes,
                             std::size_t{10}, std::size_t{0}}) {
        std::filesystem::resize_file(usage_path_, size);
        EXPECT_EQ(reader.lookup({id, "222222222222"}), (std::vector<std::int64_t>{0, 0})) << size;
    }
    // The last slot's use extends a file cut after its header to its size,
    // no further.
    const std::string header = header_bytes();
    write_bytes(usage_path_, 0, header.data(), header.size());
    std::string last;
    for (std::uint64_t n = 100'000'000'000ull;; ++n) {
        last = std::to_string(n);
        if (home_of(last) == kUsageSlots - kUsageWindow) break;
    }
    Uses uses;
    for (const std::string& id : same_window_as(last, kUsageWindow - 1)) uses.emplace_back(id, 77);
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record(uses).status.ok());
    EXPECT_EQ(std::filesystem::file_size(usage_path_), kUsageFileSize);
    EXPECT_EQ(reader.lookup({uses.back().first}), (std::vector<std::int64_t>{77}));
}

TEST_F(UsageTest, WhatLiesPastTheBoundIsNeverRead) {
    // A huge sparse file whose header claims many more slots, with forged
    // slots just past kUsageFileSize where a reader trusting either would
    // look for them (the would-be windows of these ids).
    std::string header = header_bytes();
    header[12] = header[13] = header[14] = header[15] = '\xff';
    write_bytes(usage_path_, 0, header.data(), header.size());
    std::vector<std::string> ids;
    for (std::uint64_t n = 100'000'000'000ull; ids.size() < 64; ++n) ids.push_back(std::to_string(n));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const SlotBytes slot = slot_for(ids[i], 999);
        for (std::size_t at : {kUsageSlots + i, kUsageSlots + home_of(ids[i]), kUsageSlots * 2 + home_of(ids[i])}) {
            poke(usage_path_, at, slot);
        }
    }
    std::filesystem::resize_file(usage_path_, std::uintmax_t{1} << 36);  // 64 GiB, sparse
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup(ids), std::vector<std::int64_t>(ids.size(), 0));
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{ids[0], 5}}).status.ok());
    EXPECT_EQ(reader.lookup({ids[0], ids[1]}), (std::vector<std::int64_t>{5, 0}));
}

TEST_F(UsageTest, AWrongMagicOrVersionMeansNoTimes) {
    {
        UsageFile writer(store_path_, UsageFile::Mode::create);
        ASSERT_TRUE(writer.record({{"111111111111", 5000}}).status.ok());
    }
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    for (const std::string& header : {std::string("NPATUSE9"), header_bytes(2).substr(0, 12)}) {
        write_bytes(usage_path_, 0, header.data(), header.size());
        // A new object: the header is read when the file is opened.
        EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).lookup({"111111111111"}),
                  (std::vector<std::int64_t>{0}));
        UsageFile writer(store_path_, UsageFile::Mode::create);
        const auto written = writer.record({{"111111111111", 6000}});
        EXPECT_FALSE(written.status.ok());
        EXPECT_FALSE(written.full);
        EXPECT_NE(written.status.message().find("not an nginx-pat usage file"), std::string::npos);
        EXPECT_TRUE(UsageFile(store_path_, UsageFile::Mode::read_write).forget({"111111111111"}).ok());
    }
    EXPECT_EQ(read_slot(usage_path_, home_of("111111111111")), slot_for("111111111111", 5000));  // untouched
}

TEST_F(UsageTest, ASymlinkFifoOrDirectoryInItsPlaceIsNotFollowed) {
    // The link points at a valid usage file the trusted side must not
    // read or write through the link.
    const std::string target_store = dir_ + "/other.db";
    {
        UsageFile target(target_store, UsageFile::Mode::create);
        ASSERT_TRUE(target.record({{"111111111111", 5000}}).status.ok());
    }
    const std::string target_path = UsageFile::path_for(target_store);
    ASSERT_EQ(::symlink(target_path.c_str(), usage_path_.c_str()), 0);
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    UsageFile writer(store_path_, UsageFile::Mode::create);
    EXPECT_FALSE(writer.record({{"111111111111", 9000}}).status.ok());
    EXPECT_FALSE(writer.prepare().ok());
    UsageFile manager(store_path_, UsageFile::Mode::read_write);
    EXPECT_FALSE(manager.forget({"111111111111"}).ok());
    EXPECT_EQ(UsageFile(target_store, UsageFile::Mode::read_only).lookup({"111111111111"}),
              (std::vector<std::int64_t>{5000}));

    std::filesystem::remove(usage_path_);
    ASSERT_EQ(::mkfifo(usage_path_.c_str(), 0660), 0);  // opening must not wait for a writer
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(writer.record({{"111111111111", 9000}}).status.ok());

    std::filesystem::remove(usage_path_);
    std::filesystem::create_directory(usage_path_);
    EXPECT_EQ(reader.lookup({"111111111111"}), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(writer.record({{"111111111111", 9000}}).status.ok());
}

TEST_F(UsageTest, TwoProcessesRecordAtOnce) {
    create_file();
    constexpr int kIdsEach = 3000;
    constexpr int kRounds = 5;
    auto ids_of = [](int process) {
        std::vector<std::string> ids;
        for (int i = 0; i < kIdsEach; ++i) ids.push_back(std::to_string(100'000'000'000ull + process * 1'000'000 + i));
        return ids;
    };
    const std::string shared = "999999999999";
    std::vector<pid_t> children;
    for (int process = 0; process < 2; ++process) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            UsageFile writer(store_path_, UsageFile::Mode::create);
            const std::vector<std::string> ids = ids_of(process);
            bool ok = true;
            for (int round = 1; round <= kRounds; ++round) {
                Uses uses;
                for (const std::string& id : ids) uses.emplace_back(id, round * 1000 + process);
                uses.emplace_back(shared, round * 1000 + process);
                ok = writer.record(uses).status.ok() && ok;
            }
            ::_exit(ok ? 0 : 1);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    // Every id shows its last time, or (an id that lost a race for a free
    // slot in its last round) nothing or an earlier time of its own: never
    // another id's time, never a torn one.
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    std::size_t exact = 0;
    for (int process = 0; process < 2; ++process) {
        const std::vector<std::string> ids = ids_of(process);
        const std::vector<std::int64_t> found = reader.lookup(ids);
        for (std::int64_t ms : found) {
            EXPECT_TRUE(ms == 0 || (ms % 1000 == process && ms / 1000 >= 1 && ms / 1000 <= kRounds)) << ms;
            exact += ms == kRounds * 1000 + process;
        }
    }
    EXPECT_GE(exact, std::size_t{2 * kIdsEach * 99 / 100});
    const std::int64_t last_shared = reader.lookup({shared})[0];
    EXPECT_TRUE(last_shared == kRounds * 1000 || last_shared == kRounds * 1000 + 1) << last_shared;
}

// ---- the Store's merge ----

class UsageMergeTest : public StoreTest {
   protected:
    // As the workers do, from an object of their own.
    void workers_record(const Uses& uses) {
        UsageFile writer(path_, UsageFile::Mode::create);
        const auto written = writer.record(uses);
        ASSERT_TRUE(written.status.ok()) << written.status.message();
    }

    std::string token_id(const std::string& owner, const std::string& name, std::int64_t now) {
        auto created = store_->create_token(owner, owner + "-pw", name, std::nullopt, std::nullopt, now);
        EXPECT_TRUE(created.ok()) << created.status().message();
        return created.ok() ? created->info.id : std::string();
    }

    std::int64_t listed_last_use(const std::string& id) {
        auto tokens = store_->list_tokens(std::nullopt);
        EXPECT_TRUE(tokens.ok()) << tokens.status().message();
        for (const TokenInfo& token : *tokens) {
            if (token.id == id) return token.last_authenticated_ms;
        }
        ADD_FAILURE() << "token " << id << " not listed";
        return -1;
    }
};

TEST_F(UsageMergeTest, InitCreatesTheUsageFile) {
    EXPECT_TRUE(exists(path_ + "-usage"));
    EXPECT_EQ(mode_of(path_ + "-usage"), 0660u);
    EXPECT_EQ(std::filesystem::file_size(path_ + "-usage"), kUsageFileSize);
    EXPECT_FALSE(exists(path_ + "-usage-lock"));
}

TEST_F(UsageMergeTest, ListingShowsTheNewerOfTheStoreAndTheUsageFile) {
    add_user("alice");
    const std::string used = token_id("alice", "used", 1000);
    const std::string recorded = token_id("alice", "recorded", 1000);
    const std::string never = token_id("alice", "never", 1000);
    ASSERT_TRUE(store_->record_token_uses({{recorded, 9000}}).ok());
    workers_record({{used, 5000}, {recorded, 3000}});

    EXPECT_EQ(listed_last_use(used), 5000);
    EXPECT_EQ(listed_last_use(recorded), 9000);  // the store's record is newer
    EXPECT_EQ(listed_last_use(never), 0);
    EXPECT_EQ(store_->get_token(used)->last_authenticated_ms, 5000);
    auto alices = store_->list_tokens("alice");
    ASSERT_TRUE(alices.ok());
    for (const TokenInfo& token : *alices) {
        EXPECT_EQ(token.last_authenticated_ms, token.id == used ? 5000 : token.id == recorded ? 9000 : 0);
    }
    TokenChange rename;
    rename.name = "renamed";
    EXPECT_EQ(store_->modify_token(Actor::system(), used, rename)->last_authenticated_ms, 5000);

    // A read-only store (patctl run by a user who may only read) merges too.
    store_.reset();
    auto reader = Store::open(path_, Store::Mode::read_only);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    EXPECT_EQ((*reader)->get_token(used)->last_authenticated_ms, 5000);
}

TEST_F(UsageMergeTest, AMissingOrDamagedUsageFileNeverFailsTheListing) {
    add_user("alice");
    const std::string id = token_id("alice", "t", 1000);
    ASSERT_TRUE(store_->record_token_uses({{id, 2000}}).ok());
    store_.reset();
    std::filesystem::remove(path_ + "-usage");
    store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    EXPECT_EQ(listed_last_use(id), 2000);
    EXPECT_FALSE(exists(path_ + "-usage"));  // listing creates nothing

    store_.reset();
    std::ofstream(path_ + "-usage") << std::string(16 * 1024, '\x07');
    store_ = std::move(*Store::open(path_, Store::Mode::read_write));
    EXPECT_EQ(listed_last_use(id), 2000);
    EXPECT_TRUE(store_->revoke_token(Actor::system(), id).ok());  // forgetting fails quietly
}

TEST_F(UsageMergeTest, RevokingOrDeletingDropsTheUsageEntry) {
    add_user("alice");
    add_user("bob");
    const std::string revoked = token_id("alice", "revoked", 1000);
    const std::string kept = token_id("alice", "kept", 1000);
    const std::string bobs = token_id("bob", "bobs", 1000);
    workers_record({{revoked, 5000}, {kept, 5000}, {bobs, 5000}});

    ASSERT_TRUE(store_->revoke_token(Actor::system(), revoked).ok());
    ASSERT_TRUE(store_->delete_user("bob").ok());
    store_.reset();
    UsageFile reader(path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({revoked, kept, bobs}), (std::vector<std::int64_t>{0, 5000, 0}));
}

}  // namespace
}  // namespace pat::testing

// ---- the client addresses of the last uses ----

namespace pat::testing {
namespace {

UsageAddress address(std::string_view text, std::int64_t ms) {
    UsageAddress a{};
    EXPECT_TRUE(usage_address_from_text(text, a)) << text;
    a.ms = ms;
    return a;
}

UsageRecord use_from(std::string id, std::int64_t ms, std::vector<UsageAddress> from) {
    UsageRecord record{std::move(id), ms, {}};
    for (const UsageAddress& a : from) note_usage_address(record.addresses, a);
    return record;
}

using Ips = std::vector<std::string>;

TEST_F(UsageTest, AddressesAreKeptFiveDistinctMostRecentFirst) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    const std::string id = "111111111111";
    ASSERT_TRUE(writer
                    .record_with_addresses({use_from(
                        id, 1000, {address("192.0.2.1", 1000), address("::1", 900), address("192.0.2.1", 800)})})
                    .status.ok());
    EXPECT_EQ(writer.lookup({id}), (std::vector<std::int64_t>{1000}));
    EXPECT_EQ(writer.lookup_addresses({id}), (std::vector<Ips>{{"192.0.2.1", "::1"}}));
    // Grown past the slots (sparse), once addresses are written.
    EXPECT_EQ(std::filesystem::file_size(usage_path_), kUsageFileSizeWithAddresses);

    // Another writer (another worker) merges its own: five distinct at most,
    // the oldest dropped, an older time for a known address ignored.
    UsageFile other(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(other
                    .record_with_addresses({use_from(id, 2000,
                                                     {address("2001:db8::7", 1100), address("198.51.100.1", 1200),
                                                      address("198.51.100.2", 1300), address("198.51.100.3", 2000)})})
                    .status.ok());
    EXPECT_EQ(UsageFile(store_path_, UsageFile::Mode::read_only).lookup_addresses({id, "222222222222"}),
              (std::vector<Ips>{{"198.51.100.3", "198.51.100.2", "198.51.100.1", "2001:db8::7", "192.0.2.1"}, {}}));
    ASSERT_TRUE(writer.record_with_addresses({use_from(id, 2100, {address("192.0.2.1", 2100)})}).status.ok());
    EXPECT_EQ(writer.lookup_addresses({id}),
              (std::vector<Ips>{{"192.0.2.1", "198.51.100.3", "198.51.100.2", "198.51.100.1", "2001:db8::7"}}));
    EXPECT_EQ(writer.lookup({id}), (std::vector<std::int64_t>{2100}));

    // Forgetting drops them with the time; the slot's next id starts afresh.
    ASSERT_TRUE(writer.forget({id}).ok());
    EXPECT_EQ(writer.lookup_addresses({id}), (std::vector<Ips>{{}}));
}

TEST_F(UsageTest, AnOlderFileWithoutAddressesStillReadsAndIsGrownByTheFirstAddress) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record({{"111111111111", 5000}}).status.ok());
    EXPECT_EQ(std::filesystem::file_size(usage_path_), kUsageFileSize);  // the earlier layout, exactly
    EXPECT_EQ(writer.lookup_addresses({"111111111111"}), (std::vector<Ips>{{}}));
    ASSERT_TRUE(
        writer.record_with_addresses({use_from("222222222222", 6000, {address("192.0.2.9", 6000)})}).status.ok());
    UsageFile reader(store_path_, UsageFile::Mode::read_only);
    EXPECT_EQ(reader.lookup({"111111111111", "222222222222"}), (std::vector<std::int64_t>{5000, 6000}));
    EXPECT_EQ(reader.lookup_addresses({"111111111111", "222222222222"}), (std::vector<Ips>{{}, {"192.0.2.9"}}));
    // The time slots are still byte for byte the earlier layout.
    EXPECT_EQ(read_slot(usage_path_, home_of("222222222222")), slot_for("222222222222", 6000));
}

TEST_F(UsageTest, AForgedOrTornAddressSlotShowsNothing) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    const std::string id = "333333333333";
    ASSERT_TRUE(writer.record_with_addresses({use_from(id, 7000, {address("192.0.2.3", 7000)})}).status.ok());
    const off_t at = static_cast<off_t>(kUsageFileSize + home_of(id) * kUsageAddressSlotBytes);
    const unsigned char flipped = 0x5a;
    write_bytes(usage_path_, at + 20, &flipped, 1);  // an entry byte: the seal no longer matches
    EXPECT_EQ(writer.lookup_addresses({id}), (std::vector<Ips>{{}}));
    EXPECT_EQ(writer.lookup({id}), (std::vector<std::int64_t>{7000}));
}

TEST_F(UsageTest, ALongListReadsTheSameAddressesAsWindowByWindow) {
    UsageFile writer(store_path_, UsageFile::Mode::create);
    std::vector<UsageRecord> uses;
    std::vector<std::string> ids;
    for (int n = 0; n < 5000; ++n) {
        ids.push_back(std::to_string(400'000'000'000ull + static_cast<unsigned>(n) * 7919));
        if (n % 100 == 0) {
            uses.push_back(use_from(ids.back(), 1000 + n,
                                    {address("192.0.2." + std::to_string(n % 250), 1000 + n), address("::1", 999)}));
        }
    }
    ASSERT_TRUE(writer.record_with_addresses(uses).status.ok());
    const std::vector<Ips> long_list = writer.lookup_addresses(ids);
    ASSERT_EQ(long_list.size(), ids.size());
    for (std::size_t n = 0; n < ids.size(); n += 50) {
        EXPECT_EQ(long_list[n], writer.lookup_addresses({ids[n]}).front()) << ids[n];
        if (n % 100 == 0) {
            EXPECT_EQ(long_list[n], (Ips{"192.0.2." + std::to_string(n % 250), "::1"}));
        } else {
            EXPECT_TRUE(long_list[n].empty());
        }
    }
}

TEST(UsageAddressTest, TextRoundTripsAndTheOldestIsReplaced) {
    UsageAddress a{};
    EXPECT_FALSE(usage_address_from_text("not an address", a));
    EXPECT_FALSE(usage_address_from_text("", a));
    a = address("::ffff:192.0.2.1", 1);
    EXPECT_EQ(usage_address_text(a), "192.0.2.1");
    EXPECT_EQ(usage_address_text(address("2001:DB8::1", 1)), "2001:db8::1");
    UsageAddresses set{};
    for (int i = 1; i <= 5; ++i) note_usage_address(set, address("192.0.2." + std::to_string(i), i * 10));
    note_usage_address(set, address("192.0.2.99", 5));  // older than all: not kept
    EXPECT_EQ(usage_address_list(set), (Ips{"192.0.2.5", "192.0.2.4", "192.0.2.3", "192.0.2.2", "192.0.2.1"}));
    note_usage_address(set, address("192.0.2.6", 60));  // replaces the oldest
    EXPECT_EQ(usage_address_list(set), (Ips{"192.0.2.6", "192.0.2.5", "192.0.2.4", "192.0.2.3", "192.0.2.2"}));
}

TEST_F(UsageMergeTest, ListingShowsTheLastUsedAddresses) {
    add_user("alice");
    const std::string id = token_id("alice", "used", 1000);
    UsageFile writer(path_, UsageFile::Mode::create);
    ASSERT_TRUE(writer.record_with_addresses({use_from(id, 5000, {address("192.0.2.1", 4000), address("::1", 5000)})})
                    .status.ok());
    EXPECT_EQ(store_->get_token(id)->last_used_ips, (Ips{"::1", "192.0.2.1"}));
    auto listed = store_->list_tokens("alice");
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(listed->front().last_used_ips, (Ips{"::1", "192.0.2.1"}));
}

}  // namespace
}  // namespace pat::testing
