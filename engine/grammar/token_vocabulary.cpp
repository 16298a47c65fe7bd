// build_token_vocabulary (token_vocabulary.h).
#include <algorithm>
#include <numeric>

#include "engine/errors.h"
#include "engine/grammar/token_vocabulary_impl.h"

namespace kvs::grammar {

std::shared_ptr<const TokenVocabulary> build_token_vocabulary(std::vector<std::string> token_bytes,
                                                              const std::vector<int32_t>& never_allowed) {
  auto v = std::make_shared<TokenVocabulary>();
  v->bytes = std::move(token_bytes);
  const size_t n = v->bytes.size();
  v->eligible.assign(n, 1);
  for (int32_t id : never_allowed) {
    if (id < 0 || static_cast<size_t>(id) >= n) {
      throw InvalidArgument("grammar: never-allowed token id " + std::to_string(id) + " outside the vocabulary");
    }
    v->eligible[id] = 0;
  }
  v->byte_token.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    if (v->bytes[i].empty()) v->eligible[i] = 0;
    if (!v->eligible[i]) continue;
    v->sorted.push_back(static_cast<int32_t>(i));
    const auto byte = static_cast<unsigned char>(v->bytes[i][0]);
    if (v->bytes[i].size() == 1 && v->byte_token[byte] < 0) v->byte_token[byte] = static_cast<int32_t>(i);
  }
  v->by_bytes.reserve(v->sorted.size());
  for (size_t i = 0; i < n; ++i) {
    if (!v->eligible[i]) continue;
    v->by_bytes.emplace(std::string_view(v->bytes[i]), static_cast<int32_t>(i));  // keeps the lowest id
    v->max_token_bytes = std::max(v->max_token_bytes, v->bytes[i].size());
  }
  std::sort(v->sorted.begin(), v->sorted.end(),
            [&](int32_t a, int32_t b) { return v->bytes[a] < v->bytes[b]; });
  v->shared.assign(v->sorted.size(), 0);
  v->rank.assign(n, 0);
  for (size_t i = 0; i < v->sorted.size(); ++i) {
    v->rank[v->sorted[i]] = static_cast<uint32_t>(i);
    if ((static_cast<unsigned char>(v->bytes[v->sorted[i]][0]) & 0xC0) == 0x80) {
      v->continuation.push_back(static_cast<uint32_t>(i));
    }
    if (i == 0) continue;
    const std::string& a = v->bytes[v->sorted[i - 1]];
    const std::string& b = v->bytes[v->sorted[i]];
    const size_t m = std::min(a.size(), b.size());
    size_t k = 0;
    while (k < m && a[k] == b[k]) ++k;
    v->shared[i] = static_cast<uint32_t>(k);
  }
  return v;
}

int64_t vocabulary_size(const TokenVocabulary& vocabulary) { return vocabulary.size(); }

int64_t TokenVocabulary::fewest_tokens(std::string_view text, std::vector<int32_t>* first) const {
  // best[i]: fewest tokens spelling text[i..]; -1 unreachable. O(|text| * max_token_bytes) lookups.
  constexpr int64_t kNone = -1;
  std::vector<int64_t> best(text.size() + 1, kNone);
  best[text.size()] = 0;
  for (size_t i = text.size(); i-- > 0;) {
    const size_t longest = std::min(max_token_bytes, text.size() - i);
    for (size_t len = 1; len <= longest; ++len) {
      // Stop at the first length no token starts with (the sorted tokens say).
      const std::string_view piece = text.substr(i, len);
      const auto at = std::lower_bound(sorted.begin(), sorted.end(), piece,
                                       [&](int32_t id, std::string_view p) { return std::string_view(bytes[id]) < p; });
      if (at == sorted.end() || std::string_view(bytes[*at]).substr(0, len) != piece) break;
      if (best[i + len] == kNone || by_bytes.find(piece) == by_bytes.end()) continue;
      if (best[i] == kNone || best[i + len] + 1 < best[i]) best[i] = best[i + len] + 1;
    }
  }
  if (first != nullptr) {
    first->clear();
    for (size_t len = 1; best[0] > 0 && len <= std::min(max_token_bytes, text.size()); ++len) {
      const auto it = by_bytes.find(text.substr(0, len));
      if (it != by_bytes.end() && best[len] != kNone && best[len] + 1 == best[0]) first->push_back(it->second);
    }
  }
  return best[0];
}

}  // namespace kvs::grammar
