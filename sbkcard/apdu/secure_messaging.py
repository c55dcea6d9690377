"""Secure messaging for CLA ``x4`` commands (Part 4 §8; Part 9 §7.1.2–7.1.3).

A command under secure messaging carries its MAC as the last 4 bytes of the data field.
The MAC is computed over ``CLA INS P1 P2 Lc ‖ data`` where CLA already has the ``x4``
nibble and Lc already counts the 4 MAC bytes (Part 4 §8.2.4 note 1); padding ``80 00…``
is always added, the IV is zero (the PSAM's key commands use the challenge instead).
Data may also be enciphered first, as ``LD ‖ data`` padded with ``80 00…`` (Part 4 §8.3).

Host side: :func:`wrap` (or :func:`wrap_mac`) turns a plain command into the wire command;
:func:`mac_input` gives the bytes to MAC for a MAC computed elsewhere (HSM, PSAM) and
:func:`attach_mac` appends it.  Card side: :func:`verify_mac` checks a received command,
:func:`unwrap` checks and deciphers it back into the plain command.

``key`` is the key the MAC (and encryption) uses directly: for the user card that is the
session key of the STK/UK on the card's last challenge (:func:`sbkcard.keys.session_key`),
for the PSAM's CREATE/CHANGE KEY the master key with ``iv`` = the challenge.
"""

from __future__ import annotations

import dataclasses
import hmac

from sbkcard.apdu.command import SHORT_MAX_LC, CommandAPDU
from sbkcard.apdu.errors import SecureMessagingError
from sbkcard.errors import SbkcardError
from sbkcard.keys import Algorithm, decrypt_data, encrypt_data, mac

MAC_LENGTH = 4
SM_NIBBLE = 0x04


def _sm_cla(cla: int) -> int:
    if cla & 0x0F not in (0x00, SM_NIBBLE):
        raise SecureMessagingError(
            f"CLA {cla:02X}: secure messaging sets the low nibble to 4, which must be 0 or 4"
        )
    return (cla & 0xF0) | SM_NIBBLE


def mac_input(cmd: CommandAPDU) -> bytes:
    """The MAC input for ``cmd`` (whose data does not yet hold the MAC).

    ``CLA(x4) INS P1 P2 Lc ‖ data`` with Lc = len(data) + 4.
    """
    lc = len(cmd.data) + MAC_LENGTH
    if lc > SHORT_MAX_LC:
        raise SecureMessagingError(
            f"{cmd.header.hex().upper()}: {len(cmd.data)} data bytes leave no room for the MAC "
            f"in a short APDU (Lc at most {SHORT_MAX_LC})"
        )
    return bytes((_sm_cla(cmd.cla), cmd.ins, cmd.p1, cmd.p2, lc)) + cmd.data


def attach_mac(cmd: CommandAPDU, mac_value: bytes) -> CommandAPDU:
    """``cmd`` with CLA ``x4`` and ``mac_value`` appended to its data."""
    if len(mac_value) != MAC_LENGTH:
        raise SecureMessagingError(f"a MAC is {MAC_LENGTH} bytes, got {len(mac_value)}")
    mac_input(cmd)  # the same checks as the MAC computation
    return dataclasses.replace(cmd, cla=_sm_cla(cmd.cla), data=cmd.data + bytes(mac_value))


def encipher(cmd: CommandAPDU, key: bytes, algorithm: Algorithm) -> CommandAPDU:
    """``cmd`` with its data replaced by the encryption of ``LD ‖ data`` (Part 4 §8.3)."""
    return dataclasses.replace(cmd, data=encrypt_data(key, cmd.data, algorithm))


def wrap_mac(
    cmd: CommandAPDU, key: bytes, algorithm: Algorithm, *, iv: bytes | None = None
) -> CommandAPDU:
    """``cmd`` with CLA ``x4`` and the spec MAC of it appended (Part 4 §8.2)."""
    return attach_mac(cmd, mac(key, mac_input(cmd), algorithm, iv))


def wrap(
    cmd: CommandAPDU,
    key: bytes,
    algorithm: Algorithm,
    *,
    encrypt: bool = False,
    iv: bytes | None = None,
    mac_key: bytes | None = None,
) -> CommandAPDU:
    """Encipher the data if ``encrypt``, then MAC (Part 4 §8.2–8.3).

    ``mac_key`` defaults to ``key``.  Example: the PIN reload ``84 24 00 01`` is
    ``wrap(pin_reload(encode_pin(new)), sk, algorithm, encrypt=True)``.
    """
    if encrypt:
        cmd = encipher(cmd, key, algorithm)
    return wrap_mac(cmd, key if mac_key is None else mac_key, algorithm, iv=iv)


def _split(cmd: CommandAPDU) -> tuple[CommandAPDU, bytes]:
    if cmd.cla & 0x0F != SM_NIBBLE:
        raise SecureMessagingError(f"CLA {cmd.cla:02X} does not announce secure messaging (x4)")
    if len(cmd.data) < MAC_LENGTH:
        raise SecureMessagingError(
            f"{cmd.header.hex().upper()}: {len(cmd.data)} data bytes cannot hold a 4-byte MAC"
        )
    data, received = cmd.data[:-MAC_LENGTH], cmd.data[-MAC_LENGTH:]
    if cmd.force_extended:
        return dataclasses.replace(cmd, data=data), received
    return CommandAPDU._short(cmd.cla, cmd.ins, cmd.p1, cmd.p2, data, cmd.le), received


def verify_mac(
    cmd: CommandAPDU, key: bytes, algorithm: Algorithm, *, iv: bytes | None = None
) -> bool:
    """Card side: whether the last 4 data bytes of ``cmd`` are its spec MAC under ``key``.

    False as well for a command that cannot carry a MAC (no ``x4`` CLA, data shorter
    than 4 bytes); the comparison takes constant time.
    """
    try:
        body, received = _split(cmd)
        expected = mac(key, mac_input(body), algorithm, iv)
    except SecureMessagingError:
        return False
    return hmac.compare_digest(expected, received)


def unwrap(
    cmd: CommandAPDU,
    key: bytes,
    algorithm: Algorithm,
    *,
    encrypted: bool = False,
    iv: bytes | None = None,
    mac_key: bytes | None = None,
) -> CommandAPDU:
    """Card side: check the MAC, decipher if ``encrypted``; the plain command (CLA ``x0``).

    Raises :class:`SecureMessagingError` if the MAC is wrong or the plaintext is not a
    well-formed ``LD ‖ data ‖ 80 00…`` block (a card answers ``6988``).
    """
    if not verify_mac(cmd, key if mac_key is None else mac_key, algorithm, iv=iv):
        raise SecureMessagingError(f"{cmd.header.hex().upper()}: MAC missing or wrong")
    body, _ = _split(cmd)
    data = body.data
    if encrypted:
        try:
            data = decrypt_data(key, data, algorithm)
        except (SbkcardError, ValueError) as exc:
            raise SecureMessagingError(f"{cmd.header.hex().upper()}: {exc}") from exc
    return dataclasses.replace(body, cla=body.cla & 0xF0, data=data)
