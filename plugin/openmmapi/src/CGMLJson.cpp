#include "internal/CGMLJson.h"
#include "openmm/OpenMMException.h"
#include <cctype>
#include <cstdlib>
#include <cstring>

using namespace CGMLPlugin;
using std::string;

namespace {

/** A recursive-descent reader over the text; every error names the offset it stopped at. */
class Reader {
public:
    Reader(const string& text, const string& what) : s(text), what(what), at(0) {
    }
    CGMLJson document() {
        CGMLJson value = read(0);
        space();
        if (at != s.size())
            fail("unexpected text after the value");
        return value;
    }
private:
    [[noreturn]] void fail(const string& why) {
        throw OpenMM::OpenMMException(what + " is not valid JSON: " + why + " at byte " + std::to_string(at));
    }
    void space() {
        while (at < s.size() && (s[at] == ' ' || s[at] == '\t' || s[at] == '\n' || s[at] == '\r'))
            at++;
    }
    void expect(const char* word) {
        size_t n = std::strlen(word);
        if (s.compare(at, n, word) != 0)
            fail(string("expected '") + word + "'");
        at += n;
    }
    CGMLJson read(int depth) {
        if (depth > 64)
            fail("nested too deeply");
        space();
        if (at >= s.size())
            fail("unexpected end of text");
        CGMLJson value;
        char c = s[at];
        if (c == '{') {
            value.kind = CGMLJson::Object;
            at++;
            space();
            if (at < s.size() && s[at] == '}') {
                at++;
                return value;
            }
            while (true) {
                space();
                if (at >= s.size() || s[at] != '"')
                    fail("expected a string key");
                string key = readString();
                space();
                if (at >= s.size() || s[at] != ':')
                    fail("expected ':'");
                at++;
                value.members.emplace_back(key, read(depth + 1));
                space();
                if (at < s.size() && s[at] == ',') {
                    at++;
                    continue;
                }
                if (at < s.size() && s[at] == '}') {
                    at++;
                    return value;
                }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[') {
            value.kind = CGMLJson::Array;
            at++;
            space();
            if (at < s.size() && s[at] == ']') {
                at++;
                return value;
            }
            while (true) {
                value.items.push_back(read(depth + 1));
                space();
                if (at < s.size() && s[at] == ',') {
                    at++;
                    continue;
                }
                if (at < s.size() && s[at] == ']') {
                    at++;
                    return value;
                }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"') {
            value.kind = CGMLJson::String;
            value.text = readString();
            return value;
        }
        if (c == 't' || c == 'f') {
            value.kind = CGMLJson::Bool;
            value.boolean = c == 't';
            expect(value.boolean ? "true" : "false");
            return value;
        }
        if (c == 'n') {
            expect("null");
            return value;
        }
        value.kind = CGMLJson::Number;
        value.number = readNumber();
        return value;
    }
    double readNumber() {
        size_t start = at;
        if (at < s.size() && s[at] == '-')
            at++;
        size_t digits = at;
        while (at < s.size() && isdigit((unsigned char) s[at]))
            at++;
        if (at == digits || (s[digits] == '0' && at - digits > 1))
            fail("malformed number");
        if (at < s.size() && s[at] == '.') {
            size_t fraction = ++at;
            while (at < s.size() && isdigit((unsigned char) s[at]))
                at++;
            if (at == fraction)
                fail("malformed number");
        }
        if (at < s.size() && (s[at] == 'e' || s[at] == 'E')) {
            at++;
            if (at < s.size() && (s[at] == '+' || s[at] == '-'))
                at++;
            size_t exponent = at;
            while (at < s.size() && isdigit((unsigned char) s[at]))
                at++;
            if (at == exponent)
                fail("malformed number");
        }
        return std::strtod(s.substr(start, at - start).c_str(), nullptr);
    }
    unsigned hex4() {
        if (at + 4 > s.size())
            fail("unfinished \\u escape");
        unsigned code = 0;
        for (int i = 0; i < 4; i++) {
            char h = s[at++];
            code <<= 4;
            if (h >= '0' && h <= '9')
                code |= h - '0';
            else if (h >= 'a' && h <= 'f')
                code |= h - 'a' + 10;
            else if (h >= 'A' && h <= 'F')
                code |= h - 'A' + 10;
            else
                fail("bad \\u escape");
        }
        return code;
    }
    static void appendUtf8(string& out, unsigned code) {
        if (code < 0x80)
            out += (char) code;
        else if (code < 0x800) {
            out += (char) (0xC0 | (code >> 6));
            out += (char) (0x80 | (code & 0x3F));
        }
        else if (code < 0x10000) {
            out += (char) (0xE0 | (code >> 12));
            out += (char) (0x80 | ((code >> 6) & 0x3F));
            out += (char) (0x80 | (code & 0x3F));
        }
        else {
            out += (char) (0xF0 | (code >> 18));
            out += (char) (0x80 | ((code >> 12) & 0x3F));
            out += (char) (0x80 | ((code >> 6) & 0x3F));
            out += (char) (0x80 | (code & 0x3F));
        }
    }
    string readString() {
        at++;  // the opening quote
        string out;
        while (true) {
            if (at >= s.size())
                fail("unterminated string");
            char c = s[at++];
            if (c == '"')
                return out;
            if ((unsigned char) c < 0x20)
                fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at >= s.size())
                fail("unterminated string");
            char e = s[at++];
            switch (e) {
                case '"': case '\\': case '/': out += e; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned code = hex4();
                    if (code >= 0xD800 && code < 0xDC00 && s.compare(at, 2, "\\u") == 0) {
                        at += 2;
                        unsigned low = hex4();
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    appendUtf8(out, code);
                    break;
                }
                default: fail("bad escape");
            }
        }
    }
    const string& s;
    string what;
    size_t at;
};

} // namespace

CGMLJson CGMLJson::parse(const string& text, const string& what) {
    return Reader(text, what).document();
}

const CGMLJson* CGMLJson::find(const string& key) const {
    for (const auto& member : members)
        if (member.first == key)
            return &member.second;
    return nullptr;
}
