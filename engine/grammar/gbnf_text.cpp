#include "engine/grammar/gbnf_text.h"

#include <algorithm>
#include <cstdio>

#include "engine/tokenizer/utf8.h"

namespace kvs::grammar::gbnf {
namespace {

constexpr uint32_t kSurrogateLo = 0xD800;
constexpr uint32_t kSurrogateHi = 0xDFFF;

// One code point written inside a GBNF literal or class; `special` are the
// ASCII characters that need a backslash there.
void append_escaped(std::string& out, uint32_t cp, std::string_view special) {
  char buf[16];
  if (cp == '\n') {
    out += "\\n";
  } else if (cp == '\t') {
    out += "\\t";
  } else if (cp == '\r') {
    out += "\\r";
  } else if (cp < 0x20 || cp == 0x7F) {
    std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(cp));
    out += buf;
  } else if (cp < 0x80) {
    if (special.find(static_cast<char>(cp)) != std::string_view::npos) out += '\\';
    out += static_cast<char>(cp);
  } else if (cp <= 0xFFFF) {
    std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
    out += buf;
  } else {
    std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
    out += buf;
  }
}

}  // namespace

std::vector<CodeRange> normalize(std::vector<CodeRange> ranges) {
  std::vector<CodeRange> split;
  for (CodeRange r : ranges) {
    if (r.lo > r.hi) continue;
    r.hi = std::min(r.hi, kMaxCodePoint);
    if (r.lo > r.hi) continue;
    if (r.hi < kSurrogateLo || r.lo > kSurrogateHi) {
      split.push_back(r);
      continue;
    }
    if (r.lo < kSurrogateLo) split.push_back({r.lo, kSurrogateLo - 1});
    if (r.hi > kSurrogateHi) split.push_back({kSurrogateHi + 1, r.hi});
  }
  std::sort(split.begin(), split.end(), [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  std::vector<CodeRange> merged;
  for (const CodeRange& r : split) {
    if (!merged.empty() && r.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::vector<CodeRange> complement(const std::vector<CodeRange>& ranges) {
  const std::vector<CodeRange> in = normalize(ranges);
  std::vector<CodeRange> out;
  uint32_t next = 0;
  for (const CodeRange& r : in) {
    if (r.lo > next) out.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return normalize(out);
}

std::vector<CodeRange> subtract(const std::vector<CodeRange>& ranges, const std::vector<CodeRange>& removed) {
  std::vector<CodeRange> keep = complement(removed);
  // Intersection of two sorted disjoint lists.
  const std::vector<CodeRange> a = normalize(ranges);
  std::vector<CodeRange> out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < keep.size()) {
    const uint32_t lo = std::max(a[i].lo, keep[j].lo);
    const uint32_t hi = std::min(a[i].hi, keep[j].hi);
    if (lo <= hi) out.push_back({lo, hi});
    if (a[i].hi < keep[j].hi) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

bool contains(const std::vector<CodeRange>& ranges, uint32_t cp) {
  return std::any_of(ranges.begin(), ranges.end(), [cp](const CodeRange& r) { return r.lo <= cp && cp <= r.hi; });
}

std::string literal(std::string_view utf8) {
  std::string out = "\"";
  size_t i = 0;
  while (i < utf8.size()) {
    uint32_t cp = 0;
    utf8_decode(utf8, i, cp);
    append_escaped(out, cp, "\"\\");
  }
  out += '"';
  return out;
}

std::string char_class(const std::vector<CodeRange>& ranges) {
  std::string out = "[";
  for (const CodeRange& r : ranges) {
    append_escaped(out, r.lo, "]\\^-[");
    if (r.hi != r.lo) {
      if (r.hi > r.lo + 1) out += '-';
      append_escaped(out, r.hi, "]\\^-[");
    }
  }
  out += ']';
  return out;
}

std::string utf8_encode(uint32_t cp) {
  std::string out;
  utf8::append(out, cp);
  return out;
}

bool utf8_decode(std::string_view text, size_t& i, uint32_t& cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  size_t len = 0;
  uint32_t value = 0;
  uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, value = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, value = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, value = b0 & 0x07, min = 0x10000;
  }
  bool ok = len != 0 && i + len <= text.size();
  for (size_t k = 1; ok && k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) ok = false;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  if (ok && (value < min || value > kMaxCodePoint || (value >= kSurrogateLo && value <= kSurrogateHi))) ok = false;
  if (!ok) {
    cp = b0;
    ++i;
    return false;
  }
  cp = value;
  i += len;
  return true;
}

std::string name_fragment(std::string_view hint) {
  std::string out;
  for (const char c : hint) {
    if (out.size() >= 40) break;
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out += c;
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "x" : out;
}

}  // namespace kvs::grammar::gbnf
