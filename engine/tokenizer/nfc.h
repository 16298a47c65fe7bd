#pragma once
// Unicode NFC normalization (ICU), as HF's "NFC" normalizer does it.
#include <string>
#include <string_view>

namespace kvs {

// `text` must be valid UTF-8. Returns its NFC form; text that is already NFC
// (all ASCII, most real text) is returned unchanged without a copy through ICU.
// Thread-safe. Throws kvs::Error if ICU cannot load its normalization data.
std::string normalize_nfc(std::string_view text);

}  // namespace kvs
