#include "server/serving/grammar_compiler.h"

#include <algorithm>
#include <utility>

#include "engine/errors.h"
#include "engine/grammar/grammar.h"
#include "server/api/api_error.h"

namespace kvs {

GrammarCompiler::GrammarCompiler(std::shared_ptr<const grammar::TokenVocabulary> vocabulary, size_t capacity)
    : vocabulary_(std::move(vocabulary)), capacity_(std::max<size_t>(capacity, 1)) {}

std::shared_ptr<const grammar::CompiledGrammar> GrammarCompiler::compile_gbnf(const std::string& gbnf) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = index_.find(gbnf);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++num_hits_;
      return it->second->second;
    }
  }
  // NOTE: outside the lock: a big grammar must not hold up requests that hit the cache.
  auto compiled = std::make_shared<const grammar::CompiledGrammar>(grammar::parse_gbnf(gbnf), vocabulary_);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(gbnf);
  if (it != index_.end()) {  // another thread compiled it meanwhile: share theirs
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }
  lru_.emplace_front(gbnf, compiled);
  index_.emplace(gbnf, lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return compiled;
}

size_t GrammarCompiler::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

uint64_t GrammarCompiler::num_hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return num_hits_;
}

std::shared_ptr<const grammar::CompiledGrammar> compile_constraint(GrammarCompiler& compiler,
                                                                  const grammar::ConstraintSpec& spec,
                                                                  const std::string& param) {
  try {
    return compiler.compile_gbnf(grammar::constraint_to_gbnf(spec));
  } catch (const InvalidArgument& e) {
    throw ApiError(400, "'" + param + "' cannot be compiled: " + e.what(), param);
  }
}

}  // namespace kvs
