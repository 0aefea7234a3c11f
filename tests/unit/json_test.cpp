// The strict JSON parser and the writer.
#include "pat/json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pat::json {
namespace {

Value parse_ok(std::string_view text) {
    auto parsed = parse(text);
    EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.status().message());
    return parsed.ok() ? *parsed : Value();
}

std::string parse_error(std::string_view text, const ParseLimits& limits = {}) {
    auto parsed = parse(text, limits);
    EXPECT_FALSE(parsed.ok()) << "accepted: " << text;
    if (parsed.ok()) return "";
    EXPECT_EQ(parsed.status().code(), StatusCode::invalid_argument);
    return parsed.status().message();
}

TEST(JsonParse, ScalarsAndContainers) {
    EXPECT_TRUE(parse_ok("null").is_null());
    EXPECT_TRUE(parse_ok(" true ").as_bool());
    EXPECT_FALSE(parse_ok("false").as_bool());
    EXPECT_EQ(parse_ok("\"hi\"").as_string(), "hi");
    EXPECT_EQ(*parse_ok("-12").as_int64(), -12);

    const Value doc = parse_ok(
        "{\"name\": \"ci\", \"permissions\": [\"PROJECT_READ\", \"REPO_WRITE\"],\n"
        " \"expiryDays\": 30, \"nested\": {\"a\": [1, [2, {}], []]}}");
    ASSERT_TRUE(doc.is_object());
    EXPECT_EQ(doc.size(), 4u);
    EXPECT_EQ(doc.keys()[0], "name");
    EXPECT_EQ(doc.find("name")->as_string(), "ci");
    ASSERT_TRUE(doc.find("permissions")->is_array());
    EXPECT_EQ(doc.find("permissions")->elements()[1].as_string(), "REPO_WRITE");
    EXPECT_EQ(*doc.find("expiryDays")->as_int64(), 30);
    EXPECT_EQ(doc.find("nested")->find("a")->elements()[1].elements()[1].size(), 0u);
    EXPECT_EQ(doc.find("missing"), nullptr);
}

TEST(JsonParse, NumbersFollowTheGrammar) {
    for (const char* good : {"0", "-0", "1.5", "1e3", "1E+3", "-2.5e-3", "123456789012345678901234567890"}) {
        EXPECT_TRUE(parse_ok(good).is_number()) << good;
    }
    EXPECT_DOUBLE_EQ(parse_ok("-2.5e-3").as_double(), -0.0025);
    for (const char* bad :
         {"01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "1.0.0"}) {
        parse_error(bad);
    }
    // Integers only when written as integers and in range.
    EXPECT_FALSE(parse_ok("30.0").as_int64());
    EXPECT_FALSE(parse_ok("3e1").as_int64());
    EXPECT_FALSE(parse_ok("9223372036854775808").as_int64());
    EXPECT_EQ(*parse_ok("9223372036854775807").as_int64(), INT64_MAX);
    EXPECT_EQ(*parse_ok("-9223372036854775808").as_int64(), INT64_MIN);
}

TEST(JsonParse, StringEscapesDecodeToUtf8) {
    EXPECT_EQ(parse_ok(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
    EXPECT_EQ(parse_ok(R"("\u00e9\u20AC")").as_string(), "\xC3\xA9\xE2\x82\xAC");
    // A surrogate pair is one code point: U+1F600.
    EXPECT_EQ(parse_ok(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");
    EXPECT_EQ(parse_ok(R"("\u0000")").as_string(), std::string(1, '\0'));
    // Raw UTF-8 passes through.
    EXPECT_EQ(parse_ok("\"\xE6\x97\xA5\xF0\x9F\x98\x80\"").as_string(), "\xE6\x97\xA5\xF0\x9F\x98\x80");
}

TEST(JsonParse, RefusesBadStrings) {
    EXPECT_NE(parse_error(R"("\ud83d")").find("surrogate"), std::string::npos);
    EXPECT_NE(parse_error(R"("\ude00")").find("surrogate"), std::string::npos);
    EXPECT_NE(parse_error(R"("\ud83d\u0041")").find("surrogate"), std::string::npos);
    parse_error(R"("\u12")");
    parse_error(R"("\u12g4")");
    parse_error(R"("\x41")");
    parse_error("\"tab\there\"");  // raw control character
    parse_error("\"unterminated");
    parse_error("\"\xC0\xAF\"");          // overlong '/'
    parse_error("\"\xED\xA0\x80\"");      // UTF-8-encoded surrogate
    parse_error("\"\xF4\x90\x80\x80\"");  // above U+10FFFF
    parse_error("\"\xE2\x82\"");          // truncated sequence
    parse_error("\"\xFF\"");
}

TEST(JsonParse, RefusesWhatIsNotOneJsonValue) {
    EXPECT_NE(parse_error("{} x").find("after the JSON value"), std::string::npos);
    parse_error("");
    parse_error("   ");
    parse_error("[1,]");
    parse_error("{\"a\":1,}");
    parse_error("{'a':1}");
    parse_error("{a:1}");
    parse_error("{\"a\" 1}");
    parse_error("[1 2]");
    parse_error("tru");
    parse_error("nul");
    parse_error("[");
    parse_error("{\"a\":");
    parse_error("// comment\n{}");
}

TEST(JsonParse, RefusesDuplicateKeys) {
    const std::string message = parse_error(R"({"name":"a","name":"b"})");
    EXPECT_NE(message.find("duplicate object key \"name\""), std::string::npos) << message;
    // The same key in different objects is fine.
    EXPECT_TRUE(parse_ok(R"({"a":{"x":1},"b":{"x":2}})").is_object());
}

TEST(JsonParse, ErrorsSayWhere) {
    const std::string message = parse_error("{\"a\": tru}");
    EXPECT_NE(message.find("at byte 6"), std::string::npos) << message;
}

TEST(JsonParse, DepthAndSizeLimits) {
    ParseLimits limits;
    limits.max_depth = 4;
    EXPECT_TRUE(parse("[[[[1]]]]", limits).ok());
    EXPECT_NE(parse_error("[[[[[1]]]]]", limits).find("nested deeper"), std::string::npos);
    EXPECT_NE(parse_error("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", limits).find("nested deeper"), std::string::npos);
    // The default depth refuses a deep bomb without exhausting the stack.
    parse_error(std::string(100000, '['));

    limits = ParseLimits{};
    limits.max_bytes = 10;
    EXPECT_TRUE(parse("[1,2,3,4]", limits).ok());
    EXPECT_NE(parse_error("[1,2,3,4,5]", limits).find("larger than 10 bytes"), std::string::npos);
}

TEST(JsonParse, WipeStringsClearsEveryString) {
    Value doc = parse_ok(R"({"password":"s3cret","list":["x",{"y":"z"}],"n":1})");
    doc.wipe_strings();
    EXPECT_EQ(doc.find("password")->as_string(), "");
    EXPECT_EQ(doc.find("list")->elements()[0].as_string(), "");
    EXPECT_EQ(doc.find("list")->elements()[1].find("y")->as_string(), "");
    EXPECT_EQ(doc.find("n")->number_text(), "1");
}

TEST(JsonWrite, EscapesAndKeepsUtf8Valid) {
    std::string out;
    append_escaped(out, std::string("q\"b\\n\n\x01\x7f\xC3\xA9", 10));
    EXPECT_EQ(out, "q\\\"b\\\\n\\n\\u0001\\u007f\xC3\xA9");
    out.clear();
    append_escaped(out, "bad\xFF byte \xC0\xAF and cut \xE2\x82");
    EXPECT_EQ(out, "bad\\ufffd byte \\ufffd\\ufffd and cut \\ufffd\\ufffd");
    // Whatever bytes go in, the result parses back.
    std::string all_bytes;
    for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
    Writer writer;
    writer.string(all_bytes);
    EXPECT_TRUE(parse(writer.text()).ok());
}

TEST(JsonWrite, WriterPlacesCommas) {
    Writer out;
    out.begin_object();
    out.key("a").number(-5);
    out.key("b").begin_array().string("x").boolean(true).null().begin_object().end_object().end_array();
    out.key("c").raw_number("1.5e3");
    out.end_object();
    EXPECT_TRUE(out.complete());
    EXPECT_EQ(out.text(), R"({"a":-5,"b":["x",true,null,{}],"c":1.5e3})");
}

TEST(JsonWrite, SerializeRoundTrips) {
    const std::string compact =
        R"({"id":"123","n":[0,-1,2.5e-3,true,false,null],"s":"\u0001\"\\ é","o":{"":{}},"e":[]})";
    const Value value = parse_ok(compact);
    EXPECT_EQ(serialize(value), compact);
    EXPECT_EQ(parse_ok(serialize(value)), value);
}

}  // namespace
}  // namespace pat::json
