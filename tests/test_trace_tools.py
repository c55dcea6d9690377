"""Trace decoding and replay (sbkcard.applet_model.traces, ``sbkcard trace``).

Traces come from real flows run in-process: the terminal reading a card through a PSAM
(its own device-prefixed, masked trace), a purchase, PIN change and unblock recorded
unmasked, the personalisation of a blank card, and ``sbkcard card send --trace``.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from terminal_support import counter_rng, psam, terminal

from sbkcard.apdu import builders as b
from sbkcard.apdu.command import CommandAPDU
from sbkcard.apdu.errors import TraceFormatError
from sbkcard.apdu.response import ResponseAPDU
from sbkcard.apdu.secure_messaging import wrap, wrap_mac
from sbkcard.apdu.trace import Exchange, Tracer, format_trace, is_sensitive
from sbkcard.applet_model.records import Cardholder, MedicalInsurance
from sbkcard.applet_model.traces import (
    Decoded,
    RecordedRandom,
    ReplayError,
    Verdict,
    decode_trace,
    decoded_text,
    read_trace,
    replay_trace,
)
from sbkcard.applet_model.user_card import PROFILES, UserCard
from sbkcard.applet_model.user_card.personalise import (
    DEMO_CARD_ID,
    DEMO_CARD_NUMBER,
    DEMO_CARDHOLDER,
    DEMO_EXPIRY,
    DEMO_ISSUE_DATE,
    DEMO_MEDICAL,
    DEMO_PIN,
    blank_card_content,
    card_atr,
    demo_card_content,
    demo_transport_key,
    personalise,
)
from sbkcard.cli import main
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import demo_keyset, derive_card_keys
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.nvm import JournaledNVM
from sbkcard.terminal import SoftwareKeyService, read_basic_info
from sbkcard.terminal.operations import pin as pin_operations
from sbkcard.terminal.operations import purse
from sbkcard.terminal.operations.pinpad import Pin

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "25-traces.rst"
NEW_PIN = "654321"


# -- helpers ---------------------------------------------------------------------------------


def seeded_card(generation: int, content: dict[str, bytes] | None = None) -> SimulatedCard:
    """A demo user card whose challenges come from a counter (outputs do not vary)."""
    profile = PROFILES[generation]
    nvm = JournaledNVM(content if content is not None else demo_card_content(profile))
    applet = UserCard(nvm, random=counter_rng())
    atr = card_atr(profile, DEMO_CARD_ID)
    return SimulatedCard(applet, nvm, atr, kind="user-card", profile=generation)


def ticking() -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: next(ticks) / 1000


class UnmaskedSlot:
    """A reader slot recording every APDU unmasked, as ``<device> <trace line>``."""

    def __init__(self, card: SimulatedCard, device: str, lines: list[str]) -> None:
        self.card = card
        self.tracer = Tracer(
            card.transmit, mask=False, clock=ticking(), sink=lambda t: lines.append(f"{device} {t}")
        )

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> bytes:
        return self.card.power_on()

    def reset(self) -> bytes:
        return self.card.reset()

    def power_off(self) -> None:
        self.card.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        return self.tracer(apdu)


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def rows_of(decoded: Decoded) -> dict[str, str]:
    """The response items of an exchange: label → value."""
    return {row.label.strip(): row.value for row in decoded.items}


def find(decoded: list[Decoded], name: str, note: str) -> Decoded:
    """The first exchange called ``name`` with a note containing ``note``."""
    return next(d for d in decoded if d.name == name and any(note in n for n in d.notes))


@pytest.fixture(scope="module")
def purchase_flow(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """An unmasked, device-prefixed trace of a terminal session, and the images before it.

    Basic information through the PSAM, a load and a purchase, balances, CHANGE PIN
    (123456 → 654321), PIN unblock (secure messaging), the transaction records.
    """
    directory = tmp_path_factory.mktemp("flow")
    card, sam = seeded_card(3), psam()
    card_image, psam_image = directory / "card.json", directory / "psam.json"
    save_image(card, card_image)
    save_image(sam, psam_image)
    lines: list[str] = []
    counter = terminal(
        UnmaskedSlot(card, "card", lines),
        psam_card=UnmaskedSlot(sam, "psam", lines),
    )
    with counter.session() as conn:
        read_basic_info(conn, authenticate=True)
        purse.load(conn, 10000, SoftwareKeyService())
        purse.purchase(conn, account=1234, self_paid=100, pooled=50)
        purse.balance(conn)
        pin_operations.change_pin(conn, Pin(DEMO_PIN), Pin(NEW_PIN))
        pin_operations.unblock_pin(conn)
        purse.transactions(conn)
    return "".join(line + "\n" for line in lines), card_image, psam_image


@pytest.fixture(scope="module")
def personalisation(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict[str, bytes]]:
    """An unmasked trace of personalising a blank 3rd-generation card, its blank image,
    and the card keys it loaded (and the transport key, as ``"transport"``)."""
    profile = PROFILES[3]
    atr = card_atr(profile, DEMO_CARD_ID)
    transport = demo_transport_key(profile.algorithm)
    blank = seeded_card(3, blank_card_content(transport, atr=atr, algorithm=profile.algorithm))
    image = tmp_path_factory.mktemp("perso") / "blank.json"
    save_image(blank, image)
    blank.power_on()
    tracer = Tracer(blank.transmit, mask=False, clock=ticking())
    keys = derive_card_keys(demo_keyset(profile.algorithm), DEMO_CARD_ID.region, atr)
    personalise(
        tracer,
        transport,
        profile,
        DEMO_CARDHOLDER,
        keys,
        card_id=DEMO_CARD_ID,
        card_number=DEMO_CARD_NUMBER,
        issue_date=DEMO_ISSUE_DATE,
        expiry=DEMO_EXPIRY,
        files={"SSSE/DF04/EF05": DEMO_MEDICAL},
    )
    return tracer.text(), image, {**keys, "transport": transport}


# -- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", [2, 3])
def test_terminal_trace_decodes_cardholder_and_issuer_items(generation: int) -> None:
    card, sam = seeded_card(generation), psam()
    counter = terminal(card, psam_card=sam)
    with counter.session() as conn:
        info = read_basic_info(conn, authenticate=True)
    assert info.holder.name == "张三"
    decoded = decode_trace(read_trace(counter.trace.text()))

    assert {d.device for d in decoded} == {"card", "psam"}
    select = find(decoded, "SELECT", "by DF name 7378312E73682EC9E7BBE1B1A3D5CF")
    assert select.device == "card" and select.location == "MF"
    assert any("→ SSSE 社会保障系统环境" in n for n in select.notes)
    fci = decoded[select.number]  # the GET RESPONSE right after it
    assert fci.name == "GET RESPONSE" and f"#{select.number} SELECT" in fci.notes[0]
    algorithm = "SM4" if generation == 3 else "DES/3DES"
    assert rows_of(fci)["86"] == f"{PROFILES[generation].algorithm.value:02X} {algorithm}"

    issuer = find(decoded, "READ RECORD", "SSSE/EF05 发卡机构数据文件")
    assert issuer.location.startswith("SSSE")
    assert "records 1 to last" in issuer.notes
    items = rows_of(issuer)
    assert items["07"] == DEMO_CARD_NUMBER
    assert items["01"] == DEMO_CARD_ID.hex
    assert items["03"] == PROFILES[generation].version
    card_number = next(row for row in issuer.items if row.label == "07")
    assert (card_number.zh, card_number.en) == ("卡号", "card number")

    holder = find(decoded, "READ RECORD", "SSSE/EF06 持卡人的基本信息文件")
    names = {row.label: (row.zh, row.en, row.value) for row in holder.items}
    assert names["09"] == ("姓名", "name", "张三")
    assert names["08"][2] == DEMO_CARDHOLDER.ssn
    assert names["0D"][2] == DEMO_CARDHOLDER.birth_date.isoformat()

    internal = next(d for d in decoded if d.name == "INTERNAL AUTHENTICATE")
    assert any("KID 00" in n and "IRK" in n for n in internal.notes)
    delivery = [d for d in decoded if d.name == "DELIVERY SESSION KEY"]
    assert any("= IRK" in n for d in delivery for n in d.notes)
    public = find(decoded, "READ BINARY", "by SFI 15")
    assert public.device == "psam" and "0015" in {row.label for row in public.items}


def test_purse_pin_and_secure_messaging_decoded(purchase_flow: tuple[str, Path, Path]) -> None:
    text, _, _ = purchase_flow
    decoded = decode_trace(read_trace(text))

    purchase = next(d for d in decoded if d.name == "INITIALIZE FOR PURCHASE")
    fields = {row.zh: row.value for row in purchase.fields}
    assert fields["个人帐户支付金额"] == "12.34 元 (1234 fen)"
    assert fields["统筹基金支付金额"] == "0.50 元 (50 fen)"
    answer = decoded[purchase.number]
    assert answer.name == "GET RESPONSE"
    assert {row.zh: row.value for row in answer.items}["CIA 余额"] == "100.00 元 (10000 fen)"

    balance = next(d for d in decoded if d.name == "GET BALANCE")
    assert balance.items[0].value == "87.66 元 (8766 fen)"  # 100.00 − 12.34

    log = find(decoded, "READ RECORD", "SSSE/DF04/EF08")
    log_items = {(row.label, row.zh): row.value for row in log.items}
    assert log_items["#1", "个人账户交易金额"] == "1234"
    assert log_items["#1", "交易时间"] == "2024-06-01 10:30:00"

    unblock = next(d for d in decoded if d.name == "PIN UNBLOCK")
    layout = next(n for n in unblock.notes if n.startswith("secure messaging"))
    assert "84 24 00 00 ‖ Lc 04 ‖ MAC ********" in layout
    assert "(data bytes 1–4, APDU bytes 6–9)" in layout and "STKSSSE" in layout
    external = [d for d in decoded if d.name == "EXTERNAL AUTHENTICATE"]
    assert any("= PUK" in n for d in external for n in d.notes)


def test_secure_messaging_layout_and_written_items() -> None:
    record = MedicalInsurance(card_usage="1").encode()[-3:]  # the 8F record, "1"
    command = wrap_mac(b.update_record(0x10, record, sfi=5), bytes(16), Algorithm.SM4)
    raw = bytes(command)
    trace = format_trace(
        [
            Exchange(b.select_by_name(bytes.fromhex("D15600000503")), ResponseAPDU(b"", 0x9000)),
            Exchange(command, ResponseAPDU(b"", 0x9000)),
        ]
    )
    update = decode_trace(read_trace(trace))[1]
    assert update.location == "SSSE/DF04"
    layout = next(n for n in update.notes if n.startswith("secure messaging"))
    body = len(command.data) - 4
    mac = command.data[-4:].hex().upper()
    first, last = 5 + body + 1, 5 + len(command.data)
    assert f"‖ data ({body} bytes) {record.hex().upper()} ‖ MAC {mac}" in layout
    assert f"APDU bytes {first}–{last}" in layout
    assert raw[first - 1 : last].hex().upper() == mac
    assert "STKDF04" in layout
    assert [(r.label, r.zh, r.value) for r in update.fields] == [("8F", "医疗保险用卡方式", "1")]


def test_enciphered_secure_messaging_is_masked_with_its_layout() -> None:
    plain = b.pin_reload(b.encode_pin(NEW_PIN))
    command = wrap(plain, bytes(range(16)), Algorithm.SM4, encrypt=True)
    assert len(command.data) == 20  # LD ‖ PIN ‖ 80-pad enciphered (16), MAC (4)
    trace = format_trace(
        [
            Exchange(b.select_ssse(), ResponseAPDU(b"", 0x9000)),
            Exchange(command, ResponseAPDU(b"", 0x9000)),
        ],
        mask=False,
    )
    assert command.data.hex().upper() in trace
    reload = decode_trace(read_trace(trace))[1]
    assert reload.name == "PIN RELOAD"
    layout = next(n for n in reload.notes if n.startswith("secure messaging"))
    assert layout.startswith(
        "secure messaging: 84 24 00 01 ‖ Lc 14 ‖ [LD ‖ data] enciphered (16 bytes) "
        + "**" * 16
        + " ‖ MAC ******** (data bytes 17–20, APDU bytes 22–25)"
    )
    assert "STKSSSE" in layout
    shown = "\n".join(reload.lines())
    assert command.data[:16].hex().upper() not in shown
    assert command.data[-4:].hex().upper() not in shown


def test_a_long_name_reads_back_from_09_and_4E() -> None:
    name = "欧阳" + "张" * 18  # 40 GBK bytes: 30 in 09, 10 in 4E (S3 §10.2)
    body = Cardholder(name=name).encode()
    trace = format_trace(
        [
            Exchange(b.select_ssse(), ResponseAPDU(b"", 0x9000)),
            Exchange(
                b.read_record(1, sfi=6, mode=b.RecordMode.FROM_RECORD_TO_LAST, le=len(body)),
                ResponseAPDU(body, 0x9000),
            ),
        ]
    )
    rows = rows_of(decode_trace(read_trace(trace))[1])
    assert rows["09"] + rows["4E"] == name
    assert rows["09"] == name[:15]


def test_personalisation_trace_names_cos_commands_and_keys(
    personalisation: tuple[str, Path, dict[str, bytes]],
) -> None:
    text, _, _ = personalisation
    decoded = decode_trace(read_trace(text))
    names = {d.name for d in decoded}
    assert {"CREATE FILE (sbkcard COS)", "WRITE KEY (sbkcard COS)", "WRITE PIN (sbkcard COS)"} <= (
        names
    )
    write_mkssse = next(d for d in decoded if d.name.startswith("WRITE KEY"))
    assert any("MKSSSE" in n for n in write_mkssse.notes)
    created = [n for d in decoded if d.name.startswith("CREATE FILE") for n in d.notes]
    assert any(n.startswith("creates SSSE/DF04/EF05 医疗保险基本信息文件") for n in created)
    written = [row for d in decoded if d.name == "UPDATE RECORD" for row in d.fields]
    assert ("09", "姓名", "张三") in {(r.label, r.zh, r.value) for r in written}
    assert ("07", "卡号", DEMO_CARD_NUMBER) in {(r.label, r.zh, r.value) for r in written}


# -- secrets -----------------------------------------------------------------------------------


def test_pins_never_printed_even_from_an_unmasked_trace(
    purchase_flow: tuple[str, Path, Path], tmp_path: Path
) -> None:
    text, _, _ = purchase_flow
    old, new = b.encode_pin(DEMO_PIN).hex().upper(), b.encode_pin(NEW_PIN).hex().upper()
    assert old in text and f"{old}FF{new}" in text  # the trace itself holds them in clear
    path = tmp_path / "flow.trace"
    path.write_text(text, encoding="utf-8")
    code, out = run_cli("trace", "decode", str(path))
    assert code == 0
    assert "VERIFY" in out and "CHANGE PIN" in out
    assert old not in out and new not in out
    assert "个人密码 PIN: ****** (masked)" in out


def test_key_material_never_printed(personalisation: tuple[str, Path, dict[str, bytes]]) -> None:
    text, _, keys = personalisation
    out = decoded_text(decode_trace(read_trace(text)))
    for name, key in keys.items():
        assert key.hex().upper() not in out, name
    loads = [ex for ex in read_trace(text) if isinstance(ex.exchange.command, CommandAPDU)]
    enciphered = [
        ex.exchange.command.data.hex().upper()
        for ex in loads
        if isinstance(ex.exchange.command, CommandAPDU) and ex.exchange.command.ins == 0xD4
    ]
    assert len(enciphered) > 50 and all(data in text for data in enciphered)
    assert not [data for data in enciphered if data in out]


_INS = st.sampled_from(
    [0x20, 0x24, 0x5E, 0xD4, 0xFA, 0xA4, 0xB2, 0xB0, 0xDC, 0x82, 0x84, 0x28, 0xDE, 0xC0]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0x00, 0x04, 0x80, 0x84, 0xB0, 0xBF]),
            _INS,
            st.integers(0, 255),
            st.integers(0, 255),
            st.binary(min_size=0, max_size=40),
            st.binary(max_size=30),
            st.sampled_from([0x9000, 0x6110, 0x6C08, 0x6982, 0x63C2]),
            st.sampled_from(["card", "psam"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_any_trace_decodes_and_hides_secret_data(
    commands: list[tuple[int, int, int, int, bytes, bytes, int, str]],
) -> None:
    lines = []
    for cla, ins, p1, p2, data, answer, sw, device in commands:
        exchange = Exchange(CommandAPDU(cla, ins, p1, p2, data), ResponseAPDU(answer, sw))
        lines += [f"{device} {line}" for line in exchange.lines(mask=False)]
    decoded = decode_trace(read_trace("\n".join(lines)))
    assert len(decoded) == len(commands)
    for one, (cla, ins, p1, _, data, _, _, _) in zip(decoded, commands, strict=True):
        shown = "\n".join([one.command, *one.notes, *map(str, one.fields)])
        if is_sensitive(cla, ins, p1) and len(data) >= 3:
            assert data.hex().upper() not in shown
            assert "*" * (2 * len(data)) in one.command


# -- replay --------------------------------------------------------------------------------


def _send_trace(image: Path) -> str:
    code, out = run_cli(
        "card",
        "send",
        str(image),
        "--dry-run",
        "--trace",
        "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00",
        "00C000001E",
        "00B2012D40",
        "00B2013500",
        "00B201355B",
    )
    assert code == 0
    return out


@pytest.fixture
def card_image(tmp_path: Path) -> Path:
    image = tmp_path / "card.json"
    code, _ = run_cli("card", "new", "--profile", "2", "--out", str(image))
    assert code == 0
    return image


def test_replay_of_a_card_send_trace_matches(card_image: Path, tmp_path: Path) -> None:
    trace = tmp_path / "send.trace"
    trace.write_text(_send_trace(card_image), encoding="utf-8")
    before = card_image.read_bytes()
    code, out = run_cli("trace", "replay", str(trace), "--card", str(card_image))
    assert code == 0, out
    verdicts = [line.split()[-1] for line in out.splitlines() if line.startswith("#")]
    assert verdicts == ["matches"] * 5  # a 6Cxx and the resend with the right Le included
    assert out.rstrip().endswith("5 exchanges replayed with the recorded randomness: 5 matches")
    assert card_image.read_bytes() == before  # the image is not modified

    code, decoded = run_cli("trace", "decode", str(trace))
    assert code == 0
    assert "09 姓名 name: 张三" in decoded and f"07 卡号 card number: {DEMO_CARD_NUMBER}" in decoded
    assert "<< 6C5B  wrong Le" in decoded


def test_replay_reports_a_tampered_response(card_image: Path, tmp_path: Path) -> None:
    text = _send_trace(card_image)
    genuine = DEMO_CARD_NUMBER.encode().hex().upper()
    forged = b"A00000012".hex().upper()
    assert text.count(genuine) == 1
    trace = tmp_path / "tampered.trace"
    trace.write_text(text.replace(genuine, forged), encoding="utf-8")

    code, out = run_cli("trace", "replay", str(trace), "--card", str(card_image))
    assert code == 1
    lines = out.splitlines()
    bad = [line for line in lines if line.startswith("#") and line.endswith("DIFFERS")]
    assert len(bad) == 1 and "READ RECORD" in bad[0] and "line 5" in bad[0]
    recorded, replayed = lines[lines.index(bad[0]) + 1 : lines.index(bad[0]) + 3]
    assert forged in recorded and genuine in replayed
    assert out.rstrip().endswith("4 matches, 1 DIFFERS")


def test_replay_gives_back_recorded_randomness(purchase_flow: tuple[str, Path, Path]) -> None:
    text, card_image, psam_image = purchase_flow
    traced = read_trace(text)

    def devices(random: bool) -> tuple[dict[str, SimulatedCard], dict[str, RecordedRandom]]:
        sources = {"card": RecordedRandom(), "psam": RecordedRandom()} if random else {}
        loaded = {"card": load_image(card_image), "psam": load_image(psam_image)}
        out = {}
        for name, device in loaded.items():
            if random:
                applet_class = type(device.applet)
                applet = applet_class(device.nvm, random=sources[name])
                device = SimulatedCard(applet, device.nvm, device.atr, kind=device.kind)
            device.power_on()
            out[name] = device
        return out, sources

    replayed, sources = devices(random=True)
    transmit = {name: d.transmit for name, d in replayed.items()}
    outcomes = replay_trace(traced, transmit, randoms=sources)
    assert [o.verdict for o in outcomes] == [Verdict.MATCH] * len(traced)
    assert len(outcomes) > 50

    fresh, _ = devices(random=False)
    outcomes = replay_trace(traced, {name: d.transmit for name, d in fresh.items()})
    by_name = {o.number: o for o in outcomes}
    decoded = decode_trace(traced)
    challenges = [d.number for d in decoded if d.name == "GET CHALLENGE"]
    assert challenges and all(by_name[n].verdict is Verdict.RANDOM for n in challenges)
    assert all(by_name[n].reason == "the card's challenge" for n in challenges)
    select = next(d.number for d in decoded if d.name == "SELECT")
    assert by_name[select].verdict is Verdict.MATCH
    # the cardholder file needed RKSSSE: without the recorded challenge it is refused
    holder = find(decoded, "READ RECORD", "SSSE/EF06").number
    assert by_name[holder].verdict is Verdict.DIFFERS
    assert by_name[holder].actual == bytes.fromhex("6982")


def test_personalisation_replays_exactly_on_the_blank_card(
    personalisation: tuple[str, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    text, image, _ = personalisation
    trace = tmp_path / "perso.trace"
    trace.write_text(text, encoding="utf-8")
    code, out = run_cli("trace", "replay", str(trace), "--card", str(image))
    assert code == 0, out
    count = len(read_trace(text))
    assert out.rstrip().endswith(
        f"{count} exchanges replayed with the recorded randomness: {count} matches"
    )
    assert "WRITE KEY (sbkcard COS)" in out

    code, out = run_cli("trace", "replay", str(trace), "--card", str(image), "--fresh-random")
    assert code == 1
    assert "GET CHALLENGE" in out and "differs (random: the card's challenge)" in out


def test_a_masked_trace_cannot_be_replayed(card_image: Path, tmp_path: Path) -> None:
    card = load_image(card_image)
    card.power_on()
    tracer = Tracer(card.transmit)  # masked
    tracer(bytes(b.select_ssse()))
    tracer(bytes(b.verify(DEMO_PIN)))
    trace = tmp_path / "masked.trace"
    trace.write_text(tracer.text(), encoding="utf-8")
    with pytest.raises(TraceFormatError, match=r"trace line 3.*exchange #2.*masked"):
        replay_trace(read_trace(tracer.text()), {"card": card.transmit})
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code, _ = run_cli("trace", "replay", str(trace), "--card", str(card_image))
    assert code == 1 and "is masked" in stderr.getvalue()


def test_replay_needs_every_device(purchase_flow: tuple[str, Path, Path]) -> None:
    text, card_image, _ = purchase_flow
    card = load_image(card_image)
    with pytest.raises(ReplayError, match=r"to psam"):
        replay_trace(read_trace(text), {"card": card.transmit})


# -- reading ----------------------------------------------------------------------------------


def test_read_trace_devices_and_errors() -> None:
    traced = read_trace(
        "card >> 00 84 00 00 Le=08\n"
        "card << 0102030405060708 9000\n"
        "psam >> 00 84 00 00 Le=04\n"
        "psam << 01020304 9000\n"
        ">> 00 84 00 00 Le=04\n",
        device="psam",
    )
    assert [(t.device, t.line) for t in traced] == [("card", 1), ("psam", 3), ("psam", 5)]
    assert traced[2].exchange.response is None
    with pytest.raises(TraceFormatError, match=r"trace line 2.*psam response follows a card"):
        read_trace("card >> 00 84 00 00 Le=08\npsam << 9000\n")
    with pytest.raises(TraceFormatError, match="trace line 2"):
        read_trace(">> 00 84 00 00 Le=08\n<< 123\n")


def test_decode_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(">> 00 20 00 00 Lc=03 123456\n<< 63C2\n"))
    code, out = run_cli("trace", "decode", "-")
    assert code == 0
    assert "123456" not in out and "2 tries left" in out


def test_guide_examples() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
