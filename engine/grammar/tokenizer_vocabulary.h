#pragma once
// The TokenVocabulary of a loaded tokenizer: what every front end (HTTP,
// gRPC), test and benchmark binds its grammars to.
#include <memory>

#include "engine/grammar/token_vocabulary.h"
#include "engine/tokenizer/tokenizer.h"

namespace kvs::grammar {

// Every id's bytes (Tokenizer::token_bytes); special / control tokens and the
// end-of-generation ids are never allowed by a mask (EngineCore allows a
// request's stop ids itself when the output can end). Cost: one pass over the
// vocabulary; call once per model and share the result.
std::shared_ptr<const TokenVocabulary> token_vocabulary_of(const Tokenizer& tokenizer);

}  // namespace kvs::grammar
