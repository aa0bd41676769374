"""The console's session over TLS: the right CA logs in; a wrong CA, or a missing client
certificate when the backend asks for one, is refused with a reason the operator can act on."""

from __future__ import annotations

import datetime as dt

from tests.fixtures.tls import DAY, make_ca, make_cert
from vigie.app.auth import Credentials, TlsOptions
from vigie.app.session import Session

LIGHT = ("--lights", "0", "--vehicles", "0")


def watch(qtbot, session: Session) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    session.sig_connection.connect(lambda state, detail, _t: seen.append((state, detail)))
    session.start()
    return seen


def test_console_tls_right_ca_wrong_ca_and_client_certificates(qtbot, make_backend, tmp_path):
    ca, client_ca = make_ca(), make_ca("Consoles CA")
    cert, key = make_cert(ca, "localhost").write(tmp_path, "server")
    client_ca_file, _ = client_ca.write(tmp_path, "client-ca")
    b = make_backend(
        *LIGHT, "--tls-cert", str(cert), "--tls-key", str(key), "--client-ca", str(client_ca_file)
    ).start()
    ca_file, _ = ca.write(tmp_path, "ca")
    desk_cert, desk_key = make_cert(client_ca, "desk-1", client=True).write(tmp_path, "desk-1")
    creds = Credentials("viewer", "viewer", console="desk-1")

    good = Session(b.address, credentials=creds, tls=TlsOptions(str(ca_file), str(desk_cert), str(desk_key)))
    watch(qtbot, good)
    no_cert = Session(b.address, credentials=creds, tls=TlsOptions(str(ca_file)))
    no_cert_states = watch(qtbot, no_cert)
    wrong_file, _ = make_ca("Somebody else's CA").write(tmp_path, "wrong")
    wrong = Session(
        b.address, credentials=creds, tls=TlsOptions(str(wrong_file), str(desk_cert), str(desk_key))
    )
    wrong_states = watch(qtbot, wrong)
    expired_cert, expired_key = make_cert(
        client_ca,
        "desk-2",
        client=True,
        not_before=dt.datetime.now(dt.UTC) - 10 * DAY,
        not_after=dt.datetime.now(dt.UTC) - DAY,
    ).write(tmp_path, "desk-2")
    expired = Session(
        b.address, credentials=creds, tls=TlsOptions(str(ca_file), str(expired_cert), str(expired_key))
    )
    expired_states = watch(qtbot, expired)
    try:
        qtbot.waitUntil(lambda: good.role == "VIEWER" and good.state == "connected", timeout=20000)
        for states in (no_cert_states, wrong_states, expired_states):
            qtbot.waitUntil(lambda s=states: any("TLS refused" in d for _, d in s), timeout=20000)
        assert wrong.role == no_cert.role == expired.role == ""
    finally:
        for s in (good, no_cert, wrong, expired):
            s.stop()


def test_unreadable_tls_files_are_reported(qtbot, tmp_path):
    s = Session("127.0.0.1:1", credentials=Credentials("a", "b"), tls=TlsOptions(str(tmp_path / "none.pem")))
    errors: list[str] = []
    s.sig_error.connect(errors.append)
    s.start()
    try:
        qtbot.waitUntil(lambda: bool(errors), timeout=30000)
        assert "cannot read the CA certificate" in errors[0]
    finally:
        s.stop()
