"""Random command sequences against the card and a small reference model of its security state.

The model knows only what Part 5 and Part 7 say: which DF is current, whether the PIN
is verified and how many tries it has left, which keys are authenticated and how many
tries each has left, whether a challenge is waiting. Every answer of the card must be
the one the model predicts, and every file read must succeed exactly when the file's
declared rule (S2 tables 3–8) is met by the model's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_card_driver import DF_AIDS, PROFILES, SSSE_AID, Driver

from sbkcard.applet_model.tree import EF, Structure
from sbkcard.applet_model.user_card.fcp import Role, key_kid, role_of
from sbkcard.applet_model.user_card.personalise import DEMO_PIN
from sbkcard.keys.hierarchy import CARD_KEYS, KeySpec

AUTH_ROLES = (Role.AUTH, Role.MASTER, Role.UNBLOCK)


def _home(spec: KeySpec) -> str:
    return spec.df if spec.df in ("MF", "SSSE") else f"SSSE/{spec.df}"


@dataclass
class Model:
    """The reference security state."""

    df: str = "MF"
    pin: str = DEMO_PIN
    pin_tries: int = 3
    pin_ok: bool = False
    challenge: bool = False
    long_challenge: bool = False
    authed: set[str] = field(default_factory=set)
    tries: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.df, self.pin_ok, self.challenge = "MF", False, False
        self.authed.clear()


class CardMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.driver: Driver | None = None
        self.model = Model()

    @rule(generation=st.sampled_from([p.generation for p in PROFILES]))
    def start(self, generation: int) -> None:
        if self.driver is not None:
            return
        profile = next(p for p in PROFILES if p.generation == generation)
        self.driver = Driver(profile)
        self.model = Model(tries={s.name: s.retries for s in CARD_KEYS if s.retries})

    @property
    def d(self) -> Driver:
        assert self.driver is not None
        return self.driver

    def _keys_here(self) -> list[KeySpec]:
        """Keys that EXTERNAL AUTHENTICATE can name from the current DF."""
        env = self.model.df.partition("/")[0]
        return [
            s
            for s in CARD_KEYS
            if role_of(s) in AUTH_ROLES
            and (_home(s) == self.model.df if key_kid(s) & 0x80 else _home(s) == env)
        ]

    # -- rules ----------------------------------------------------------------------------

    @rule(where=st.sampled_from(["MF", "SSSE", *[f"SSSE/{n}" for n in DF_AIDS]]))
    def select(self, where: str) -> None:
        if self.driver is None:
            return
        if where == "MF":
            sw = self.d.sw("00A40000023F00")
        elif where == "SSSE":
            sw = self.d.sw(b"\x00\xa4\x04\x00\x0f" + SSSE_AID)
        else:
            aid = DF_AIDS[where[5:]]
            sw = self.d.sw(b"\x00\xa4\x04\x00\x06" + aid)
        assert sw == 0x9000
        if where != self.model.df:
            self.model.df = where
            self.model.authed.clear()
            self.model.challenge = False

    @rule(length=st.sampled_from([4, 8, 16]))
    def get_challenge(self, length: int) -> None:
        if self.driver is None:
            return
        assert len(self.d.challenge(length)) == length
        self.model.challenge = True
        self.model.long_challenge = length > self.d.algorithm.block_size

    @rule(correct=st.booleans())
    def verify(self, correct: bool) -> None:
        if self.driver is None:
            return
        m = self.model
        sw = self.d.verify(m.pin if correct else "000000")
        if m.df == "MF":
            assert sw == 0x6A88
        elif m.pin_tries == 0:
            assert sw == 0x6983
        elif correct:
            assert sw == 0x9000
            m.pin_tries, m.pin_ok = 3, True
        else:
            m.pin_tries -= 1
            m.pin_ok = False
            assert sw == 0x63C0 | m.pin_tries

    @rule()
    def tries_left(self) -> None:
        if self.driver is None:
            return
        sw = self.d.sw("0020000000")
        expected = 0x6A88 if self.model.df == "MF" else 0x63C0 | self.model.pin_tries
        assert sw == expected

    @rule(data=st.data(), correct=st.booleans(), fresh=st.booleans())
    def authenticate(self, data: st.DataObject, correct: bool, fresh: bool) -> None:
        if self.driver is None:
            return
        keys = self._keys_here()
        if not keys:
            return
        spec = data.draw(st.sampled_from(keys))
        m = self.model
        if fresh:
            challenge = self.d.challenge()
            m.challenge, m.long_challenge = True, False
        else:
            challenge = bytes(8)
        key = self.d.key(spec.name) if correct else bytes(len(self.d.key(spec.name)))
        sw = self.d.sw(self.d.auth_apdu(spec.name, challenge, key=key))
        had_challenge, m.challenge = m.challenge, False
        if spec.retries and m.tries[spec.name] == 0:
            assert sw == 0x6983  # a locked key is refused first (Part 7 §6.6)
            return
        if not had_challenge or m.long_challenge:
            assert sw == 0x6984  # none, or 16 bytes for an 8-byte cipher
            return
        if not fresh:
            # the card's challenge was not the one used: a failed authentication
            correct = False
        if correct:
            assert sw == 0x9000
            m.authed.add(spec.name)
            if spec.retries:
                m.tries[spec.name] = spec.retries
        else:
            m.authed.discard(spec.name)
            if spec.retries:
                m.tries[spec.name] -= 1
                assert sw == 0x63C0 | m.tries[spec.name]
            else:
                assert sw == 0x6300

    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        if self.driver is None or self.model.df == "MF":
            return
        files = [
            ef
            for path, ef in self.d.profile.tree.files().items()
            if path.rpartition("/")[0] == self.model.df and ef.sfi is not None
        ]
        ef: EF = data.draw(st.sampled_from(files))
        assert ef.sfi is not None
        if ef.structure is Structure.TRANSPARENT:
            sw = self.d.raw(bytes((0x00, 0xB0, 0x80 | ef.sfi, 0x00, 0x08)))[1]
        else:
            sw = self.d.raw(bytes((0x00, 0xB2, 0x01, ef.sfi << 3 | 0x04, 0x00)))[1]
        pin = self.model.pin_ok
        allowed = ef.read.allows(pin, self.model.authed)
        assert (sw != 0x6982) == allowed, (ef.zh, str(ef.read), hex(sw))

    @rule(new=st.text(st.sampled_from("0123456789"), min_size=4, max_size=8))
    def change_pin(self, new: str) -> None:
        if self.driver is None or self.model.df == "MF":
            return
        m = self.model
        old = bytes.fromhex(m.pin + "F" * (len(m.pin) % 2))
        fresh = bytes.fromhex(new + "F" * (len(new) % 2))
        data = old + b"\xff" + fresh
        sw = self.d.sw(b"\x80\x5e\x01\x00" + bytes((len(data),)) + data)
        if m.pin_tries == 0:
            assert sw == 0x6983
        else:
            assert sw == 0x9000
            m.pin, m.pin_tries, m.pin_ok = new, 3, True

    @rule()
    def unblock(self) -> None:
        if self.driver is None or self.model.df == "MF":
            return
        m = self.model
        sw = self.d.sw(self.d.secured(b"\x84\x24\x00\x00", b"", "STKSSSE"))
        if "PUK" in m.authed:  # the PIN and PUK of the SSSE serve its DFs too
            assert sw == 0x9000
            m.pin_tries, m.challenge = 3, False
        else:
            assert sw == 0x6982  # refused before the MAC: the challenge is still there
            m.challenge, m.long_challenge = True, False

    @rule()
    def power_cycle(self) -> None:
        if self.driver is None:
            return
        self.d.card.power_on()
        self.model.reset()

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def security_state_agrees(self) -> None:
        if self.driver is None:
            return
        s = self.d.card.session
        m = self.model
        assert s.df == m.df
        assert (s.challenge is not None) == m.challenge
        assert ("SSSE" in s.pin_ok) == m.pin_ok
        names = {spec.name for spec in CARD_KEYS if (_home(spec), key_kid(spec)) in s.auths}
        assert names == m.authed
        assert self.d.storage.read("ctr:SSSE/PIN") == bytes((m.pin_tries,))


CardMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCardStateMachine = CardMachine.TestCase
