// Tests for the IDX reader: valid raw and gzip files load, and every kind of damaged file fails
// with a DataError whose message says what is wrong (and never with a crash or huge allocation).
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/rng.hpp"
#include "datasets/idx.hpp"

namespace fs = std::filesystem;
using ffb::data::DataError;
using ffb::data::IdxArray;
using ffb::data::load_idx_pair;
using ffb::data::read_idx;

namespace {

// A fresh directory per test, removed afterwards, so tests can run in parallel processes.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("ffb_test_idx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<uint8_t> idx_bytes(uint8_t type_code, const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out = {0, 0, type_code, static_cast<uint8_t>(dims.size())};
  for (uint32_t dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(dim >> shift));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> counting_payload(size_t count) {
  std::vector<uint8_t> payload(count);
  for (size_t i = 0; i < count; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 1);
  return payload;
}

std::vector<uint8_t> random_payload(size_t count, uint64_t seed) {
  ffb::Rng rng(seed);
  std::vector<uint8_t> payload(count);
  for (auto& byte : payload) byte = static_cast<uint8_t>(rng.below(256));
  return payload;
}

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `action`, requires that it throws DataError, and returns the message for phrase checks.
template <class Action>
std::string data_error_message(Action&& action) {
  try {
    action();
  } catch (const DataError& error) {
    return error.what();
  }
  FAIL("expected a DataError, but nothing was thrown");
  return {};
}

using Catch::Matchers::Contains;

}  // namespace

TEST_CASE("valid raw IDX file loads with its dimensions and payload", "[idx]") {
  TempDir dir;
  const auto payload = counting_payload(3 * 2 * 4);
  write_raw(dir.file("images"), idx_bytes(0x08, {3, 2, 4}, payload));

  const IdxArray array = read_idx(dir.file("images"));
  CHECK(array.type_code == 0x08);
  CHECK(array.dims == std::vector<uint32_t>{3, 2, 4});
  CHECK(array.bytes == payload);
}

TEST_CASE("valid gzip IDX file loads like the raw one", "[idx]") {
  TempDir dir;
  const auto payload = random_payload(5 * 28 * 28, 42);
  write_gzip(dir.file("images.gz"), idx_bytes(0x08, {5, 28, 28}, payload));

  const IdxArray array = read_idx(dir.file("images.gz"));
  CHECK(array.dims == std::vector<uint32_t>{5, 28, 28});
  CHECK(array.bytes == payload);
}

TEST_CASE("gzip is detected by content, not by file name", "[idx]") {
  TempDir dir;
  const auto payload = counting_payload(6);
  write_gzip(dir.file("compressed.idx"), idx_bytes(0x08, {6}, payload));
  write_raw(dir.file("plain.gz"), idx_bytes(0x08, {6}, payload));
  CHECK(read_idx(dir.file("compressed.idx")).bytes == payload);
  CHECK(read_idx(dir.file("plain.gz")).bytes == payload);
}

TEST_CASE("an empty array (a zero dimension) is valid", "[idx]") {
  TempDir dir;
  write_raw(dir.file("empty"), idx_bytes(0x08, {0, 28, 28}, {}));
  const IdxArray array = read_idx(dir.file("empty"));
  CHECK(array.dims == std::vector<uint32_t>{0, 28, 28});
  CHECK(array.bytes.empty());
}

TEST_CASE("load_idx_pair scales pixels and keeps labels", "[idx]") {
  TempDir dir;
  write_raw(dir.file("images"), idx_bytes(0x08, {2, 1, 3}, {0, 51, 255, 102, 153, 204}));
  write_gzip(dir.file("labels.gz"), idx_bytes(0x08, {2}, {9, 0}));

  const auto data = load_idx_pair(dir.file("images"), dir.file("labels.gz"), 10);
  CHECK(data.n == 2);
  CHECK(data.d == 3);
  CHECK(data.k == 10);
  CHECK(data.y == std::vector<int32_t>{9, 0});
  REQUIRE(data.x.size() == 6);
  CHECK(data.x[0] == 0.0f);
  CHECK(data.x[1] == Approx(0.2f));
  CHECK(data.x[2] == Approx(1.0f));
  CHECK(data.x[5] == Approx(0.8f));

  SECTION("2-D image files are accepted as count x features") {
    write_raw(dir.file("flat"), idx_bytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 6}));
    const auto flat = load_idx_pair(dir.file("flat"), dir.file("labels.gz"), 10, 1.0f);
    CHECK(flat.d == 3);
    CHECK(flat.x[5] == 6.0f);
  }
}

TEST_CASE("missing file names the path and points at the fetch script", "[idx]") {
  TempDir dir;
  const std::string path = dir.file("no-such-file");
  const std::string message = data_error_message([&] { read_idx(path); });
  CHECK_THAT(message, Contains(path));
  CHECK_THAT(message, Contains("does not exist"));
  CHECK_THAT(message, Contains("scripts/fetch_data.sh"));
}

TEST_CASE("bad magic is rejected", "[idx]") {
  TempDir dir;
  SECTION("non-zero leading bytes") {
    auto bytes = idx_bytes(0x08, {4}, counting_payload(4));
    bytes[0] = 0x50;  // e.g. a PNG or text file by mistake
    write_raw(dir.file("f"), bytes);
    const std::string message = data_error_message([&] { read_idx(dir.file("f")); });
    CHECK_THAT(message, Contains("bad magic"));
    CHECK_THAT(message, Contains(dir.file("f")));
  }
  SECTION("zero dimensions") {
    write_raw(dir.file("f"), {0, 0, 0x08, 0});
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("f")); }), Contains("bad magic"));
  }
  SECTION("more than four dimensions") {
    write_raw(dir.file("f"), idx_bytes(0x08, {1, 1, 1, 1, 1}, {7}));
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("f")); }), Contains("bad magic"));
  }
  SECTION("file shorter than the magic") {
    write_raw(dir.file("f"), {0, 0});
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("f")); }), Contains("truncated"));
  }
}

TEST_CASE("element types other than unsigned byte are rejected by name", "[idx]") {
  TempDir dir;
  write_raw(dir.file("floats"), idx_bytes(0x0D, {2}, counting_payload(8)));
  const std::string message = data_error_message([&] { read_idx(dir.file("floats")); });
  CHECK_THAT(message, Contains("0x0D"));
  CHECK_THAT(message, Contains("float32"));
  CHECK_THAT(message, Contains("only 0x08 ubyte"));
}

TEST_CASE("raw file one byte short is reported as truncated with both sizes", "[idx]") {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {2, 2, 2}, counting_payload(8));  // 16 header + 8 payload
  bytes.pop_back();
  write_raw(dir.file("short"), bytes);
  const std::string message = data_error_message([&] { read_idx(dir.file("short")); });
  CHECK_THAT(message, Contains("file is 23 bytes, header says 24: truncated"));
  CHECK_THAT(message, Contains("scripts/fetch_data.sh"));
}

TEST_CASE("truncated header is reported as truncated", "[idx]") {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {2, 2, 2}, {});
  bytes.resize(10);  // cut inside the dimension list
  write_raw(dir.file("short"), bytes);
  CHECK_THAT(data_error_message([&] { read_idx(dir.file("short")); }), Contains("truncated"));
}

TEST_CASE("raw file with trailing bytes is rejected", "[idx]") {
  TempDir dir;
  auto bytes = idx_bytes(0x08, {4}, counting_payload(4));
  bytes.push_back(0);
  write_raw(dir.file("long"), bytes);
  CHECK_THAT(data_error_message([&] { read_idx(dir.file("long")); }), Contains("trailing bytes"));
}

TEST_CASE("dimensions whose product overflows are rejected before allocating", "[idx]") {
  TempDir dir;
  // 4 x 0xFFFFFFFF would wrap a 64-bit size; the payload is absent, so any attempt to trust the
  // header would either allocate absurdly or read garbage.
  const std::vector<uint32_t> huge = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
  SECTION("raw") {
    write_raw(dir.file("huge"), idx_bytes(0x08, huge, {}));
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("huge")); }), Contains("overflow"));
  }
  SECTION("gzip") {
    write_gzip(dir.file("huge.gz"), idx_bytes(0x08, huge, {}));
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("huge.gz")); }), Contains("overflow"));
  }
}

TEST_CASE("payloads above max_bytes are rejected before allocating", "[idx]") {
  TempDir dir;
  SECTION("header claims more than the default limit") {
    write_raw(dir.file("big"), idx_bytes(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu}, {}));
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("big")); }), Contains("limit"));
  }
  SECTION("caller-supplied limit") {
    write_gzip(dir.file("small.gz"), idx_bytes(0x08, {100}, counting_payload(100)));
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("small.gz"), 99); }), Contains("limit"));
    CHECK(read_idx(dir.file("small.gz"), 100).bytes.size() == 100);
  }
}

TEST_CASE("gzip whose decompressed data is too short or too long is rejected", "[idx]") {
  TempDir dir;
  SECTION("payload shorter than the header says") {
    auto bytes = idx_bytes(0x08, {10}, counting_payload(10));
    bytes.pop_back();
    write_gzip(dir.file("short.gz"), bytes);
    const std::string message = data_error_message([&] { read_idx(dir.file("short.gz")); });
    CHECK_THAT(message, Contains("truncated"));
    CHECK_THAT(message, Contains(dir.file("short.gz")));
  }
  SECTION("payload longer than the header says") {
    auto bytes = idx_bytes(0x08, {10}, counting_payload(11));
    write_gzip(dir.file("long.gz"), bytes);
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("long.gz")); }),
               Contains("trailing bytes"));
  }
}

TEST_CASE("corrupt gzip streams are reported with the zlib message", "[idx]") {
  TempDir dir;
  SECTION("valid gzip header followed by garbage") {
    std::vector<uint8_t> bytes = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03};
    for (int i = 0; i < 64; ++i) bytes.push_back(0xFF);
    write_raw(dir.file("garbage.gz"), bytes);
    const std::string message = data_error_message([&] { read_idx(dir.file("garbage.gz")); });
    CHECK_THAT(message, Contains("corrupt gzip"));
    CHECK_THAT(message, Contains("zlib:"));
    CHECK_THAT(message, Contains(dir.file("garbage.gz")));
  }
  SECTION("stream cut off mid-way") {
    write_gzip(dir.file("full.gz"), idx_bytes(0x08, {4000}, random_payload(4000, 7)));
    auto compressed = read_all(dir.file("full.gz"));
    REQUIRE(compressed.size() > 100);
    compressed.resize(compressed.size() / 2);
    write_raw(dir.file("cut.gz"), compressed);
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("cut.gz")); }), Contains("gzip"));
  }
  SECTION("gzip trailer missing after a complete payload") {
    write_gzip(dir.file("full.gz"), idx_bytes(0x08, {300}, random_payload(300, 8)));
    auto compressed = read_all(dir.file("full.gz"));
    compressed.resize(compressed.size() - 4);  // drop the length field of the trailer
    write_raw(dir.file("no-trailer.gz"), compressed);
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("no-trailer.gz")); }),
               Contains("corrupt gzip"));
  }
  SECTION("damaged CRC in the trailer") {
    write_gzip(dir.file("full.gz"), idx_bytes(0x08, {300}, random_payload(300, 9)));
    auto compressed = read_all(dir.file("full.gz"));
    compressed[compressed.size() - 8] ^= 0xFF;  // first byte of the CRC-32
    write_raw(dir.file("bad-crc.gz"), compressed);
    CHECK_THAT(data_error_message([&] { read_idx(dir.file("bad-crc.gz")); }),
               Contains("corrupt gzip"));
  }
}

TEST_CASE("image and label counts must match", "[idx]") {
  TempDir dir;
  write_raw(dir.file("images"), idx_bytes(0x08, {3, 2, 2}, counting_payload(12)));
  write_raw(dir.file("labels"), idx_bytes(0x08, {2}, {0, 1}));
  const std::string message =
      data_error_message([&] { load_idx_pair(dir.file("images"), dir.file("labels"), 10); });
  CHECK_THAT(message, Contains("count mismatch"));
  CHECK_THAT(message, Contains(dir.file("images")));
  CHECK_THAT(message, Contains(dir.file("labels")));
  CHECK_THAT(message, Contains("3 images"));
  CHECK_THAT(message, Contains("2 labels"));
}

TEST_CASE("labels at or above the class count are rejected with index and value", "[idx]") {
  TempDir dir;
  write_raw(dir.file("images"), idx_bytes(0x08, {3, 2, 2}, counting_payload(12)));
  write_raw(dir.file("labels"), idx_bytes(0x08, {3}, {0, 9, 10}));
  const std::string message =
      data_error_message([&] { load_idx_pair(dir.file("images"), dir.file("labels"), 10); });
  CHECK_THAT(message, Contains("out of range"));
  CHECK_THAT(message, Contains("index 2 is 10"));
  CHECK_THAT(message, Contains(dir.file("labels")));
}

TEST_CASE("image and label files must have the expected ranks", "[idx]") {
  TempDir dir;
  write_raw(dir.file("images"), idx_bytes(0x08, {3, 2, 2}, counting_payload(12)));
  write_raw(dir.file("labels"), idx_bytes(0x08, {3}, {0, 1, 2}));
  SECTION("files swapped") {
    CHECK_THAT(data_error_message([&] { load_idx_pair(dir.file("labels"), dir.file("images"), 10); }),
               Contains("dimensions"));
  }
  SECTION("labels given twice") {
    CHECK_THAT(data_error_message([&] { load_idx_pair(dir.file("labels"), dir.file("labels"), 10); }),
               Contains("expected 3"));
  }
}
