// Reader for the IDX file format used by MNIST and Fashion-MNIST (raw or gzip-compressed).
// Every header field is validated before any payload memory is allocated, so a corrupt or
// hostile file produces a DataError that names the file instead of a crash or a huge allocation.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ffb::data {

// Thrown for every problem with data on disk or with dataset parameters; the message names the
// file (where there is one) and says what the user can do about it.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One IDX array as stored on disk: element type code, dimensions (outermost first) and the raw
// payload bytes in file order. Only unsigned-byte elements (type code 0x08) are accepted.
struct IdxArray {
  uint8_t type_code = 0;
  std::vector<uint32_t> dims;
  std::vector<uint8_t> bytes;
};

// Reads a raw or gzip-compressed IDX file; gzip is recognised by its magic bytes (1f 8b), not by
// the file name. Payloads larger than max_bytes are rejected before allocation.
IdxArray read_idx(const std::string& path, uint64_t max_bytes = 1ull << 31);

// Images and labels of one split, flattened for training: x is n*d row-major, y holds n labels
// in [0, k).
struct LabeledImages {
  int64_t n = 0;
  int64_t d = 0;
  std::vector<float> x;
  std::vector<int32_t> y;
  int k = 0;
};

// Loads an image file (3-D: n x rows x cols, or 2-D: n x d) and its 1-D label file, checks that
// they agree and that every label is below num_classes, and scales pixels by `scale`.
LabeledImages load_idx_pair(const std::string& images_path, const std::string& labels_path,
                            int num_classes, float scale = 1.0f / 255.0f);

}  // namespace ffb::data
