// step_byte (byte_walk.h).
#include "engine/grammar/byte_walk.h"

namespace kvs::grammar {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
// Smallest code point a character of 1..4 bytes may encode.
constexpr uint32_t kMinOfLength[5] = {0, 0, 0x80, 0x800, 0x10000};

// Keeps the non-empty stacks of `in` whose top admits a character starting
// with `partial` followed by `remaining` continuation bytes.
void keep_compatible(const Grammar& g, const StackSet& in, uint32_t partial, uint8_t remaining, uint8_t length,
                     StackSet& out) {
  // The code points that start with these bits, less the overlong ones (a
  // prefix such as E0 9C can only end below U+0800: refused now, not later).
  uint32_t lo = partial << (6 * remaining);
  uint32_t hi = lo | ((uint32_t{1} << (6 * remaining)) - 1);
  if (lo < kMinOfLength[length]) lo = kMinOfLength[length];
  if (hi > kMaxCodePoint) hi = kMaxCodePoint;
  if (lo > hi) return;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto s = in.stack(i);
    if (s.empty()) continue;
    if (g.char_classes[g.elements[s.back()].value].intersects(lo, hi)) out.add(s);
  }
}

}  // namespace

bool step_byte(const Grammar& g, const WalkState& in, uint8_t byte, bool local, WalkState& out) {
  out.stacks.clear();
  out.exhausted = in.exhausted;
  out.partial = 0;
  out.remaining = 0;
  out.length = 0;
  uint32_t cp;
  uint8_t remaining;
  uint8_t length = in.length;
  if (in.remaining == 0) {
    if (local && in.stacks.has_empty_stack()) out.exhausted = true;
    if (byte < 0x80) {
      cp = byte;
      remaining = 0;
      length = 1;
    } else if ((byte & 0xE0) == 0xC0) {
      if (byte < 0xC2) return false;  // overlong
      cp = byte & 0x1F;
      remaining = 1;
      length = 2;
    } else if ((byte & 0xF0) == 0xE0) {
      cp = byte & 0x0F;
      remaining = 2;
      length = 3;
    } else if ((byte & 0xF8) == 0xF0) {
      if (byte > 0xF4) return false;
      cp = byte & 0x07;
      remaining = 3;
      length = 4;
    } else {
      return false;  // stray continuation byte or invalid lead
    }
  } else {
    if ((byte & 0xC0) != 0x80) return false;
    cp = (in.partial << 6) | (byte & 0x3F);
    remaining = in.remaining - 1;
  }
  if (remaining == 0) {
    if (cp > kMaxCodePoint || cp < kMinOfLength[length]) return false;
    accept_code_point(g, in.stacks, cp, out.stacks);
  } else {
    keep_compatible(g, in.stacks, cp, remaining, length, out.stacks);
    out.partial = cp;
    out.remaining = remaining;
    out.length = length;
  }
  return !out.stacks.empty();
}

}  // namespace kvs::grammar
