// Dictionary and train_dictionary() (see dictionary.h).
//
// ZSTD_createCDict_byReference, ZSTD_createDDict_byReference and the fastCover trainer sit behind
// zstd's and ZDICT's *_STATIC_LINKING_ONLY, but Debian's shared libzstd exports them (they are
// ordinary entry points of the library, not inline code); dictionary_test proves they work with
// the library we link.
#define ZSTD_STATIC_LINKING_ONLY
#define ZDICT_STATIC_LINKING_ONLY

#include "codec/dictionary.h"

#include <zdict.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <utility>

#include <zstd.h>
#include <zstd_errors.h>

#include "base/check.h"
#include "codec/block_parameters.h"

namespace zsfs::codec {

Result<std::unique_ptr<Dictionary>> Dictionary::create(std::span<const std::byte> bytes,
                                                       std::span<const int> levels) {
  if (bytes.size() < kMinDictionaryBytes || bytes.size() > kMaxDictionaryBytes) {
    return Errno{EINVAL};
  }
  std::unique_ptr<Dictionary> dict(new (std::nothrow) Dictionary());
  if (dict == nullptr) return Errno{ENOMEM};
  dict->bytes_.assign(bytes.begin(), bytes.end());
  const void* content = dict->bytes_.data();
  const size_t size = dict->bytes_.size();

  // A dictionary with a header must parse: zstd checks its entropy tables when digesting it for
  // decompression (a raw-content dictionary, with no header, always loads).
  dict->ddict_ = ZSTD_createDDict_byReference(content, size);
  if (dict->ddict_ == nullptr) return Errno{EINVAL};
  dict->dict_id_ = ZSTD_getDictID_fromDDict(dict->ddict_);
  dict->memory_bytes_ = sizeof(Dictionary) + size + ZSTD_sizeof_DDict(dict->ddict_);
  Result<Forms> forms = dict->make_compression_forms(levels);
  if (!forms.ok()) return Errno{forms.error()};
  dict->adopt_compression_forms(std::move(*forms));
  return dict;
}

Dictionary::~Dictionary() {
  for (const LevelForm& form : cdicts_)
    ZSTD_freeCDict(form.cdict);
  ZSTD_freeDDict(ddict_);
}

size_t Dictionary::drop_compression_forms() {
  size_t freed = 0;
  for (const LevelForm& form : cdicts_) {
    freed += ZSTD_sizeof_CDict(form.cdict);
    ZSTD_freeCDict(form.cdict);
  }
  cdicts_.clear();
  memory_bytes_ -= freed;
  return freed;
}

Dictionary::Forms::Forms(Forms&& other) noexcept
    : forms_(std::move(other.forms_)), bytes_(std::exchange(other.bytes_, 0)) {
  other.forms_.clear();
}

Dictionary::Forms& Dictionary::Forms::operator=(Forms&& other) noexcept {
  if (this != &other) {
    for (const LevelForm& form : forms_)
      ZSTD_freeCDict(form.cdict);
    forms_ = std::move(other.forms_);
    other.forms_.clear();
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

Dictionary::Forms::~Forms() {
  for (const LevelForm& form : forms_)
    ZSTD_freeCDict(form.cdict);
}

Result<Dictionary::Forms> Dictionary::make_compression_forms(std::span<const int> levels) const {
  for (int level : levels) {
    if (level < min_level() || level > max_level()) return Errno{EINVAL};
  }
  Forms made;
  try {
    made.forms_.reserve(levels.size());
  } catch (const std::bad_alloc&) {
    return Errno{ENOMEM};
  }
  for (int level : levels) {
    if (std::any_of(made.forms_.begin(), made.forms_.end(),
                    [level](const LevelForm& form) { return form.level == level; })) {
      continue;  // a level named twice is digested once
    }
    ZSTD_CDict* form =
        ZSTD_createCDict_advanced(bytes_.data(), bytes_.size(), ZSTD_dlm_byRef, ZSTD_dct_auto,
                                  zsfs_block_parameters(level, bytes_.size()), ZSTD_defaultCMem);
    if (form == nullptr) return Errno{ENOMEM};  // made frees what it holds
    made.forms_.push_back({level, form});       // reserved: cannot throw
    made.bytes_ += ZSTD_sizeof_CDict(form);
  }
  return made;
}

size_t Dictionary::adopt_compression_forms(Forms forms) {
  size_t added = 0;
  // If the list cannot grow, nothing is adopted: `forms` frees them all.
  try {
    cdicts_.reserve(cdicts_.size() + forms.forms_.size());
  } catch (const std::bad_alloc&) {
    return 0;
  }
  for (const LevelForm& form : forms.forms_) {
    if (cdict(form.level) != nullptr) {
      ZSTD_freeCDict(form.cdict);
      continue;
    }
    cdicts_.push_back(form);  // reserved: cannot throw
    added += ZSTD_sizeof_CDict(form.cdict);
  }
  forms.forms_.clear();  // every form is freed or adopted
  forms.bytes_ = 0;
  memory_bytes_ += added;
  return added;
}

const ZSTD_CDict* Dictionary::cdict(int level) const {
  auto it = std::find_if(cdicts_.begin(), cdicts_.end(),
                         [level](const LevelForm& form) { return form.level == level; });
  return it == cdicts_.end() ? nullptr : it->cdict;
}

Result<std::vector<std::byte>> train_dictionary(std::span<const std::byte> samples,
                                                size_t max_bytes, int level) {
  if (max_bytes < kMinDictionaryBytes || max_bytes > kMaxDictionaryBytes ||
      samples.size() % kBlockSize != 0 || level < min_level() || level > max_level()) {
    return Errno{EINVAL};
  }
  const size_t nr_samples = samples.size() / kBlockSize;
  std::vector<size_t> sizes;
  std::vector<std::byte> dict;
  try {
    sizes.assign(nr_samples, kBlockSize);
    dict.resize(max_bytes);
  } catch (const std::bad_alloc&) {
    return Errno{ENOMEM};
  }
  ZDICT_fastCover_params_t params{};
  // fastCover's segment (k) and d-mer (d) sizes: 50 and 8 trained on kernel source as well as
  // the trainer's own search of k and d did (see dictionary.h); f and accel are zstd's defaults.
  params.k = 50;
  params.d = 8;
  params.f = 20;
  params.accel = 1;
  params.nbThreads = 1;
  params.zParams.compressionLevel = level;
  // The trainer keeps its log to itself (notificationLevel 0).
  const size_t result =
      ZDICT_trainFromBuffer_fastCover(dict.data(), dict.size(), samples.data(), sizes.data(),
                                      static_cast<unsigned>(nr_samples), params);
  if (ZDICT_isError(result)) {
    // ZDICT reports zstd's error codes: an allocation failure as such; anything else here means
    // samples too few or too alike to train on.
    return Errno{ZSTD_getErrorCode(result) == ZSTD_error_memory_allocation ? ENOMEM : EINVAL};
  }
  dict.resize(result);
  dict.shrink_to_fit();
  return dict;
}

}  // namespace zsfs::codec
