"""kcpp_fuzz_test: one libFuzzer target, two ways to run it.

    kcpp_fuzz_test(
        name = "input_fuzz_test",
        srcs = ["input_fuzz.cc"],      # defines LLVMFuzzerTestOneInput
        corpus = glob(["testdata/input_corpus/*"]),
        deps = [":kcp"],
    )

* Default/asan/tsan builds: a cc_test that replays every corpus file and a
  fixed, seeded set of random and mutated inputs through the target (so every
  fuzz target is also a regression test in the normal suite).
* `--config=fuzz` (clang + libFuzzer): the same test target is a real fuzzer
  that runs for `fuzz_seconds` (default 20) from the corpus; run the binary by
  hand for hours (`bazel run --config=fuzz //kcp:input_fuzz_test -- -max_total_time=3600`).
"""

def kcpp_fuzz_test(name, srcs, deps = [], corpus = [], fuzz_seconds = 20, size = "small", **kwargs):
    corpus_dir = native.package_name() + "/" + (corpus[0].rpartition("/")[0] if corpus else "")
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//tools/fuzz:fuzzing": [],
            "//conditions:default": ["//tools/fuzz:replay_main"],
        }),
        linkopts = select({
            "//tools/fuzz:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        args = select({
            "//tools/fuzz:fuzzing": [
                "-max_total_time=%d" % fuzz_seconds,
                "-print_final_stats=1",
                corpus_dir,
            ] if corpus else ["-max_total_time=%d" % fuzz_seconds, "-print_final_stats=1"],
            "//conditions:default": ["$(location %s)" % c for c in corpus],
        }),
        data = corpus,
        size = size,
        tags = ["fuzz"],
        **kwargs
    )
