"""Password hashes: salted scrypt, parameters stored, constant-time verification."""

from __future__ import annotations

from vigie.backend.security.passwords import hash_password, verify_password


def test_hash_is_salted_scrypt_and_verifies():
    h1, h2 = hash_password("correct horse"), hash_password("correct horse")
    assert h1 != h2  # a fresh salt each time
    scheme, n, r, p, salt, key = h1.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**15, 8, 1)  # the usual interactive ones
    assert "correct horse" not in h1
    assert verify_password("correct horse", h1) and verify_password("correct horse", h2)
    assert not verify_password("correct horsf", h1) and not verify_password("", h1)


def test_malformed_stored_hashes_never_match():
    for stored in ("", "plain", "md5$x$y$z$a$b", "scrypt$1$8$1$!!$!!", "scrypt$x$8$1$AAAA$AAAA"):
        assert not verify_password("anything", stored)
