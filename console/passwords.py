"""Password hashes for console agents: scrypt with a random salt, standard library only.

A hash reads ``scrypt$<log2 N>$<r>$<p>$<salt>$<key>`` (salt and key URL-safe base64 without padding), so it
contains neither ``:`` nor ``,`` and fits into ``CONSOLE_AGENTS="alice:<hash>,bob:<hash>"``. The cost
parameters travel with each hash: raising them later does not invalidate existing ones.

Hash a password for the configuration::

    python -m console.passwords            # asks twice, without echo
    echo -n 'secret' | python -m console.passwords --stdin
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import getpass
import hashlib
import hmac
import secrets
import sys

SCHEME = "scrypt"
#: Default cost: N = 2**14, r = 8, p = 1 (about 16 MiB and a few tens of milliseconds per check).
DEFAULT_LOG2_N = 14
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
#: Refuse hashes whose cost would be a denial of service (N above 2**20).
MAX_LOG2_N = 20
MIN_PASSWORD_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    # validate=True: a stray character must not be skipped (it would shorten the key that is compared)
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 2**log2_n
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p + (1 << 20),
        dklen=KEY_BYTES,
    )


def hash_password(password: str, log2_n: int = DEFAULT_LOG2_N, r: int = DEFAULT_R, p: int = DEFAULT_P) -> str:
    """A new salted scrypt hash of ``password``."""
    if not isinstance(password, str) or not password:
        raise ValueError("the password is empty")
    if not 1 <= log2_n <= MAX_LOG2_N:
        raise ValueError(f"log2_n must be between 1 and {MAX_LOG2_N}")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, log2_n, r, p)
    return f"{SCHEME}${log2_n}${r}${p}${_b64(salt)}${_b64(key)}"


def is_valid_hash(encoded: str) -> bool:
    """Whether ``encoded`` looks like a hash this module wrote (checked when the console starts)."""
    try:
        _parse(encoded)
    except ValueError:
        return False
    return True


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.strip().split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a scrypt password hash (create one with: python -m console.passwords)")
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("malformed scrypt password hash") from None
    sane_cost = 1 <= log2_n <= MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16
    if not (sane_cost and len(salt) >= 8 and len(key) >= 16):
        raise ValueError("scrypt password hash with unsupported parameters")
    return log2_n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time comparison; False for a malformed hash)."""
    try:
        log2_n, r, p, salt, key = _parse(encoded)
    except ValueError:
        return False
    if not isinstance(password, str):
        return False
    candidate = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p,
        maxmem=256 * (2**log2_n) * r * p + (1 << 20), dklen=len(key),
    )
    return hmac.compare_digest(candidate, key)


@functools.lru_cache(maxsize=1)
def dummy_hash() -> str:
    """Verified against when the agent name is unknown, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def main(argv: list[str] | None = None) -> int:
    """Command line: print the hash of a password read from the terminal (or stdin with ``--stdin``)."""
    parser = argparse.ArgumentParser(description="Hash a console agent's password for CONSOLE_AGENTS.")
    parser.add_argument("--stdin", action="store_true", help="read the password from standard input")
    parser.add_argument("--log2-n", type=int, default=DEFAULT_LOG2_N, help="scrypt cost (default 14)")
    args = parser.parse_args(argv)
    if args.stdin:
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The passwords differ.", file=sys.stderr)
            return 1
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"Use at least {MIN_PASSWORD_LENGTH} characters.", file=sys.stderr)
        return 1
    print(hash_password(password, log2_n=args.log2_n))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
