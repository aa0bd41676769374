"""The client core against a real backend: the token is refreshed before it expires, without a
new login and without the console noticing."""

from __future__ import annotations

import time

from tests.conftest import console_session


def test_the_token_is_refreshed_in_the_background_without_a_new_login(qtbot, make_backend):
    backend = make_backend("--token-ttl", "3").start()
    session = console_session(backend.address)
    logins: list[tuple[str, str]] = []
    asked: list[str] = []
    session.core.sig_logged_in.connect(lambda user, role: logins.append((user, role)))
    session.core.sig_login_required.connect(asked.append)
    cameras: list[dict] = []
    session.video.sig_cameras.connect(cameras.append)
    session.start()
    try:
        qtbot.waitUntil(lambda: session.state == "connected", timeout=20000)
        tokens = [session.core.token.token]
        first_seen = time.monotonic()

        def three_more_tokens() -> bool:
            if session.core.token.token and session.core.token.token != tokens[-1]:
                tokens.append(session.core.token.token)
            return len(tokens) >= 4

        qtbot.waitUntil(three_more_tokens, timeout=30000)
        assert time.monotonic() - first_seen > 3.0, "the first token has expired by now"
        # A call made now goes through with the refreshed token, and the watch is still there.
        session.video.request_cameras()
        qtbot.waitUntil(lambda: bool(cameras), timeout=10000)
        assert session.state == "connected"
        assert logins == [("operator", "OPERATOR")], "one login: the token was refreshed, not replaced"
        assert asked == []
    finally:
        session.stop()
