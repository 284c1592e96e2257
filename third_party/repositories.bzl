"""Offline repository rules for kcpp.

Bazel 4.2.3 wants to download rules_cc, rules_java, remote_coverage_tools and
protobuf. This machine class reaches only Debian's archive, so every external
repository here is synthesised from files on the machine:

  * offline stand-ins for Bazel's own helper repositories (their content is
    written by the rules below, so nothing nested needs a WORKSPACE file);
  * `pkg_config_repository`: Debian -dev packages as cc_library targets whose
    flags come from `pkg-config` at fetch time;
  * `boringssl_repository`: BoringSSL from Debian's source package, fetched by
    tools/setup.sh into a cache outside the git tree, built by our overlay.

When something is missing the error names the command to run: tools/setup.sh.
"""

_SETUP_HINT = "Run `tools/setup.sh` (installs Debian packages and fetches BoringSSL source) and try again."

# ---------------------------------------------------------------------------
# Stand-ins for repositories Bazel's WORKSPACE suffix would download.
# ---------------------------------------------------------------------------

def _reexport_repository_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.file("BUILD.bazel", "")
    for path, content in ctx.attr.files.items():
        ctx.file(path, content)

_reexport_repository = repository_rule(
    implementation = _reexport_repository_impl,
    attrs = {"files": attr.string_dict()},
)

def _reexport_bzl(symbols):
    return "".join(["%s = native.%s\n" % (s, s) for s in symbols])

def offline_bazel_repositories():
    """Declares rules_cc, rules_java and remote_coverage_tools without network."""
    _reexport_repository(
        name = "rules_cc",
        files = {
            "cc/BUILD.bazel": "",
            "cc/defs.bzl": _reexport_bzl([
                "cc_binary",
                "cc_import",
                "cc_library",
                "cc_proto_library",
                "cc_test",
                "cc_toolchain",
                "cc_toolchain_suite",
                "fdo_profile",
                "objc_library",
            ]),
        },
    )
    _reexport_repository(
        name = "rules_java",
        files = {
            "java/BUILD.bazel": "",
            "java/defs.bzl": _reexport_bzl([
                "java_binary",
                "java_import",
                "java_library",
                "java_plugin",
                "java_runtime",
                "java_test",
                "java_toolchain",
            ]),
        },
    )
    _reexport_repository(
        name = "remote_coverage_tools",
        files = {
            "unavailable.sh": "#!/bin/sh\necho 'coverage tools are not available offline' >&2\nexit 1\n",
            "BUILD.bazel": """
package(default_visibility = ["//visibility:public"])
sh_binary(name = "coverage_report_generator", srcs = ["unavailable.sh"])
sh_binary(name = "lcov_merger", srcs = ["unavailable.sh"])
""",
        },
    )

# ---------------------------------------------------------------------------
# System libraries through pkg-config.
# ---------------------------------------------------------------------------

def _pkg_config(ctx, modules):
    pkg_config = ctx.which("pkg-config")
    if not pkg_config:
        fail("kcpp: pkg-config is not installed. " + _SETUP_HINT)
    result = ctx.execute([pkg_config, "--cflags", "--libs"] + modules)
    if result.return_code != 0:
        fail("kcpp: pkg-config could not find %s:\n%s\n%s" % (
            " ".join(modules),
            result.stderr.strip(),
            _SETUP_HINT,
        ))
    defines = []
    linkopts = []
    for token in result.stdout.strip().split(" "):
        if not token:
            continue
        if token.startswith("-D"):
            if token[2:] not in defines:
                defines.append(token[2:])
        elif token.startswith("-I"):
            # Every module we use installs under /usr/include, which is on the
            # compiler's built-in path; anything else would need symlinking.
            if token[2:] not in ["/usr/include", "/usr/include/x86_64-linux-gnu"]:
                fail("kcpp: unexpected include directory %s from pkg-config %s" % (token, modules))
        else:
            linkopts.append(token)
    return defines, linkopts

def _pkg_config_repository_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for target, spec in ctx.attr.targets.items():
        modules = [m for m in spec.split(" ") if m and not m.startswith("-") and not m.startswith("+")]
        extra = [m for m in spec.split(" ") if m.startswith("-")]
        headers = [m[1:] for m in spec.split(" ") if m.startswith("+")]
        defines, linkopts = _pkg_config(ctx, modules) if modules else ([], [])
        for h in headers:
            if not ctx.path(h).exists:
                fail("kcpp: header %s is missing. %s" % (h, _SETUP_HINT))
        lines.append("cc_library(")
        lines.append("    name = %r," % target)
        lines.append("    defines = %r," % defines)
        lines.append("    linkopts = %r," % (extra + linkopts))
        lines.append(")")
        lines.append("")
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(lines))

pkg_config_repository = repository_rule(
    implementation = _pkg_config_repository_impl,
    attrs = {
        # target name -> space-separated pkg-config modules; an entry starting
        # with "-" is a literal link option; "+/path" is a header that must exist.
        "targets": attr.string_dict(mandatory = True),
    },
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)

# ---------------------------------------------------------------------------
# protobuf / gRPC from Debian.
# ---------------------------------------------------------------------------

_WELL_KNOWN_PROTOS = [
    "any",
    "api",
    "descriptor",
    "duration",
    "empty",
    "field_mask",
    "source_context",
    "struct",
    "timestamp",
    "type",
    "wrappers",
]

def _system_protobuf_impl(ctx):
    protoc = ctx.which("protoc")
    plugin = ctx.which("grpc_cpp_plugin")
    if not protoc or not plugin:
        fail("kcpp: protoc and grpc_cpp_plugin are required. " + _SETUP_HINT)
    _, protobuf_linkopts = _pkg_config(ctx, ["protobuf"])
    ctx.file("WORKSPACE", "workspace(name = \"com_google_protobuf\")\n")
    ctx.file("protoc.sh", "#!/bin/sh\nexec %s \"$@\"\n" % protoc, executable = True)
    ctx.file("grpc_cpp_plugin.sh", "#!/bin/sh\nexec %s \"$@\"\n" % plugin, executable = True)
    wkt = []
    for name in _WELL_KNOWN_PROTOS:
        ctx.symlink("/usr/include/google/protobuf/%s.proto" % name, "google/protobuf/%s.proto" % name)
        wkt.append("""
proto_library(
    name = "{name}_proto",
    srcs = ["google/protobuf/{name}.proto"],
    strip_import_prefix = "/",
)
""".format(name = name))
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

# protoc from Debian's protobuf-compiler.
sh_binary(name = "protoc", srcs = ["protoc.sh"])

# grpc_cpp_plugin from Debian's protobuf-compiler-grpc.
sh_binary(name = "grpc_cpp_plugin", srcs = ["grpc_cpp_plugin.sh"])

cc_library(name = "protobuf", linkopts = {linkopts})

# Native cc_proto_library uses this (see .bazelrc). Well-known types are
# compiled into libprotobuf already, so no code is generated for them.
proto_lang_toolchain(
    name = "cc_toolchain",
    blacklisted_protos = [{wkt_labels}],
    command_line = "--cpp_out=$(OUT)",
    runtime = ":protobuf",
)
{wkt}
""".format(
        linkopts = repr(protobuf_linkopts),
        wkt_labels = ", ".join(['":%s_proto"' % n for n in _WELL_KNOWN_PROTOS]),
        wkt = "".join(wkt),
    ))

system_protobuf_repository = repository_rule(
    implementation = _system_protobuf_impl,
    local = True,
)

# ---------------------------------------------------------------------------
# Google's common API protos (google.rpc, google.api) from Debian.
# ---------------------------------------------------------------------------

# Debian has no -dev package of googleapis' common protos; their .proto
# sources come with two packages for other languages, and are read where
# those install them (nothing is copied into the repository):
#   - google/rpc/{status,error_details}.proto from golang-github-gogo-googleapis-dev
#     (plain protos despite the name: no gogoproto options or imports), the
#     only Debian copy of error_details.proto new enough to have ErrorInfo
#     (libgoogle-common-protos-java 1.16's lacks it);
#   - google/api/field_behavior.proto from libgoogle-common-protos-java's jar
#     (a zip, unpacked at fetch time), the only Debian copy of it.
# kcpd uses them for AIP-193 error details and AIP-203 annotations.
_GOGO_GOOGLEAPIS = "/usr/share/gocode/src/github.com/gogo/googleapis"
_COMMON_PROTOS_JAR = "/usr/share/java/proto-google-common-protos.jar"

_GOOGLEAPIS_PROTOS = {
    # target name: (path, deps)
    "rpc_status_proto": ("google/rpc/status.proto", ["@com_google_protobuf//:any_proto"]),
    "rpc_error_details_proto": ("google/rpc/error_details.proto", ["@com_google_protobuf//:duration_proto"]),
    "api_field_behavior_proto": ("google/api/field_behavior.proto", ["@com_google_protobuf//:descriptor_proto"]),
}

def _googleapis_impl(ctx):
    for path, package in [
        (_GOGO_GOOGLEAPIS, "golang-github-gogo-googleapis-dev"),
        (_COMMON_PROTOS_JAR, "libgoogle-common-protos-java"),
    ]:
        if not ctx.path(path).exists:
            fail("kcpp: %s not found (Debian's %s). %s" % (path, package, _SETUP_HINT))
    ctx.extract(ctx.path(_COMMON_PROTOS_JAR), output = "jar")
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    rules = []
    for name, (path, deps) in _GOOGLEAPIS_PROTOS.items():
        if path.startswith("google/rpc/"):
            ctx.symlink(_GOGO_GOOGLEAPIS + "/" + path, path)
        else:
            ctx.symlink("jar/" + path, path)
        rules.append("""
proto_library(
    name = "{name}",
    srcs = ["{path}"],
    deps = {deps},
)

cc_proto_library(
    name = "{cc_name}",
    deps = [":{name}"],
)
""".format(name = name, path = path, deps = repr(deps), cc_name = name.replace("_proto", "_cc_proto")))
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

# The .proto files themselves, for tools outside Bazel that need them on an
# import path (buf lint, the Python example's protoc).
filegroup(
    name = "protos",
    srcs = [{srcs}],
)
{rules}""".format(
        srcs = ", ".join(['"%s"' % p for p, _ in _GOOGLEAPIS_PROTOS.values()]),
        rules = "".join(rules),
    ))

googleapis_repository = repository_rule(
    implementation = _googleapis_impl,
    local = True,
)

# ---------------------------------------------------------------------------
# gRPC's own protocols (grpc.health.v1) from Debian.
# ---------------------------------------------------------------------------

# Debian's grpc-proto package installs gRPC's published .proto files under
# /usr/share/grpc-proto; the health checking protocol (grpc.health.v1.Health,
# which kcpd serves and kcpctl health calls) is read from there, not copied
# into the repository. C++: #include "grpc/health/v1/health.grpc.pb.h".
_GRPC_PROTO = "/usr/share/grpc-proto"

def _grpc_proto_impl(ctx):
    path = "grpc/health/v1/health.proto"
    if not ctx.path(_GRPC_PROTO + "/" + path).exists:
        fail("kcpp: %s/%s not found (Debian's grpc-proto). %s" % (_GRPC_PROTO, path, _SETUP_HINT))
    ctx.symlink(_GRPC_PROTO + "/" + path, path)
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.file("BUILD.bazel", """
load("@//tools/build_defs:cc_grpc_library.bzl", "cc_grpc_library")

package(default_visibility = ["//visibility:public"])

proto_library(
    name = "health_proto",
    srcs = ["{path}"],
)

cc_proto_library(
    name = "health_cc_proto",
    deps = [":health_proto"],
)

cc_grpc_library(
    name = "health_cc_grpc",
    cc_proto = ":health_cc_proto",
    proto = ":health_proto",
)
""".format(path = path))

grpc_proto_repository = repository_rule(
    implementation = _grpc_proto_impl,
    local = True,
)

# ---------------------------------------------------------------------------
# BoringSSL from Debian's source package.
# ---------------------------------------------------------------------------

def _boringssl_impl(ctx):
    env = ctx.os.environ
    cache = env.get("KCPP_CACHE") or (env.get("HOME", "/root") + "/.cache/kcpp")
    marker = ctx.path(cache + "/boringssl.path")
    if not marker.exists:
        fail("kcpp: BoringSSL source not found (looked for %s). %s" % (marker, _SETUP_HINT))
    src = ctx.read(marker).strip()
    if not ctx.path(src + "/BUILD.generated.bzl").exists:
        fail("kcpp: BoringSSL source at %s is incomplete. %s" % (src, _SETUP_HINT))
    for entry in ctx.path(src).readdir():
        if entry.basename not in ["BUILD", "WORKSPACE", "BUILD.bazel"]:
            ctx.symlink(entry, entry.basename)
    ctx.file("WORKSPACE", "workspace(name = \"boringssl\")\n")
    ctx.symlink(ctx.attr.build_file, "BUILD.bazel")

boringssl_repository = repository_rule(
    implementation = _boringssl_impl,
    attrs = {"build_file": attr.label(mandatory = True, allow_single_file = True)},
    environ = ["KCPP_CACHE", "HOME"],
    local = True,
)
