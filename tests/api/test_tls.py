"""TLS and mutual TLS on real backends, with throwaway CAs: the right CA is accepted, anything
else refused; expired certificates stop the backend (or the client); expiry is announced."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import grpc
import pytest

from tests.conftest import ROOT, open_channel
from tests.fixtures.tls import DAY, Issued, make_ca, make_cert
from vigie.v1 import assets_pb2, assets_pb2_grpc, auth_pb2, auth_pb2_grpc

LIGHT = ("--lights", "0", "--vehicles", "0")


def creds(ca: Issued, client: Issued | None = None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    return grpc.ssl_channel_credentials(ca.cert_pem, client.key_pem, client.cert_pem)


def works(address: str, credentials: grpc.ChannelCredentials) -> bool:
    """This client can log in and list assets."""
    with open_channel(address, "viewer", credentials=credentials) as ch:
        stub = assets_pb2_grpc.AssetServiceStub(ch)
        return stub.ListAssets(assets_pb2.ListAssetsRequest(page_size=1), timeout=5).total_size > 0


def refused(address: str, credentials: grpc.ChannelCredentials) -> bool:
    """The TLS handshake fails: even Login (public) cannot be reached."""
    with grpc.secure_channel(address, credentials) as ch:
        with pytest.raises(grpc.RpcError) as err:
            auth_pb2_grpc.AuthServiceStub(ch).Login(
                auth_pb2.LoginRequest(user="viewer", password="viewer"), timeout=5
            )
        return err.value.code() == grpc.StatusCode.UNAVAILABLE


def plaintext_refused(address: str) -> bool:
    with grpc.insecure_channel(address) as ch:
        try:
            grpc.channel_ready_future(ch).result(timeout=3)
        except grpc.FutureTimeoutError:
            return True
        stub = assets_pb2_grpc.AssetServiceStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            stub.ListAssets(assets_pb2.ListAssetsRequest(), timeout=3)
        return err.value.code() == grpc.StatusCode.UNAVAILABLE


def run_backend(*args: str) -> subprocess.CompletedProcess[str]:
    """A backend that is expected to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "vigie.backend", "--listen", "127.0.0.1:0", *LIGHT, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_tls_right_ca_accepted_wrong_ca_refused_and_expiry_warned(make_backend, tmp_path):
    ca = make_ca()
    # Expires in 20 days: served, with a warning.
    server = make_cert(ca, "localhost", not_after=dt.datetime.now(dt.UTC) + 20 * DAY)
    cert, key = server.write(tmp_path, "server")
    log = tmp_path / "stderr.txt"
    b = make_backend(*LIGHT, "--tls-cert", str(cert), "--tls-key", str(key), stderr=log).start()
    assert works(b.address, creds(ca))
    assert refused(b.address, creds(make_ca("Somebody else's CA")))
    assert plaintext_refused(b.address)
    text = log.read_text()
    assert "WARNING" in text and "expires in 19 days" in text and str(cert) in text


def test_mutual_tls_needs_a_valid_client_certificate(make_backend, tmp_path):
    ca, clients_ca = make_ca(), make_ca("Vigie consoles CA")
    cert, key = make_cert(ca, "localhost").write(tmp_path, "server")
    clients_ca_file, _ = clients_ca.write(tmp_path, "clients-ca")
    b = make_backend(
        *LIGHT, "--tls-cert", str(cert), "--tls-key", str(key), "--client-ca", str(clients_ca_file)
    ).start()
    now = dt.datetime.now(dt.UTC)
    good = make_cert(clients_ca, "console-1", client=True)
    expired = make_cert(clients_ca, "console-2", client=True, not_before=now - 30 * DAY, not_after=now - DAY)
    stranger = make_cert(make_ca("Elsewhere"), "console-3", client=True)
    assert works(b.address, creds(ca, good))
    assert refused(b.address, creds(ca))  # no client certificate
    assert refused(b.address, creds(ca, expired))
    assert refused(b.address, creds(ca, stranger))
    assert works(b.address, creds(ca, good))  # and it still serves


def test_backend_refuses_to_start_with_unusable_tls_files(tmp_path):
    ca = make_ca()
    now = dt.datetime.now(dt.UTC)
    old_cert, old_key = make_cert(ca, "localhost", not_before=now - 60 * DAY, not_after=now - DAY).write(
        tmp_path, "old"
    )
    done = run_backend("--tls-cert", str(old_cert), "--tls-key", str(old_key))
    assert done.returncode == 2 and "VIGIE_BACKEND_LISTENING" not in done.stdout
    assert f"the TLS certificate {old_cert} expired on" in done.stderr

    cert, key = make_cert(ca, "localhost").write(tmp_path, "good")
    other_cert, other_key = make_cert(ca, "localhost").write(tmp_path, "other")
    cases = [
        (
            ("--tls-cert", str(tmp_path / "missing.crt"), "--tls-key", str(key)),
            "cannot read the TLS certificate",
        ),
        (("--tls-cert", str(cert), "--tls-key", str(tmp_path / "missing.key")), "cannot read the TLS key"),
        (("--tls-cert", str(key), "--tls-key", str(key)), "is not a PEM certificate"),
        (("--tls-cert", str(cert), "--tls-key", str(other_key)), "does not match the certificate"),
        (
            ("--tls-cert", str(cert), "--tls-key", str(key), "--client-ca", str(tmp_path / "none.pem")),
            "cannot read the client CA",
        ),
        (("--tls-cert", str(cert)), "--tls-cert and --tls-key go together"),
    ]
    for args, needle in cases:
        done = run_backend(*args)
        assert done.returncode == 2 and needle in done.stderr, (args, done.stderr)
