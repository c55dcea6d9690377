"""The certificate application against a reference model of its PINs and keys
(a hypothesis state machine): tries count down and lock (3 user, 5 administrator), a
right PIN restores them, a change needs the old PIN, an unblock the administrator PIN
(which resets the user tries; a locked administrator PIN unblocks nothing), power-up
forgets what was verified, signing needs the PIN and a key pair, private keys are never
read."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sbkcard.apdu import CommandAPDU
from sbkcard.applet_model.cert_app import KIOSK_PROFILE, ThirdGenerationCard, cert_app_content
from sbkcard.applet_model.cert_app.applet import pin_hash
from sbkcard.applet_model.cert_app.content import pin_bcd
from sbkcard.keys import sm2
from sbkcard.simulator import SimulatedCard
from sbkcard.simulator.nvm import JournaledNVM
from sbkcard.terminal.errors import CardStatusError, PinBlockedError, WrongPinError
from sbkcard.terminal.operations import pki
from sbkcard.terminal.transports.transport import ReaderSession

P = KIOSK_PROFILE
USER, ADMIN = "123456", "12345678"
PINS = st.sampled_from(["123456", "2468", "13579", "8642097531"])


class CertAppMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        nvm = JournaledNVM(cert_app_content(USER, ADMIN))
        self.card = SimulatedCard(ThirdGenerationCard(nvm), nvm, b"\x3b\x00", kind="user-card-3")
        self.session = ReaderSession(self.card)
        self.user_left, self.admin_left = P.user_tries, P.admin_tries
        self.user_ok = self.admin_ok = False
        self.user_pin, self.admin_pin = USER, ADMIN
        self.public: bytes | None = None
        self.power_up()

    def power_up(self) -> None:
        self.session.power_on()
        pki.select_application(self.session, P)
        self.user_ok = self.admin_ok = False

    @rule()
    def power_cycle(self) -> None:
        self.session.power_off()
        self.power_up()

    @staticmethod
    def attempt(right: bool, left: int, full: int, action: Callable[[], object]) -> int:
        """Run a PIN's ``action`` and check the card's answer against the model: the
        tries left after it (``full`` on success)."""
        try:
            action()
        except WrongPinError as exc:
            assert not right and left > 1
            assert exc.tries_left == left - 1
            return left - 1
        except PinBlockedError:
            assert left <= 1
            return 0
        assert right and left > 0
        return full

    @rule(admin=st.booleans(), right=st.booleans())
    def verify(self, admin: bool, right: bool) -> None:
        verify = pki.verify_admin_pin if admin else pki.verify_user_pin
        pin = (self.admin_pin if admin else self.user_pin) if right else "99999999"
        before = self.admin_left if admin else self.user_left
        full = P.admin_tries if admin else P.user_tries
        left = self.attempt(right, before, full, lambda: verify(self.session, P, pin))
        if admin:
            self.admin_left, self.admin_ok = left, right and left > 0
        else:
            self.user_left, self.user_ok = left, right and left > 0

    @rule(unblock=st.booleans(), right=st.booleans(), new=PINS)
    def new_user_pin(self, unblock: bool, right: bool, new: str) -> None:
        """SKF_ChangePIN spends or restores the user's tries, SKF_UnblockPIN the
        administrator's; on success the new user PIN has all its tries (a locked
        administrator PIN unblocks nothing)."""
        send = pki.unblock_user_pin if unblock else pki.change_user_pin
        proof = (self.admin_pin if unblock else self.user_pin) if right else "99999999"
        before = self.admin_left if unblock else self.user_left
        full = P.admin_tries if unblock else P.user_tries
        left = self.attempt(right, before, full, lambda: send(self.session, P, proof, new))
        if unblock:
            self.admin_left = left
        else:
            self.user_left = left
        if right and left:
            self.user_pin, self.user_left = new, P.user_tries
        self.user_ok = False

    @rule()
    def generate(self) -> None:
        try:
            self.public = pki.generate_signing_key(self.session, P)
        except CardStatusError as exc:
            assert not self.admin_ok and exc.sw == 0x6982
        else:
            assert self.admin_ok

    @rule(message=st.binary(max_size=64))
    def sign(self, message: bytes) -> None:
        e = sm2.digest(self.public or sm2.public_key(b"\x01" * 32), message)
        response = self.session.send(CommandAPDU(0x00, 0x2A, 0x9E, 0x9A, data=e, le=256))
        if not self.user_ok:
            assert response.sw == 0x6982
        elif self.public is None:
            assert response.sw == 0x6A88
        else:
            assert response.sw == 0x9000 and sm2.verify_digest(self.public, e, response.data)

    @rule(fid=st.sampled_from(sorted(P.private_files)))
    def read_private(self, fid: int) -> None:
        self.session.send(CommandAPDU(0x00, 0xA4, 0x02, 0x00, data=fid.to_bytes(2, "big")))
        assert self.session.send(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=32)).sw == 0x6982

    @invariant()
    def counters_match(self) -> None:
        user = self.card.nvm.read("pki:pin:user")
        admin = self.card.nvm.read("pki:pin:admin")
        assert user is not None and admin is not None
        assert (user[0], admin[0]) == (self.user_left, self.admin_left)
        assert user[2:] == pin_hash(pin_bcd(self.user_pin))
        assert admin[2:] == pin_hash(pin_bcd(self.admin_pin))


CertAppMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestCertApp = CertAppMachine.TestCase
