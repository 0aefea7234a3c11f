// Building the tree from yaml-cpp's event parser.
//
// Why events and not YAML::Load: the handler sees each collection as it
// opens, so a file nested deeper than the format allows is refused at once,
// before yaml-cpp recurses any deeper (its own guard stops only at 2000
// levels); it also sees anchors, aliases, tags and further documents, which
// the format refuses (a file's meaning stays what its lines say), and tells
// a quoted "null" (a name) from a null (nothing).

#include "tree.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <sstream>
#include <utility>

#include "pat/permissions_file.hpp"

namespace pat::permissions_file {

namespace {

std::size_t line_of(const YAML::Mark& mark) {
    return mark.line < 0 ? 1 : static_cast<std::size_t>(mark.line) + 1;
}

std::string escaped(std::string_view text, bool quote) {
    constexpr std::size_t kMaxShown = 80;
    std::string out = quote ? "\"" : "";
    for (std::size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        } else if (quote && (c == '"' || c == '\\')) {
            out += '\\';
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > kMaxShown) out += "...";
    if (quote) out += '"';
    return out;
}

}  // namespace

std::string printable(std::string_view text) {
    return escaped(text, false);
}

std::string quoted(std::string_view text) {
    return escaped(text, true);
}

namespace {

class TreeBuilder final : public YAML::EventHandler {
   public:
    // The document's root; a null node when the file holds no document.
    Node take_root() { return std::move(root_); }

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (++documents_ > 1) {
            fail(line_of(mark), "a second YAML document: a permissions file is one document (remove the \"---\")");
        }
    }
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        check_anchor(mark, anchor);
        add(Node{Node::Kind::null, line_of(mark), {}, {}});
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { refuse_anchor(mark); }
    void OnAnchor(const YAML::Mark& mark, const std::string&) override { refuse_anchor(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        check_anchor(mark, anchor);
        check_tag(mark, tag);
        add(Node{Node::Kind::scalar, line_of(mark), value, {}});
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, tag, anchor, Node::Kind::sequence);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, tag, anchor, Node::Kind::map);
    }
    void OnMapEnd() override { close(); }

   private:
    static void refuse_anchor(const YAML::Mark& mark) {
        fail(line_of(mark), "anchors (&name) and aliases (*name) are not accepted: write each entry out");
    }
    static void check_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
        if (anchor != YAML::NullAnchor) refuse_anchor(mark);
    }
    // "?" is a plain node's tag, "!" a quoted scalar's: no tag written.
    static void check_tag(const YAML::Mark& mark, const std::string& tag) {
        if (!tag.empty() && tag != "?" && tag != "!") {
            fail(line_of(mark), "tags (" + quoted(tag) + ") are not accepted: write plain values");
        }
    }
    void open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, Node::Kind kind) {
        check_anchor(mark, anchor);
        check_tag(mark, tag);
        if (open_.size() >= kMaxPermissionsFileDepth) {
            fail(line_of(mark), "nested deeper than " + std::to_string(kMaxPermissionsFileDepth) +
                                    " levels: a permissions file needs 6 (projects, a project, repos, a "
                                    "repository, users, a user)");
        }
        open_.push_back(Node{kind, line_of(mark), {}, {}});
    }
    void close() {
        Node done = std::move(open_.back());
        open_.pop_back();
        add(std::move(done));
    }
    void add(Node node) {
        if (open_.empty()) {
            root_ = std::move(node);
        } else {
            open_.back().items.push_back(std::move(node));
        }
    }

    std::vector<Node> open_;  // the collections not yet closed, outermost first
    Node root_;
    int documents_ = 0;
};

}  // namespace

Node read_tree(std::string_view text) {
    try {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        TreeBuilder builder;
        while (parser.HandleNextDocument(builder)) {
        }
        return builder.take_root();
    } catch (const YAML::Exception& e) {
        const std::string column = e.mark.column < 0 ? "" : " at column " + std::to_string(e.mark.column + 1);
        fail(line_of(e.mark), "YAML syntax error" + column + ": " + printable(e.msg));
    }
}

}  // namespace pat::permissions_file
