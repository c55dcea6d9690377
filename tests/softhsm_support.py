"""A private SoftHSM2 token directory for the tests that need a PKCS#11 token."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sbkcard.keys.pkcs11_store import SOFTHSM2_MODULE

SO_PIN = "97531"


@contextmanager
def softhsm_tokens(root: Path, pin: str, *labels: str) -> Iterator[Path]:
    """Fresh tokens ``labels`` (user PIN ``pin``) in a token directory under ``root``;
    inside the block ``$SOFTHSM2_CONF`` names its configuration file (yielded)."""
    util = shutil.which("softhsm2-util")
    assert util is not None, "softhsm2 is not installed: run `make apt`"
    assert Path(SOFTHSM2_MODULE).exists(), f"{SOFTHSM2_MODULE} missing: run `make apt`"
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        for label in labels:
            subprocess.run(
                [
                    util,
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--pin",
                    pin,
                    "--so-pin",
                    SO_PIN,
                ],
                check=True,
                capture_output=True,
            )
        yield conf
    finally:
        if previous is None:
            del os.environ["SOFTHSM2_CONF"]
        else:
            os.environ["SOFTHSM2_CONF"] = previous
