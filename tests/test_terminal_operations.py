"""Terminal operations end to end: simulated 2nd/3rd-generation cards, PSAMs of level 1–3, HSM.

Every operation runs against the simulated card through the terminal's transport only,
authenticating through a simulated PSAM holding 1-, 2- or 3-level keys, or through the
software key service (HSM mode, no PSAM).
"""

from __future__ import annotations

import pytest
from terminal_support import CARD_ID, CARD_NUMBER, NOW, PIN, psam, terminal, user_card

from sbkcard.applet_model.psam import card_key_records, psam_atr, psam_content
from sbkcard.applet_model.user_card import PROFILES
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARDHOLDER,
    DEMO_MEDICAL,
    card_atr,
)
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import CARD_KEYS, KeySet, demo_keyset, derive_card_keys
from sbkcard.keys.mac import tac
from sbkcard.simulator import SimulatedCard
from sbkcard.terminal.connection import AuthPreference, Connection
from sbkcard.terminal.operations import auth, files, pin, purse
from sbkcard.terminal.operations.basic import read_basic_info
from sbkcard.terminal.operations.pinpad import Pin
from sbkcard.terminal.security.hsm import SoftwareKeyService
from sbkcard.terminal.security.sam import DepthIndex, PsamModule
from sbkcard.terminal.terminal import Terminal

GENERATIONS = (2, 3)
LEVELS = (1, 2, 3)


def module_terminal(generation: int, level: int | None) -> tuple[SimulatedCard, Terminal]:
    """A card and a terminal with a PSAM of ``level`` (``None``: HSM mode)."""
    card = user_card(generation)
    if level is None:
        return card, terminal(card, key_service=SoftwareKeyService())
    return card, terminal(card, psam_card=psam(level))


MODULES = [*LEVELS, None]


# -- basic information -------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("level", MODULES)
def test_read_basic_info(generation: int, level: int | None) -> None:
    _card, term = module_terminal(generation, level)
    with term.session() as conn:
        info = read_basic_info(conn)
    assert info.genuine
    holder = info.holder
    assert holder.ssn == DEMO_CARDHOLDER.ssn and holder.name == DEMO_CARDHOLDER.name
    assert holder.gender == "1" and holder.ethnicity == "01" and holder.birthplace == "410100"
    assert holder.birthday == DEMO_CARDHOLDER.birth_date
    assert str(info.issuer.card_id) == CARD_ID and info.issuer.card_number == CARD_NUMBER
    assert info.issuer.version == f"{generation}.00"
    assert info.algorithm is (Algorithm.DES if generation == 2 else Algorithm.SM4)
    assert info.region == "410100"
    assert info.terminal_number == ("410100000001" if level else "000000000000")


@pytest.mark.parametrize(("generation", "apdus", "psam_apdus"), [(2, 6, 10), (3, 8, 15)])
def test_basic_info_takes_at_most_eight_card_apdus(
    generation: int, apdus: int, psam_apdus: int
) -> None:
    card = user_card(generation)
    term = terminal(card, psam_card=psam(3))
    with term.session() as conn:
        info = read_basic_info(conn)
    # SELECT + GET RESPONSE, EF05, INTERNAL AUTH + GET RESPONSE, [GET CHALLENGE,
    # EXTERNAL AUTH (RKSSSE),] EF06
    assert info.apdus == apdus == term.trace.count("card")
    # PSAM (T=0: a SELECT by name answers 61xx): SELECT MF + GET RESPONSE, 0015, 0016,
    # [SELECT DDF1 + GET RESPONSE (SM4),] SELECT ADF + GET RESPONSE, INITIALIZE ENVIRONMENT,
    # then per key DELIVERY SESSION KEY, CIPHER DATA + GET RESPONSE
    assert term.trace.count("psam") == psam_apdus
    commands = [e.exchange.command for e in term.trace.entries if e.device == "card"]
    instructions = [c.ins for c in commands if hasattr(c, "ins")]
    expected = [0xA4, 0xC0, 0xB2, 0x88, 0xC0] + ([0x84, 0x82] if generation == 3 else []) + [0xB2]
    assert instructions == expected


def test_second_generation_reads_without_a_security_module() -> None:
    card = user_card(2)
    term = terminal(card)
    with term.session() as conn:
        info = read_basic_info(conn, authenticate=False)
    assert not info.genuine and info.holder.name == "张三"
    assert info.apdus == 4 and info.terminal_number == "000000000000"


def _deliveries(term: Terminal) -> list[int]:
    """The usage bytes (P1) of the DELIVERY SESSION KEY commands sent to the PSAM."""
    out = []
    for entry in term.trace.entries:
        command = entry.exchange.command
        if entry.device == "psam" and getattr(command, "ins", None) == 0xDE:
            out.append(command.p1)  # type: ignore[union-attr]
    return out


def test_psam_depth_is_probed_once_per_psam() -> None:
    card = user_card(3)
    term = terminal(card, psam_card=psam(1))
    with term.session() as conn:
        read_basic_info(conn)
    # IRK is a national (3-level) key in the key table: 3, then 2, then 1; RKSSSE, of the
    # same table level, goes to depth 1 at once
    assert _deliveries(term) == [0x67, 0x47, 0x27, 0x27]
    term.trace.clear()
    with term.session() as conn:
        read_basic_info(conn)
    assert _deliveries(term) == [0x27, 0x27]  # the index table remembers depth 1


def test_depth_index_guesses() -> None:
    """The index's first guess: the key's depth, its table level's, the PSAM's, the table's."""
    fresh = DepthIndex()
    assert fresh.order(7, 0x08, 3) == [3, 2, 1] and fresh.order(2, 0x01, 1) == [1, 3, 2]
    uniform = DepthIndex()
    uniform.learn(7, 0x08, 3, 2)  # IRK, a national root in table B1, held as provincial
    assert uniform.order(7, 0x0A, 3) == [2, 3, 1]  # RKSSSE: same table level
    assert uniform.order(2, 0x01, 1) == [2, 3, 1]  # DPK: the PSAM ignores the table
    uniform.learn(2, 0x01, 1, 1)  # …but DPK turned out to be a city root
    assert uniform.known(2, 0x01) == 1 and uniform.order(7, 0x2A, 1)[0] == 1  # so is UK2DF04
    assert uniform.order(0x08, 0x42, 2) == [2, 3, 1]  # no single depth any more: the table
    faithful = DepthIndex()
    faithful.learn(7, 0x08, 3, 3)  # IRK where table B1 puts it
    assert faithful.order(2, 0x01, 1) == [1, 3, 2]  # so the table is trusted


AUTH_KEYS = [
    spec.name
    for spec in CARD_KEYS
    if spec.card_kid is not None and spec.psam_id is not None and spec.retries
]
"""The keys a terminal authenticates with through the PSAM (UKSSSE, table level 2, first)."""


def _psam_rejections(term: Terminal) -> int:
    return sum(1 for e in term.trace.entries if e.device == "psam" and e.sw == 0x6A80)


def _visit(conn: Connection) -> None:
    """Every key of the table through the PSAM, then a purchase (DPK)."""
    for name in AUTH_KEYS:
        auth.external_authenticate(conn, name)
    purse.load(conn, 10_000, SoftwareKeyService())
    purse.purchase(conn, account=100, self_paid=0, pooled=0)


@pytest.mark.parametrize(("level", "probes"), [(1, 2), (2, 1), (3, 1)])
def test_a_psam_of_one_level_is_probed_for_its_first_keys_only(level: int, probes: int) -> None:
    """Every key at one depth: 6A80 only for the first key not at its table level (UKSSSE,
    level 2, unless the PSAM is of level 2; then RKSSSE, level 3)."""
    term = terminal(user_card(3), psam_card=psam(level))
    with term.session() as conn:
        _visit(conn)
    assert _psam_rejections(term) == probes
    accepted = [
        e.exchange.command.p1 >> 5  # type: ignore[union-attr]
        for e in term.trace.entries
        if e.device == "psam" and e.sw == 0x9000 and getattr(e.exchange.command, "ins", 0) == 0xDE
    ]
    assert len(accepted) == len(AUTH_KEYS) and set(accepted) == {level}


def _table_b1_psam() -> SimulatedCard:
    """A PSAM holding every key at its key-table level (Part 9 table B1) for 410100."""
    records = []
    for algorithm in (Algorithm.DES, Algorithm.SM4):
        roots = demo_keyset(algorithm).roots
        for level in (1, 2, 3):
            names = {spec.name for spec in CARD_KEYS if spec.psam_levels == level}
            subset = KeySet(algorithm, {n: k for n, k in roots.items() if n in names})
            records += card_key_records(subset, level=level, region="410100")
    blank = [KeySet(Algorithm.DES, {}), KeySet(Algorithm.SM4, {})]
    content = psam_content(blank, extra_keys=records, terminal_number="410100000001")
    return SimulatedCard.create("psam", content, psam_atr("410100000001"))


def test_a_psam_following_table_b1_is_never_probed() -> None:
    term = terminal(user_card(3), psam_card=_table_b1_psam())
    with term.session() as conn:
        _visit(conn)
    used = [spec for spec in CARD_KEYS if spec.name in AUTH_KEYS]
    assert {spec.psam_levels for spec in used} == {1, 2, 3}
    assert _psam_rejections(term) == 0
    assert _deliveries(term) == [spec.psam_usage for spec in used]


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("level", MODULES)
def test_external_authentication_with_every_key(generation: int, level: int | None) -> None:
    _card, term = module_terminal(generation, level)
    with term.session() as conn:
        done = [auth.external_authenticate(conn, name) for name in AUTH_KEYS]
    assert [d.key for d in done] == AUTH_KEYS
    assert {d.checked_by for d in done} == {"HSM" if level is None else "PSAM"}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_card_authenticity(generation: int) -> None:
    _card, term = module_terminal(generation, 2)
    with term.session() as conn:
        result = auth.check_authenticity(conn)
    assert result.checked_by == "PSAM" and len(result.answer) == 8
    assert result.factor != result.original


# -- files by address --------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("prefer", [AuthPreference.PIN, AuthPreference.KEY])
def test_read_medical_data_by_address(generation: int, prefer: AuthPreference) -> None:
    _card, term = module_terminal(generation, 3)
    with term.session() as conn:
        result = files.read_address(conn, "SSSEEF05|01|07|$DF04EF05|81|84|8F|$", prefer=prefer)
        assert conn.pin_verified is (prefer is AuthPreference.PIN)
        assert ("RK1DF04" in conn.granted) is (prefer is AuthPreference.KEY)
    expected = f"SSSEEF05|{CARD_ID}|{CARD_NUMBER}|$DF04EF05|{DEMO_MEDICAL.scheme}|410100|2|$"
    assert result.national() == expected


def test_a_whole_file_when_no_item_is_named() -> None:
    _card, term = module_terminal(2, 3)
    with term.session() as conn:
        result = files.read_address(conn, "SSSEEF05|$")
    (values,) = [f.values for f in result.files]
    assert values == (
        CARD_ID,
        "3",
        "2.00",
        "915600000241010041010001",
        "20240101",
        "20340101",
        CARD_NUMBER,
    )


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("level", MODULES)
def test_write_and_read_back(generation: int, level: int | None) -> None:
    _card, term = module_terminal(generation, level)
    with term.session() as conn:
        written = files.write_address(conn, "DF01EF0A|37|38|$", "DF01EF0A|CHN|13|$")
        assert written.verified == ("DF01EF0A",)
        back = files.read_address(conn, "DF01EF0A|37|38|39|$", prefer=AuthPreference.KEY)
    assert back.national() == "DF01EF0A|CHN|13||$"


def test_repeated_items_tag_n() -> None:
    _card, term = module_terminal(3, 3)
    data = "DF01EF15|001^080^郑州大学^|002^081^北京大学^|$"
    with term.session() as conn:
        files.write_address(conn, "DF01EF15|40:1|40:2|$", data)
        one = files.read_address(conn, "DF01EF15|40:2|$", prefer=AuthPreference.KEY)
        both = files.read_address(conn, "DF01EF15|2A|40:2|40:1|$", prefer=AuthPreference.KEY)
    assert one.national() == "DF01EF15|002^081^北京大学^|$"
    assert both.national() == "DF01EF15||002^081^北京大学^|001^080^郑州大学^|$"


def test_cyclic_file_append_and_read() -> None:
    _card, term = module_terminal(2, 2)
    with term.session() as conn:
        for number in range(1, 11):  # 10 records in an 8-record cyclic file
            files.write_address(conn, "DF04EF15|$", f"DF04EF15|{number}^{number % 9 + 1}^|$")
        everything = files.read_address(conn, "DF04EF15|$", prefer=AuthPreference.KEY)
        newest = files.read_address(conn, "DF04EF15|1|2|$", prefer=AuthPreference.KEY)
    records = everything.files[0].values
    assert len(records) == 8 and records[0] == "10^2^" and records[-1] == "3^4^"
    assert newest.national() == "DF04EF15|10^2^|9^1^|$"


def test_transparent_file_round_trip() -> None:
    _card, term = module_terminal(3, 3)
    fingerprint = bytes(range(256)) * 3
    with term.session() as conn:
        files.write_address(conn, "SSSEEF07|$", f"SSSEEF07|{fingerprint.hex().upper()}|$")
        back = files.read_address(conn, "SSSEEF07|$")
    assert back.files[0].values == (fingerprint.hex().upper(),)


# -- PIN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("level", [3, None])
def test_pin_life_cycle(generation: int, level: int | None) -> None:
    _card, term = module_terminal(generation, level)
    with term.session() as conn:
        assert pin.pin_tries(conn) == 3
        pin.verify_pin(conn, Pin(PIN))
        pin.change_pin(conn, Pin(PIN), Pin("864209"))
        pin.verify_pin(conn, Pin("864209"))
        for _ in range(3):
            with pytest.raises(Exception, match="PIN"):
                pin.verify_pin(conn, Pin("000000"))
        assert pin.pin_tries(conn) == 0
        assert pin.unblock_pin(conn).tries_left == 3
        pin.verify_pin(conn, Pin("864209"))
        if level is None:  # PIN reload needs an encryption key: HSM only (see sam.py)
            pin.reload_pin(conn, Pin("13579"))
            pin.verify_pin(conn, Pin("13579"))


def test_pin_from_the_pin_pad() -> None:
    card = user_card(2)
    term = terminal(card, psam_card=psam(3))
    with term.session() as conn:
        pin.verify_pin(conn)
    assert term.pinpad is not None
    assert not any("123456" in line for line in term.trace.text().splitlines())
    assert "******" in term.trace.text()


# -- the medical purse -------------------------------------------------------------------


def _dtk(generation: int) -> bytes:
    profile = PROFILES[generation]
    atr = card_atr(profile, DEMO_CARD_ID)
    return derive_card_keys(demo_keyset(profile.algorithm), "410100", atr, ["DTK"])["DTK"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("level", MODULES)
def test_purchase_load_balance_records(generation: int, level: int | None) -> None:
    _card, term = module_terminal(generation, level)
    with term.session() as conn:
        loaded = purse.load(conn, 50_000, SoftwareKeyService())
        assert loaded.balance_after == 50_000
        done = purse.purchase(conn, account=2_000, self_paid=1_250, pooled=3_000)
        balance = purse.balance(conn)
        records = purse.transactions(conn)
    assert done.balance_before == 50_000 and balance.account == 48_000
    assert balance.self_paid_total == 1_250 and balance.pooled_total == 3_000
    assert balance.year == 2024
    terminal_number = bytes.fromhex(done.terminal_number)
    tac_input = (
        (2_000).to_bytes(4)
        + (1_250).to_bytes(4)
        + (3_000).to_bytes(4)
        + b"2"
        + terminal_number
        + done.terminal_seq.to_bytes(4)
        + bytes.fromhex("20240601103000")
    )
    alg = Algorithm.DES if generation == 2 else Algorithm.SM4
    assert done.tac == tac(_dtk(generation), tac_input, alg)
    newest, oldest = records
    assert (newest.kind, newest.account, newest.self_paid, newest.pooled) == ("2", 2000, 1250, 3000)
    assert newest.time == NOW.strftime("%Y%m%d%H%M%S") and newest.terminal == done.terminal_number
    assert (oldest.kind, oldest.account) == ("1", 50_000)


def test_transaction_proof_after_a_purchase() -> None:
    _card, term = module_terminal(3, 3)
    with term.session() as conn:
        done = purse.purchase(conn, account=0, self_paid=100, pooled=200)
        mac2, proof_tac = purse.transaction_proof(conn, purse.PURCHASE_TYPE, done.card_seq)
    assert proof_tac == done.tac and mac2 == done.mac2


def test_psam_module_reads_its_files() -> None:
    psam_card = psam(2, terminal_number="410102000077")
    from sbkcard.terminal.transports.transport import ReaderSession

    module = PsamModule(ReaderSession(psam_card, device="psam"))
    module.open()
    assert module.terminal_number.hex() == "410102000077"
    assert module.terminal_region == "410102"
    assert len(module.public_info) == 15
    assert psam_card.atr == psam_atr("410102000077")
    module.close()
