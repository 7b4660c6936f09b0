// IDX reader: validates the header of a raw or gzip IDX file before allocating its payload,
// and turns an image/label file pair into float inputs and integer labels.
#include "datasets/idx.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

namespace ffb::data {
namespace {

constexpr uint8_t kUnsignedByteType = 0x08;
constexpr unsigned kMaxDims = 4;
constexpr uint64_t kMagicBytes = 4;
constexpr const char* kRefetchHint = "re-run scripts/fetch_data.sh";

std::string idx_type_name(uint8_t code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
  }
}

// Returns false instead of wrapping, so a crafted header cannot make the size look small.
bool checked_multiply(uint64_t a, uint64_t b, uint64_t& product) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  product = a * b;
  return true;
}

uint32_t read_big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string format_dims(const std::vector<uint32_t>& dims) {
  std::string text;
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? " x " : "") + std::to_string(dims[i]);
  return text;
}

struct IdxHeader {
  uint8_t type_code = 0;
  std::vector<uint32_t> dims;
  uint64_t header_bytes = 0;
  uint64_t payload_bytes = 0;
};

// Reads and validates the header through `read_up_to(buffer, count) -> bytes read`, which only
// returns fewer bytes than asked at the end of the data. Nothing here allocates more than the
// 16 bytes a header can hold, whatever the file claims.
template <class ReadUpTo>
IdxHeader read_header(const std::string& path, uint64_t max_bytes, ReadUpTo&& read_up_to) {
  std::array<uint8_t, kMagicBytes> magic{};
  const uint64_t magic_read = read_up_to(magic.data(), magic.size());
  if (magic_read < magic.size()) {
    throw DataError(fmt::format(
        "'{}': file ends after {} bytes, inside the 4-byte IDX magic: truncated; {}", path,
        magic_read, kRefetchHint));
  }
  if (magic[0] != 0 || magic[1] != 0) {
    throw DataError(fmt::format(
        "'{}': bad magic {:02x} {:02x} {:02x} {:02x}: not an IDX file (IDX starts with two zero "
        "bytes, a type code and a dimension count); {}",
        path, magic[0], magic[1], magic[2], magic[3], kRefetchHint));
  }
  IdxHeader header;
  header.type_code = magic[2];
  if (header.type_code != kUnsignedByteType) {
    throw DataError(fmt::format(
        "'{}': element type 0x{:02X} ({}) is not supported; only 0x08 ubyte (unsigned byte) "
        "is supported",
        path, header.type_code, idx_type_name(header.type_code)));
  }
  const unsigned ndims = magic[3];
  if (ndims < 1 || ndims > kMaxDims) {
    throw DataError(fmt::format(
        "'{}': bad magic: header declares {} dimensions, expected 1 to {}; the file is corrupt "
        "({})",
        path, ndims, kMaxDims, kRefetchHint));
  }

  std::array<uint8_t, 4 * kMaxDims> dim_bytes{};
  const uint64_t dim_bytes_wanted = 4ull * ndims;
  const uint64_t dim_bytes_read = read_up_to(dim_bytes.data(), dim_bytes_wanted);
  if (dim_bytes_read < dim_bytes_wanted) {
    throw DataError(fmt::format(
        "'{}': file ends inside the header ({} of {} dimension bytes present): truncated; {}",
        path, dim_bytes_read, dim_bytes_wanted, kRefetchHint));
  }
  header.header_bytes = kMagicBytes + dim_bytes_wanted;

  uint64_t payload = 1;  // one byte per element, since only ubyte is accepted
  for (unsigned i = 0; i < ndims; ++i) {
    header.dims.push_back(read_big_endian_u32(dim_bytes.data() + 4 * i));
    if (!checked_multiply(payload, header.dims.back(), payload)) {
      throw DataError(fmt::format(
          "'{}': dimensions {} overflow a 64-bit size; the header is corrupt ({})", path,
          format_dims(header.dims), kRefetchHint));
    }
  }
  // Checked before the shape is used anywhere, so a corrupt size never reaches an allocator.
  if (payload > max_bytes) {
    throw DataError(fmt::format(
        "'{}': dimensions {} need {} bytes, more than the limit of {} bytes; the header is "
        "corrupt or the file is not the dataset expected",
        path, format_dims(header.dims), payload, max_bytes));
  }
  header.payload_bytes = payload;
  return header;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

[[noreturn]] void throw_gzip_error(const std::string& path, const char* zlib_message) {
  std::string detail = zlib_message ? zlib_message : "unknown error";
  // gzerror prefixes the path itself; our message already starts with it.
  const std::string zlib_prefix = path + ": ";
  if (detail.starts_with(zlib_prefix)) detail.erase(0, zlib_prefix.size());
  throw DataError(fmt::format("'{}': corrupt gzip stream (zlib: {}); delete the file and {}",
                              path, detail, kRefetchHint));
}

// A short gzread is either the clean end of the data or a damaged stream; only zlib's error
// state tells them apart, so every short or final read ends up here.
void check_gzip_state(gzFile file, const std::string& path) {
  int zlib_error = Z_OK;
  const char* message = gzerror(file, &zlib_error);
  if (zlib_error != Z_OK) throw_gzip_error(path, message);
}

uint64_t gzip_read_up_to(gzFile file, uint8_t* out, uint64_t count, const std::string& path) {
  // gzread takes an unsigned length and returns an int, so large payloads go in chunks.
  constexpr uint64_t kMaxChunk = 1ull << 30;
  uint64_t done = 0;
  while (done < count) {
    const auto chunk = static_cast<unsigned>(std::min(count - done, kMaxChunk));
    const int got = gzread(file, out + done, chunk);
    if (got < 0) check_gzip_state(file, path);
    if (got <= 0) break;
    done += static_cast<uint64_t>(got);
  }
  if (done < count) check_gzip_state(file, path);
  return done;
}

IdxArray read_gzip_idx(const std::string& path, uint64_t max_bytes) {
  GzHandle file(gzopen(path.c_str(), "rb"));
  if (!file) {
    throw DataError(fmt::format("'{}': cannot open for reading: {}", path, std::strerror(errno)));
  }
  gzbuffer(file.get(), 1u << 16);
  const IdxHeader header = read_header(path, max_bytes, [&](uint8_t* out, uint64_t count) {
    return gzip_read_up_to(file.get(), out, count, path);
  });

  IdxArray array{header.type_code, header.dims, {}};
  array.bytes.resize(header.payload_bytes);
  const uint64_t got = gzip_read_up_to(file.get(), array.bytes.data(), header.payload_bytes, path);
  if (got < header.payload_bytes) {
    throw DataError(fmt::format(
        "'{}': decompressed data is {} bytes, header says {}: truncated; {}", path,
        header.header_bytes + got, header.header_bytes + header.payload_bytes, kRefetchHint));
  }
  // Reading one byte past the payload also makes zlib verify the gzip trailer (CRC and length).
  uint8_t extra = 0;
  const int extra_read = gzread(file.get(), &extra, 1);
  if (extra_read < 0) check_gzip_state(file.get(), path);
  if (extra_read > 0) {
    throw DataError(fmt::format(
        "'{}': decompressed data continues after the {}-byte array the header describes: "
        "trailing bytes; the file is not a single IDX array ({})",
        path, header.header_bytes + header.payload_bytes, kRefetchHint));
  }
  check_gzip_state(file.get(), path);
  const int close_status = gzclose(file.release());
  if (close_status != Z_OK) throw_gzip_error(path, zError(close_status));
  return array;
}

IdxArray read_raw_idx(const std::string& path, uint64_t max_bytes, uint64_t file_bytes) {
  FileHandle file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    throw DataError(fmt::format("'{}': cannot open for reading: {}", path, std::strerror(errno)));
  }
  auto read_up_to = [&](uint8_t* out, uint64_t count) -> uint64_t {
    const size_t got = std::fread(out, 1, count, file.get());
    if (got < count && std::ferror(file.get())) {
      throw DataError(fmt::format("'{}': read failed: {}", path, std::strerror(errno)));
    }
    return got;
  };
  const IdxHeader header = read_header(path, max_bytes, read_up_to);

  // Comparing sizes before allocating means a truncated download fails fast with a clear message.
  const uint64_t expected = header.header_bytes + header.payload_bytes;
  if (file_bytes < expected) {
    throw DataError(fmt::format("'{}': file is {} bytes, header says {}: truncated; {}", path,
                                file_bytes, expected, kRefetchHint));
  }
  if (file_bytes > expected) {
    throw DataError(fmt::format(
        "'{}': file is {} bytes, header says {}: {} trailing bytes; the file is not a single IDX "
        "array ({})",
        path, file_bytes, expected, file_bytes - expected, kRefetchHint));
  }
  IdxArray array{header.type_code, header.dims, {}};
  array.bytes.resize(header.payload_bytes);
  const uint64_t got = read_up_to(array.bytes.data(), header.payload_bytes);
  if (got < header.payload_bytes) {  // the file shrank while we were reading it
    throw DataError(fmt::format("'{}': file is {} bytes, header says {}: truncated; {}", path,
                                header.header_bytes + got, expected, kRefetchHint));
  }
  return array;
}

bool starts_with_gzip_magic(const std::string& path) {
  FileHandle file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    throw DataError(fmt::format("'{}': cannot open for reading: {}", path, std::strerror(errno)));
  }
  std::array<uint8_t, 2> lead{};
  const size_t got = std::fread(lead.data(), 1, lead.size(), file.get());
  return got == lead.size() && lead[0] == 0x1f && lead[1] == 0x8b;
}

}  // namespace

IdxArray read_idx(const std::string& path, uint64_t max_bytes) {
  namespace fs = std::filesystem;
  std::error_code status_error;
  const fs::file_status status = fs::status(path, status_error);
  if (!fs::exists(status)) {
    throw DataError(fmt::format(
        "'{}' does not exist; run scripts/fetch_data.sh to download the datasets (or set "
        "FFBENCH_DATA to the directory that holds them)",
        path));
  }
  if (!fs::is_regular_file(status)) {
    throw DataError(fmt::format("'{}' is not a regular file; expected an IDX file", path));
  }
  if (starts_with_gzip_magic(path)) return read_gzip_idx(path, max_bytes);

  const uint64_t file_bytes = fs::file_size(path, status_error);
  if (status_error) {
    throw DataError(
        fmt::format("'{}': cannot determine file size: {}", path, status_error.message()));
  }
  return read_raw_idx(path, max_bytes, file_bytes);
}

LabeledImages load_idx_pair(const std::string& images_path, const std::string& labels_path,
                            int num_classes, float scale) {
  if (num_classes < 1) {
    throw DataError(fmt::format("num_classes must be at least 1 (got {}) when loading '{}'",
                                num_classes, labels_path));
  }
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 2 && images.dims.size() != 3) {
    throw DataError(fmt::format(
        "'{}': image file has {} dimensions ({}); expected 3 (count x rows x cols) or 2 (count x "
        "features). Is this a label file?",
        images_path, images.dims.size(), format_dims(images.dims)));
  }
  if (labels.dims.size() != 1) {
    throw DataError(fmt::format(
        "'{}': label file has {} dimensions ({}); expected 1 (count). Is this an image file?",
        labels_path, labels.dims.size(), format_dims(labels.dims)));
  }
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(fmt::format(
        "count mismatch: '{}' holds {} images but '{}' holds {} labels; both files must come "
        "from the same split ({})",
        images_path, images.dims[0], labels_path, labels.dims[0], kRefetchHint));
  }

  LabeledImages out;
  out.n = images.dims[0];
  out.d = 1;
  for (size_t i = 1; i < images.dims.size(); ++i) out.d *= images.dims[i];
  out.k = num_classes;

  out.y.resize(static_cast<size_t>(out.n));
  for (int64_t i = 0; i < out.n; ++i) {
    const int32_t label = labels.bytes[static_cast<size_t>(i)];
    if (label >= num_classes) {
      throw DataError(fmt::format(
          "'{}': label at index {} is {}, out of range for {} classes; the file does not belong "
          "to this dataset or is corrupt ({})",
          labels_path, i, label, num_classes, kRefetchHint));
    }
    out.y[static_cast<size_t>(i)] = label;
  }

  out.x.resize(images.bytes.size());
  std::transform(images.bytes.begin(), images.bytes.end(), out.x.begin(),
                 [scale](uint8_t pixel) { return static_cast<float>(pixel) * scale; });
  return out;
}

}  // namespace ffb::data
