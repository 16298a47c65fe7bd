#include "engine/tokenizer/end_of_generation.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <unordered_map>
#include <vector>

namespace kvs {
namespace {

using Names = std::initializer_list<const char*>;

const Names kEotNames = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                         "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                         "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
const Names kEomNames = {"<|eom_id|>"};
const Names kFimPadNames = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
const Names kFimRepNames = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
const Names kFimSepNames = {"<|file_sep|>"};
// Not end markers, but llama.cpp makes them Control as well.
const Names kFimPreNames = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>",
                            "▁<PRE>", "<|code_prefix|>", "<|prefix|>"};
const Names kFimSufNames = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>",
                            "▁<SUF>", "<|code_suffix|>", "<|suffix|>"};
const Names kFimMidNames = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
                            "▁<MID>", "<|code_middle|>", "<|middle|>"};
const Names kEogNames = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                         "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                         "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                         "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["};

class Finder {
 public:
  Finder(const TokenizerSpec& spec, bool added_tokens_only) {
    for (size_t id = spec.tokens.size(); id-- > 0;) {
      const TokenType type = id < spec.token_types.size() ? spec.token_types[id] : TokenType::Normal;
      const bool added = type == TokenType::Control || type == TokenType::UserDefined || type == TokenType::Unknown;
      if (added || !added_tokens_only) ids_[spec.tokens[id]] = static_cast<int32_t>(id);
    }
  }
  // Lowest id of the first listed spelling present, or -1.
  int32_t first_of(const Names& names) const {
    int32_t best = -1;
    for (const char* name : names) {
      const auto it = ids_.find(name);
      if (it != ids_.end() && (best < 0 || it->second < best)) best = it->second;
    }
    return best;
  }
  int32_t id_of(const char* name) const {
    const auto it = ids_.find(name);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  std::unordered_map<std::string, int32_t> ids_;  // spelling -> lowest id
};

}  // namespace

void assign_end_of_generation_ids(TokenizerSpec& spec, const EndOfGenerationHints& hints,
                                  EndOfGenerationRule rule) {
  const Finder finder(spec, rule == EndOfGenerationRule::AddedTokensOnly);
  const auto n = static_cast<int32_t>(spec.tokens.size());
  auto in_range = [n](int32_t id) { return id >= 0 && id < n; };
  std::vector<int32_t> by_spelling;
  auto resolve = [&](int32_t hinted, const Names& names) {
    if (in_range(hinted)) return hinted;
    const int32_t found = finder.first_of(names);
    if (found >= 0) by_spelling.push_back(found);
    return found;
  };
  const int32_t eot = resolve(hints.eot_id, kEotNames);
  const int32_t eom = resolve(hints.eom_id, kEomNames);
  std::vector<int32_t> eog = {resolve(hints.fim_pad_id, kFimPadNames), resolve(hints.fim_rep_id, kFimRepNames),
                              resolve(hints.fim_sep_id, kFimSepNames), spec.eos_id, eot, eom};
  for (const char* name : kEogNames) {
    const int32_t id = finder.id_of(name);
    if (id >= 0) {
      eog.push_back(id);
      by_spelling.push_back(id);
    }
  }
  eog.erase(std::remove_if(eog.begin(), eog.end(), [&](int32_t id) { return !in_range(id); }), eog.end());
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

  auto has = [&](const char* name) {
    const int32_t id = finder.id_of(name);
    return id >= 0 && std::binary_search(eog.begin(), eog.end(), id);
  };
  auto drop = [&](const char* name) {
    const int32_t id = finder.id_of(name);
    eog.erase(std::remove(eog.begin(), eog.end(), id), eog.end());
  };
  // NOTE: llama.cpp's exceptions: harmony / solar-open use "<|end|>" inside a
  // turn, and gemma4 / plamo have an ordinary "</s>".
  const bool has_call = has("<|call|>") || has("<|calls|>");
  if (has("<|end|>") && ((has("<|return|>") && has_call) || (has_call && has("<|flush|>")))) drop("<|end|>");
  if (has("</s>") && (has("<|tool_response>") || has("<|plamo:eos|>"))) drop("</s>");

  spec.eog_ids = eog;
  if (rule == EndOfGenerationRule::LlamaCpp) {
    for (const Names* names : {&kFimPreNames, &kFimSufNames, &kFimMidNames}) {
      const int32_t id = finder.first_of(*names);
      if (id >= 0) by_spelling.push_back(id);
    }
    for (int32_t id : by_spelling) {
      if (static_cast<size_t>(id) < spec.token_types.size()) spec.token_types[id] = TokenType::Control;
    }
  }
}

}  // namespace kvs
