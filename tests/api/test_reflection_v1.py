"""Reflection v1, as today's tools speak it first (grpcurl, Postman, Kreya, evans, grpc-js): a
client that knows only grpc.reflection.v1 (its own descriptors, a raw stub, no fallback to
v1alpha) lists every vigie.v1 service and describes each one exactly as the .proto files say."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2

from tests.conftest import ROOT, open_channel
from tests.fixtures import reflection_v1 as v1

PROTO_DIR = ROOT / "protos"


def compiled_protos() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The .proto files compiled now by protoc (not the generated modules): name -> descriptor."""
    files = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "vigie" / "v1").glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO_DIR}",
                f"--descriptor_set_out={out}",
                *files,
            ],
            check=True,
            capture_output=True,
        )
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    for f in fds.file:
        for message in f.message_type:
            _drop_json_names(message)
    return {f.name: f for f in fds.file}


def _drop_json_names(message: descriptor_pb2.DescriptorProto) -> None:
    """protoc's descriptor sets spell out each field's json_name, the camelCase of its name;
    generated code (and so reflection) leaves it implied. Everything else must be equal."""
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _drop_json_names(nested)


def ask(channel: grpc.Channel, **request: object) -> v1.Response:
    """One v1 reflection request and its answer, through a raw stub on the v1 method only."""
    call = channel.stream_stream(
        v1.METHOD,
        request_serializer=v1.Request.SerializeToString,
        response_deserializer=v1.Response.FromString,
    )
    responses = list(call(iter([v1.Request(**request)]), timeout=10))
    assert len(responses) == 1
    return responses[0]


@pytest.fixture(scope="module")
def reflection_backend():
    from tests.conftest import BackendProcess

    b = BackendProcess("--lights", "0", "--vehicles", "0", "--quiet-city").start()
    yield b
    b.stop()


def test_v1_lists_and_describes_every_vigie_service_as_the_protos_say(reflection_backend):
    protos = compiled_protos()
    expected_services = {f"{f.package}.{s.name}" for f in protos.values() for s in f.service}
    assert len(expected_services) >= 12
    with open_channel(reflection_backend.address, user=None) as ch:  # reflection needs no token
        listed = {s.name for s in ask(ch, list_services="").list_services_response.service}
        assert expected_services <= listed
        assert v1.SERVICE in listed
        for service in sorted(expected_services):
            answer = ask(ch, file_containing_symbol=service)
            assert answer.WhichOneof("message_response") == "file_descriptor_response", service
            got = {
                d.name: d
                for d in map(
                    descriptor_pb2.FileDescriptorProto.FromString,
                    answer.file_descriptor_response.file_descriptor_proto,
                )
            }
            owner = next(f for f in protos.values() for s in f.service if f"{f.package}.{s.name}" == service)
            # The file and each of its vigie imports, as compiled from the .proto files now.
            for name in (owner.name, *(d for d in owner.dependency if d in protos)):
                assert got[name] == protos[name], f"{service}: {name} differs from protos/{name}"
            methods = {
                m.name
                for f in got.values()
                for s in f.service
                if f"{f.package}.{s.name}" == service
                for m in s.method
            }
            assert methods == {
                m.name for s in owner.service if f"{owner.package}.{s.name}" == service for m in s.method
            }
        # Reflection describes itself in v1 too, so tools can bootstrap from it.
        own = ask(ch, file_containing_symbol=v1.SERVICE)
        assert own.WhichOneof("message_response") == "file_descriptor_response"


def test_v1_unknown_symbol_is_not_found(reflection_backend):
    with open_channel(reflection_backend.address, user=None) as ch:
        answer = ask(ch, file_containing_symbol="vigie.v1.NoSuchService")
        assert answer.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
