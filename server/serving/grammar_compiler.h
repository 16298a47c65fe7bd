#pragma once
// Output constraints (issue 23) compiled at the server edge: the served
// model's token vocabulary, built once, and a small LRU cache of compiled
// grammars keyed by their GBNF text, so requests that repeat a schema share
// one CompiledGrammar and its warm token-mask caches. Both front ends (HTTP
// and gRPC) compile through here. The vocabulary is the served model's
// (grammar::token_vocabulary_of, built once at start-up).
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/grammar/constraint.h"
#include "engine/grammar/grammar_matcher.h"
#include "engine/grammar/token_vocabulary.h"

namespace kvs {

// Thread-safe: any front-end thread may compile at once (a mutex guards the
// cache; parsing runs outside it, so two threads may compile the same new
// text at once and the second result is dropped).
class GrammarCompiler {
 public:
  static constexpr size_t kDefaultCapacity = 64;
  GrammarCompiler(std::shared_ptr<const grammar::TokenVocabulary> vocabulary, size_t capacity = kDefaultCapacity);

  // GBNF text (start rule "root") -> a grammar bound to the vocabulary; the
  // cached one when this text was compiled lately. Throws kvs::InvalidArgument
  // (parse_gbnf's message) when it does not compile; failures are not cached.
  std::shared_ptr<const grammar::CompiledGrammar> compile_gbnf(const std::string& gbnf);

  size_t size() const;                     // grammars cached now (<= capacity)
  uint64_t num_hits() const;               // compile_gbnf answered from the cache
  const grammar::TokenVocabulary& vocabulary() const { return *vocabulary_; }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const grammar::CompiledGrammar>>;
  std::shared_ptr<const grammar::TokenVocabulary> vocabulary_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  uint64_t num_hits_ = 0;
};

// A request's constraint -> its compiled grammar (constraint_to_gbnf, then
// compile_gbnf). Throws ApiError 400 whose param is `param` (the request field
// it came from) and whose message is the compiler's when it cannot be compiled.
std::shared_ptr<const grammar::CompiledGrammar> compile_constraint(GrammarCompiler& compiler,
                                                                  const grammar::ConstraintSpec& spec,
                                                                  const std::string& param);

}  // namespace kvs
