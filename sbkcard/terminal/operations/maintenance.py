"""Application maintenance: APPLICATION BLOCK and CARD BLOCK (Part 7 §13.1–13.2).

Both follow the flow of Part 7 §13, the keys and MAC key read from the national tree
(:class:`~sbkcard.applet_model.tree.DF`: ``block`` and ``mac_key``; Part 9 table B1):

1. external authentication with the DF's blocking key — BK for the SSSE, DF01, DF02
   and DF07, LKDF03 / LKDF04 for DF03 / DF04 — through the PSAM or HSM, with the DF
   current;
2. GET CHALLENGE (4 bytes);
3. the command, ``84 1E 00 01 04`` or ``84 16 00 00 04``, with the MAC of its header
   under the session key of the DF's maintenance key (STKSSSE, STKDF0x) and the
   challenge (Part 4 §8.2), computed by the PSAM (DELIVERY SESSION KEY + CIPHER DATA) or
   the key service (:meth:`~sbkcard.terminal.security.base.SecurityModule.secure_message`).

After APPLICATION BLOCK the card answers ``9303`` to a SELECT of the application (and
to everything in it); after CARD BLOCK ``6A81`` to every command.  The terminal reports
these as :class:`~sbkcard.terminal.errors.ApplicationBlockedError` and
:class:`~sbkcard.terminal.errors.CardBlockedError` (national codes -37635, -27265).  A
wrong MAC is the card's ``6988`` (:class:`~sbkcard.terminal.errors.CardStatusError`)
and blocks nothing; a failed authentication does not lock the key (Part 7 §13.2).

On an SSSE already selected, blocking the SSSE is 4 card APDUs (GET CHALLENGE, EXTERNAL
AUTHENTICATE, GET CHALLENGE, the command) and blocking DF04 6 (SELECT + GET RESPONSE
first); the PSAM adds DELIVERY SESSION KEY and CIPHER DATA for each of the two keys (4
APDUs, more while it learns at which depth it holds a key, Part 9 §8).
"""

from __future__ import annotations

from dataclasses import dataclass

from sbkcard.apdu import builders as b
from sbkcard.apdu.command import CommandAPDU
from sbkcard.keys.hierarchy import card_key
from sbkcard.terminal.connection import SSSE, Connection
from sbkcard.terminal.errors import InvalidInputError

CHALLENGE = 4
"""GET CHALLENGE length before a maintenance command (the MAC session input)."""


@dataclass(frozen=True)
class BlockResult:
    """A block that the card accepted: what was blocked and the card APDUs it took."""

    target: str
    apdus: int


def _blocking(conn: Connection, df: str, command: CommandAPDU, what: str) -> BlockResult:
    if conn.tree is None:
        raise InvalidInputError("the connection is not open")
    path = SSSE if df == SSSE else f"{SSSE}/{df}"
    try:
        declared = conn.tree.df(path)
    except KeyError:
        raise InvalidInputError(f"no application {df} in the national tree") from None
    auth_key = declared.block.key
    if auth_key is None:
        raise InvalidInputError(f"{df} declares no key for blocking")
    start = conn.card.apdu_count
    module = conn.module
    conn.authenticate(auth_key, df=df)
    header = bytes(command)[:4] + bytes([len(command.data)])
    with conn.card.during(what):
        challenge = conn.card.call(b.get_challenge(CHALLENGE), "GET CHALLENGE")
        mac = module.secure_message(
            conn.ctx, card_key(declared.mac_key), 1, challenge, header, None
        )
        conn.card.call(CommandAPDU(command.cla, command.ins, command.p1, command.p2, mac), what)
    conn.granted.clear()
    return BlockResult(df, conn.card.apdu_count - start)


def block_application(conn: Connection, df: str = SSSE) -> BlockResult:
    """APPLICATION BLOCK of ``df`` (``"SSSE"``: the whole social security application;
    ``"DF04"``…: one application), Part 7 §13.2."""
    return _blocking(conn, df, b.application_block(bytes(4)), f"APPLICATION BLOCK {df}")


def block_card(conn: Connection) -> BlockResult:
    """CARD BLOCK (Part 7 §13.1): every application of the card, for good."""
    result = _blocking(conn, SSSE, b.card_block(bytes(4)), "CARD BLOCK")
    return BlockResult("card", result.apdus)
