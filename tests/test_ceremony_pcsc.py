"""Loading a PSAM's key files through PC/SC: pcscd, vpcd and a simulated PSAM in a reader."""

from pathlib import Path

import pytest
from pcsc_stack import SimProcess

from sbkcard.applet_model.psam import demo_admin_keys, psam_atr, psam_content
from sbkcard.cli import main
from sbkcard.keys import Algorithm
from sbkcard.keys.hierarchy import KeySet, demo_keyset
from sbkcard.keys.transcript import verify_transcript
from sbkcard.simulator import SimulatedCard, load_image, save_image
from sbkcard.simulator.pcscd import PcscdStack

pytestmark = pytest.mark.pcsc

TERMINAL = "330100000001"


@pytest.mark.parametrize("algorithm", [Algorithm.DES, Algorithm.SM4], ids=lambda a: a.name)
def test_load_psam_in_a_reader(
    sbk_pcscd: PcscdStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    algorithm: Algorithm,
) -> None:
    admin = {algorithm: demo_admin_keys(algorithm)}
    blank = psam_content(KeySet(algorithm, {}), level=2, terminal_number=TERMINAL, admin=admin)
    image = tmp_path / "psam.json"
    save_image(SimulatedCard.create("psam", blank, psam_atr(TERMINAL)), image)
    with SimProcess(sbk_pcscd, tmp_path / "sim.log", "--card", str(image)) as sim:
        sim.started()
        code = main(
            [
                "ceremony", "load-psam", "--reader", PcscdStack.reader_name(0),
                "--keys", "demo", "--algorithm", algorithm.name, "--level", "2",
                "--terminal-number", TERMINAL, "--operator", "operator",
                "--transcript", str(tmp_path / "load.jsonl"),
            ]
        )  # fmt: skip
        assert code == 0
        assert sim.stop() == 0
    out = capsys.readouterr().out
    expected = psam_content(demo_keyset(algorithm), level=2, terminal_number=TERMINAL, admin=admin)
    assert dict(load_image(image).snapshot().storage) == expected
    loaded = [
        e for e in verify_transcript(tmp_path / "load.jsonl").entries if e.step == "PSAM key loaded"
    ]
    assert loaded and f"{len(loaded)} keys loaded into the PSAM in Virtual PCD 00 00" in out
