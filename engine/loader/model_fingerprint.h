#pragma once
// A content fingerprint of a model's files: what a cache entry computed by
// this model is keyed by outside the process (the prefix cache's disk tier),
// so entries survive restarts and never serve another model.
#include <string>

namespace kvs {

// SHA-256 (hex) over the files that make up the model at `path`: a GGUF file
// (weights, tokenizer and config are all in it), or every regular file of a
// Hugging Face folder (safetensors, config, tokenizer, chat template), by
// name order, each as name, size and bytes. Reads every byte (about a second
// per gigabyte). Throws kvs::Error when a file cannot be read.
std::string model_fingerprint(const std::string& path);

// SHA-256 (hex) of `text`.
std::string sha256_hex(const std::string& text);

}  // namespace kvs
