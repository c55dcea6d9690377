"""The card's volatile state: current files, challenge, security state, purse state.

Everything here is lost at power-off and reset (:meth:`Session.__init__` is the state
after :meth:`~sbkcard.applet_model.user_card.UserCard.power_on`). The security state
follows Part 5 §6.11.1 and Part 7 §5.8, §6.6:

===============================  =====================================================
event                            effect
===============================  =====================================================
power-on, reset                  everything cleared; the MF is current
SELECT of another DF             key authentications, the challenge, the current EF,
                                 the record pointer and the purse state cleared; the
                                 PIN stays verified ("直到断电")
SELECT of the current DF         nothing cleared ("在当前 DF 未被改变时 … 应被保持")
VERIFY / CHANGE PIN right        the PIN verified
VERIFY / CHANGE PIN wrong        the PIN no longer verified
EXTERNAL AUTHENTICATE right      the key authenticated (until power-off or another DF)
EXTERNAL AUTHENTICATE wrong      the key no longer authenticated
any use of the challenge         the challenge consumed (good for one use, Part 5 §6.5)
===============================  =====================================================

A key is named by the DF that holds it (its *home*) and its identifier: a DF-local key
(b8 = 1) lives in the current DF, a global key in the application environment — the
first component of the current path (``SSSE``, or the ``MF`` itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sbkcard.applet_model.user_card.fcp import MF
from sbkcard.applet_model.user_card.purse import State

__all__ = ["PurseContext", "Session", "home_of"]

DF_LOCAL = 0x80


def home_of(df: str, kid: int) -> str:
    """The DF holding key ``kid`` when ``df`` is current (Part 5 table 14)."""
    if kid & DF_LOCAL:
        return df
    return df.partition("/")[0]


@dataclass
class PurseContext:
    """What INITIALIZE FOR LOAD/PURCHASE leaves for the next command."""

    key_version: int
    random: bytes
    seq: int
    terminal: bytes
    amounts: tuple[int, int, int]
    session_key: bytes = b""


@dataclass
class Session:
    """Volatile state of the card (see the module docstring for its rules)."""

    df: str = MF
    ef: str | None = None
    record: int | None = None
    challenge: bytes | None = None
    pin_ok: set[str] = field(default_factory=set)
    auths: set[tuple[str, int]] = field(default_factory=set)
    purse: State = State.IDLE
    purse_context: PurseContext | None = None
    response: bytes = b""

    def enter_df(self, path: str) -> None:
        """Make ``path`` the current DF; leaving a DF clears its security state."""
        if path != self.df:
            self.df = path
            self.auths.clear()
            self.challenge = None
            self.purse_idle()
        self.ef = None
        self.record = None

    def select_ef(self, path: str) -> None:
        """Make ``path`` the current EF (a new EF resets the record pointer)."""
        if path != self.ef:
            self.ef = path
            self.record = None

    def take_challenge(self) -> bytes | None:
        """The last challenge, consumed."""
        challenge, self.challenge = self.challenge, None
        return challenge

    def grant(self, home: str, kid: int) -> None:
        """Key ``kid`` of ``home`` authenticated."""
        self.auths.add((home, kid))

    def revoke(self, home: str, kid: int) -> None:
        """Key ``kid`` of ``home`` no longer authenticated."""
        self.auths.discard((home, kid))

    def authenticated(self, df: str, kid: int) -> bool:
        """Whether key ``kid``, as named from ``df``, is authenticated."""
        return (home_of(df, kid), kid) in self.auths

    def purse_idle(self) -> None:
        """Back to the purse's idle state (Part 5 §7)."""
        self.purse = State.IDLE
        self.purse_context = None
