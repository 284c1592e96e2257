// Replay driver for fuzz targets in non-libFuzzer builds: every corpus file
// given on the command line, then a fixed, seeded stream of random inputs and
// single-byte mutations of the corpus. A crash or sanitizer report fails the
// test; the output says how many inputs ran so a silent no-op is visible.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read corpus file %s\n", argv[i]);
      return 1;
    }
    corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  size_t runs = 0;
  for (const std::string& c : corpus) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(c.data()), c.size());
    ++runs;
  }
  std::mt19937_64 rng(0x6b637070);  // fixed seed: reproducible
  std::vector<uint8_t> buf;
  for (int i = 0; i < 20000; ++i) {
    if (!corpus.empty() && (i & 1)) {
      const std::string& base = corpus[rng() % corpus.size()];
      buf.assign(base.begin(), base.end());
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips && !buf.empty(); ++f)
        buf[rng() % buf.size()] = static_cast<uint8_t>(rng());
      if (!buf.empty() && rng() % 4 == 0) buf.resize(rng() % buf.size());
    } else {
      buf.resize(rng() % 2048);
      for (auto& b : buf) b = static_cast<uint8_t>(rng());
    }
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    ++runs;
  }
  std::printf("replayed %zu inputs (%zu corpus files)\n", runs, corpus.size());
  return 0;
}
