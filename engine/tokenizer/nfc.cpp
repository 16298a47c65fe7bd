#include "engine/tokenizer/nfc.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "engine/errors.h"

namespace kvs {
namespace {

const icu::Normalizer2& load_nfc_instance() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* instance = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || instance == nullptr) {
    throw Error(std::string("ICU NFC normalizer unavailable: ") + u_errorName(status));
  }
  return *instance;
}

// NOTE: ICU initializes its singleton thread-safely; the function-local static
// also makes that ordering visible to ThreadSanitizer (ICU is not instrumented).
const icu::Normalizer2& nfc_instance() {
  static const icu::Normalizer2& instance = load_nfc_instance();
  return instance;
}

}  // namespace

std::string normalize_nfc(std::string_view text) {
  bool ascii = true;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(text);

  const icu::Normalizer2& nfc = nfc_instance();
  const icu::UnicodeString source =
      icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  if (nfc.isNormalized(source, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString normalized = nfc.normalize(source, status);
  if (U_FAILURE(status)) throw Error(std::string("NFC normalization failed: ") + u_errorName(status));
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

}  // namespace kvs
