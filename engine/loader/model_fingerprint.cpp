#include "engine/loader/model_fingerprint.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "engine/errors.h"

namespace kvs {
namespace {

using DigestContext = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

DigestContext new_sha256() {
  DigestContext context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) throw Error("SHA-256 unavailable");
  return context;
}

void update(EVP_MD_CTX* context, const void* data, size_t bytes) {
  if (EVP_DigestUpdate(context, data, bytes) != 1) throw Error("SHA-256 update failed");
}

std::string finish_hex(EVP_MD_CTX* context) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context, digest.data(), &length) != 1) throw Error("SHA-256 final failed");
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

void hash_file(EVP_MD_CTX* context, const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error("cannot read " + file.string() + " to fingerprint the model");
  const std::string name = file.filename().string();
  const auto size = static_cast<uint64_t>(std::filesystem::file_size(file));
  update(context, name.data(), name.size() + 1);  // with its terminating zero
  update(context, &size, sizeof size);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) update(context, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (!in.eof()) throw Error("error reading " + file.string() + " to fingerprint the model");
}

}  // namespace

std::string model_fingerprint(const std::string& path) {
  namespace fs = std::filesystem;
  DigestContext context = new_sha256();
  std::error_code error;
  if (fs::is_directory(path, error)) {
    std::vector<fs::path> files;
    for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) hash_file(context.get(), file);
  } else {
    hash_file(context.get(), path);
  }
  return finish_hex(context.get());
}

std::string sha256_hex(const std::string& text) {
  DigestContext context = new_sha256();
  update(context.get(), text.data(), text.size());
  return finish_hex(context.get());
}

}  // namespace kvs
