"""cc_grpc_library: C++ gRPC stubs from a proto_library, with Debian's grpc_cpp_plugin.

Usage (BUILD file in package `proto`):
    proto_library(name = "foo_proto", srcs = ["kcpp/v1/foo.proto"])
    cc_proto_library(name = "foo_cc_proto", deps = [":foo_proto"])
    cc_grpc_library(name = "foo_cc_grpc", proto = ":foo_proto", cc_proto = ":foo_cc_proto")

C++ code includes "proto/kcpp/v1/foo.grpc.pb.h" beside "proto/kcpp/v1/foo.pb.h".
Protos are imported by their path in their repository (no strip_import_prefix),
which keeps protoc's output layout identical to the declared outputs. The rule
also works in an external repository (third_party/repositories.bzl's
@grpc_proto): there the include path is relative to that repository's root.
"""

def _grpc_stubs_impl(ctx):
    info = ctx.attr.proto[ProtoInfo]
    package = ctx.label.package
    root = ctx.label.workspace_root  # "" here, "external/<name>" elsewhere
    outputs = []
    for src in info.direct_sources:
        if src.owner.workspace_name != ctx.label.workspace_name or src.owner.package != package:
            fail("cc_grpc_library: %s must be a .proto of package @%s//%s" % (
                src.short_path,
                ctx.label.workspace_name,
                package,
            ))
        prefix = "/".join([p for p in [root, package] if p])
        stem = src.path[len(prefix) + 1 if prefix else 0:-len(".proto")]
        outputs.append(ctx.actions.declare_file(stem + ".grpc.pb.h"))
        outputs.append(ctx.actions.declare_file(stem + ".grpc.pb.cc"))

    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-grpc=" + ctx.executable._plugin.path)
    args.add("--grpc_out=" + "/".join([p for p in [ctx.bin_dir.path, root] if p]))
    args.add_all(info.transitive_proto_path, format_each = "--proto_path=%s")
    args.add("--proto_path=.")
    args.add_all(info.direct_sources)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = info.transitive_sources,
        tools = [ctx.executable._plugin],
        outputs = outputs,
        mnemonic = "GrpcCppStubs",
        progress_message = "Generating gRPC C++ stubs for %s" % ctx.label,
    )
    return [DefaultInfo(files = depset(outputs))]

_grpc_stubs = rule(
    implementation = _grpc_stubs_impl,
    attrs = {
        "proto": attr.label(mandatory = True, providers = [ProtoInfo]),
        "_protoc": attr.label(
            default = "@com_google_protobuf//:protoc",
            executable = True,
            cfg = "exec",
        ),
        "_plugin": attr.label(
            default = "@com_google_protobuf//:grpc_cpp_plugin",
            executable = True,
            cfg = "exec",
        ),
    },
)

def cc_grpc_library(name, proto, cc_proto, visibility = None, **kwargs):
    """A cc_library with the gRPC service stubs of `proto`.

    Args:
      name: target name.
      proto: the proto_library with the service definitions.
      cc_proto: the cc_proto_library of the same proto_library.
      visibility: visibility of the library.
      **kwargs: passed to cc_library.
    """
    _grpc_stubs(name = name + "_stubs", proto = proto)
    native.cc_library(
        name = name,
        srcs = [name + "_stubs"],
        deps = [cc_proto, "@system//:grpc"],
        visibility = visibility,
        **kwargs
    )
