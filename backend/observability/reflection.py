"""gRPC server reflection under both names tools use: `grpc.reflection.v1` (tried first by
grpcurl, Postman, Kreya, evans, grpc-js) and `grpc.reflection.v1alpha`.

grpcio-reflection (1.85) only ships v1alpha. The two versions are the same protocol: v1's
reflection.proto is v1alpha's with the package renamed, field for field, so the v1 method is
served by the same servicer through v1alpha's (wire-identical) messages, and v1's file descriptor
(the renamed copy) is added to the default pool so reflection can describe itself in v1 too."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE_NAME = f"{V1_PACKAGE}.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME
V1_METHOD = f"/{V1_SERVICE_NAME}/ServerReflectionInfo"


def _add_v1_descriptor() -> None:
    """Registers grpc/reflection/v1/reflection.proto (v1alpha's, renamed) in the default pool."""
    pool = descriptor_pool.Default()
    name = "grpc/reflection/v1/reflection.proto"
    try:
        pool.FindFileByName(name)
        return  # already there (a second backend in the same process)
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = name
    proto.package = V1_PACKAGE
    old = f".{reflection_pb2.DESCRIPTOR.package}."
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = f".{V1_PACKAGE}." + field.type_name[len(old) :]
    for service in proto.service:
        for method in service.method:
            method.input_type = f".{V1_PACKAGE}." + method.input_type[len(old) :]
            method.output_type = f".{V1_PACKAGE}." + method.output_type[len(old) :]
    proto.options.Clear()
    pool.Add(proto)


def enable_reflection(service_names: tuple[str, ...], server: grpc.aio.Server) -> None:
    """Serves reflection v1 and v1alpha, both listing `service_names` and themselves."""
    _add_v1_descriptor()
    names = (*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
    servicer = reflection.aio.ReflectionServicer(names)
    reflection.enable_server_reflection(names, server)
    v1 = grpc.method_handlers_generic_handler(
        V1_SERVICE_NAME,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))
