"""SM2 over bytes: keys, the Z value, signatures and public-key encryption (GM/T 0003).

The curve is the recommended 256-bit curve of GM/T 0003.5; keys are the 32-byte private
value ``d`` and the 64-byte public point ``X ‖ Y``; signatures are ``r ‖ s`` (64 bytes)
with :func:`signature_der` / :func:`signature_raw` for the DER form of GM/T 0009 §7;
ciphertexts are ``C1 ‖ C3 ‖ C2`` with ``C1 = 04 ‖ x1 ‖ y1`` (GM/T 0009 §7.2 order).

Signing takes the digest ``e = SM3(Z ‖ M)`` (GM/T 0003.2 §6.1, A5 with ``Z`` of §5.5 and
the default identity ``1234567812345678`` of GM/T 0009 §10), as a card does: the host
hashes, the card signs.  The arithmetic is plain Python (a few milliseconds per scalar
multiplication); Tongsuo, where installed, is used for key generation and as a second
implementation in the tests.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sbkcard.keys.errors import CryptoError, DataLengthError, KeyLengthError
from sbkcard.keys.hashing import sm3

__all__ = [
    "DEFAULT_ID",
    "Ciphertext",
    "Random",
    "SM2DecryptionError",
    "decrypt",
    "digest",
    "encrypt",
    "generate_private",
    "public_key",
    "scalar",
    "sign_digest",
    "signature_der",
    "signature_raw",
    "verify",
    "verify_digest",
    "z_value",
]

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

DEFAULT_ID = b"1234567812345678"
"""The signer identity when none is agreed (GM/T 0009 §10)."""

_Point = tuple[int, int] | None
_Jacobian = tuple[int, int, int]


class SM2DecryptionError(CryptoError):
    """An SM2 ciphertext that does not decrypt (bad point, or C3 does not match)."""


def _to_jacobian(point: _Point) -> _Jacobian:
    return (0, 1, 0) if point is None else (point[0], point[1], 1)


def _double(p: _Jacobian) -> _Jacobian:
    x, y, z = p
    if z == 0 or y == 0:
        return (0, 1, 0)
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = (3 * x * x + A * zz * zz) % P
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * yy * yy) % P, 2 * y * z % P


def _add(p: _Jacobian, q: _Jacobian) -> _Jacobian:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    if u1 == u2:
        return _double(p) if s1 == s2 else (0, 1, 0)
    h, r = (u2 - u1) % P, (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - s1 * hhh) % P, h * z1 * z2 % P


def _affine(p: _Jacobian) -> _Point:
    x, y, z = p
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _multiply(k: int, point: _Point) -> _Point:
    result: _Jacobian = (0, 1, 0)
    base = _to_jacobian(point)
    for bit in bin(k)[2:]:
        result = _double(result)
        if bit == "1":
            result = _add(result, base)
    return _affine(result)


def _on_curve(point: tuple[int, int]) -> bool:
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - A * x - B) % P == 0


def _point(public: bytes, what: str = "SM2 public key") -> tuple[int, int]:
    if len(public) == 65 and public[0] == 0x04:
        public = public[1:]
    if len(public) != 64:
        raise KeyLengthError(f"{what}: 64 bytes X ‖ Y expected, got {len(public)}")
    point = int.from_bytes(public[:32], "big"), int.from_bytes(public[32:], "big")
    if not _on_curve(point):
        raise CryptoError(f"{what}: the point is not on the SM2 curve")
    return point


def _scalar(private: bytes) -> int:
    if len(private) != 32:
        raise KeyLengthError(f"SM2 private key: 32 bytes expected, got {len(private)}")
    d = int.from_bytes(private, "big")
    if not 1 <= d <= N - 2:
        raise CryptoError("SM2 private key: out of the range 1 … n-2")
    return d


def _bytes(point: _Point) -> bytes:
    assert point is not None
    return point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


Random = Callable[[int], bytes]
"""A source of random bytes (``os.urandom``, a card's RNG, a seeded DRBG for demos)."""


def scalar(random: Random, limit: int = N - 1) -> int:
    """An integer in 1 … ``limit`` from 40 random bytes (the bias is below 2⁻⁶⁴)."""
    return int.from_bytes(random(40), "big") % limit + 1


def generate_private(random: Random = secrets.token_bytes) -> bytes:
    """A fresh private key ``d`` in 1 … n-2 (GM/T 0003.1 §6.1)."""
    return scalar(random, N - 2).to_bytes(32, "big")


def public_key(private: bytes) -> bytes:
    """``X ‖ Y`` of ``d·G`` (GM/T 0003.1 §6.1)."""
    return _bytes(_multiply(_scalar(private), (GX, GY)))


def z_value(public: bytes, identity: bytes = DEFAULT_ID) -> bytes:
    """``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` (GM/T 0003.2 §5.5)."""
    _point(public)
    if len(identity) >= 8192:
        raise DataLengthError(f"SM2 identity: at most 8191 bytes, got {len(identity)}")
    curve = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
    return sm3((8 * len(identity)).to_bytes(2, "big") + identity + curve + public[-64:])


def digest(public: bytes, message: bytes, identity: bytes = DEFAULT_ID) -> bytes:
    """``e = SM3(Z ‖ M)``, what the signer signs (GM/T 0003.2 §6.1, A1–A2)."""
    return sm3(z_value(public, identity) + message)


def sign_digest(private: bytes, e: bytes, *, k: int | None = None) -> bytes:
    """``r ‖ s`` over the 32-byte digest ``e`` (GM/T 0003.2 §6.1, A3–A7).

    ``k`` is for known-answer tests only (GM/T 0003.2 appendix A); by default it is fresh.
    """
    d = _scalar(private)
    if len(e) != 32:
        raise DataLengthError(f"SM2 digest: 32 bytes expected, got {len(e)}")
    e_int = int.from_bytes(e, "big")
    while True:
        nonce = k if k is not None else secrets.randbelow(N - 1) + 1
        point = _multiply(nonce, (GX, GY))
        assert point is not None
        r = (e_int + point[0]) % N
        if r == 0 or r + nonce == N:
            k = None
            continue
        s = pow(1 + d, -1, N) * (nonce - r * d) % N
        if s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        k = None


def verify_digest(public: bytes, e: bytes, signature: bytes) -> bool:
    """Whether ``r ‖ s`` is a signature of digest ``e`` under ``public`` (§7.1, B1–B7)."""
    point = _point(public)
    if len(e) != 32 or len(signature) != 64:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    t = (r + s) % N
    if t == 0:
        return False
    sum_point = _affine(
        _add(_to_jacobian(_multiply(s, (GX, GY))), _to_jacobian(_multiply(t, point)))
    )
    if sum_point is None:
        return False
    return (int.from_bytes(e, "big") + sum_point[0]) % N == r


def verify(public: bytes, message: bytes, signature: bytes, identity: bytes = DEFAULT_ID) -> bool:
    """Whether ``r ‖ s`` signs ``message`` for ``public`` and ``identity`` (§7.1)."""
    return verify_digest(public, digest(public, message, identity), signature)


def signature_der(raw: bytes) -> bytes:
    """``r ‖ s`` → DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009 §7.3)."""
    if len(raw) != 64:
        raise DataLengthError(f"SM2 signature: 64 bytes r ‖ s expected, got {len(raw)}")
    body = b"".join(_der_integer(int.from_bytes(half, "big")) for half in (raw[:32], raw[32:]))
    return b"\x30" + _der_length(len(body)) + body


def signature_raw(der: bytes) -> bytes:
    """DER ``SEQUENCE { r, s }`` → ``r ‖ s``; :class:`CryptoError` when malformed."""
    try:
        body = _der_take(der, 0x30, whole=True)
        r_bytes, rest = _der_split(body, 0x02)
        s_bytes, rest = _der_split(rest, 0x02)
    except (IndexError, ValueError):
        raise CryptoError("SM2 signature: not DER SEQUENCE { r INTEGER, s INTEGER }") from None
    if rest:
        raise CryptoError("SM2 signature: bytes after the DER sequence")
    r, s = int.from_bytes(r_bytes, "big"), int.from_bytes(s_bytes, "big")
    if not (0 < r < N and 0 < s < N):
        raise CryptoError("SM2 signature: r or s out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _der_integer(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return b"\x02" + _der_length(len(raw)) + raw


def _der_split(data: bytes, tag: int) -> tuple[bytes, bytes]:
    if data[0] != tag:
        raise ValueError("tag")
    length, pos = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, pos = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if pos + length > len(data):
        raise ValueError("length")
    return data[pos : pos + length], data[pos + length :]


def _der_take(data: bytes, tag: int, *, whole: bool) -> bytes:
    value, rest = _der_split(data, tag)
    if whole and rest:
        raise ValueError("trailing")
    return value


def _kdf(shared: bytes, length: int) -> bytes:
    """The key derivation function of GM/T 0003.4 §5.4.3 over SM3."""
    out = b"".join(sm3(shared + i.to_bytes(4, "big")) for i in range(1, length // 32 + 2))
    return out[:length]


@dataclass(frozen=True)
class Ciphertext:
    """The parts of an SM2 ciphertext: ``C1`` (64 bytes X ‖ Y), ``C3`` (32) and ``C2``."""

    c1: bytes
    c3: bytes
    c2: bytes

    def __bytes__(self) -> bytes:
        return b"\x04" + self.c1 + self.c3 + self.c2

    @classmethod
    def from_bytes(cls, data: bytes) -> Ciphertext:
        """``[04] ‖ C1 ‖ C3 ‖ C2`` (the ``04`` of the uncompressed point is optional)."""
        if len(data) % 2 and data[:1] == b"\x04":
            data = data[1:]
        if len(data) < 97:
            raise SM2DecryptionError(f"SM2 ciphertext: {len(data)} bytes is too short")
        return cls(data[:64], data[64:96], data[96:])


def encrypt(public: bytes, message: bytes, *, k: int | None = None) -> Ciphertext:
    """SM2 encryption of ``message`` for ``public`` (GM/T 0003.4 §6.1, A1–A8)."""
    point = _point(public)
    if not message:
        raise DataLengthError("SM2 encryption: the message is empty")
    while True:
        nonce = k if k is not None else secrets.randbelow(N - 1) + 1
        shared = _bytes(_multiply(nonce, point))
        t = _kdf(shared, len(message))
        if any(t):
            break
        k = None
    c1 = _bytes(_multiply(nonce, (GX, GY)))
    c2 = bytes(m ^ x for m, x in zip(message, t, strict=True))
    return Ciphertext(c1, sm3(shared[:32] + message + shared[32:]), c2)


def decrypt(private: bytes, ciphertext: Ciphertext) -> bytes:
    """SM2 decryption (GM/T 0003.4 §7.1, B1–B7); :class:`SM2DecryptionError` if it fails."""
    d = _scalar(private)
    try:
        c1 = _point(ciphertext.c1, "SM2 ciphertext C1")
    except CryptoError as exc:
        raise SM2DecryptionError(str(exc)) from None
    if not ciphertext.c2 or len(ciphertext.c3) != 32:
        raise SM2DecryptionError("SM2 ciphertext: C2 empty or C3 not 32 bytes")
    shared = _bytes(_multiply(d, c1))
    t = _kdf(shared, len(ciphertext.c2))
    message = bytes(c ^ x for c, x in zip(ciphertext.c2, t, strict=True))
    if not any(t) or not hmac.compare_digest(
        sm3(shared[:32] + message + shared[32:]), ciphertext.c3
    ):
        raise SM2DecryptionError("SM2 ciphertext: C3 does not match (wrong key or altered)")
    return message
