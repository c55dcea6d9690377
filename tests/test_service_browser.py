"""The counter page in headless Chromium: page → ``sbkcard serve`` → pcscd → vpcd → ``sbkcard sim``.

Debian's ``chromium`` and ``chromium-driver``, driven by Selenium with the driver's path
given (nothing is downloaded).  A page from an origin not on the allowlist is refused.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pcsc_stack import SimProcess
from service_support import CliServer, free_port
from terminal_support import psam, user_card

from sbkcard.simulator import save_image
from sbkcard.simulator.pcscd import PcscdStack

pytestmark = pytest.mark.pcsc

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not fetch a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if shutil.which(CHROMEDRIVER) is None or shutil.which(CHROMIUM) is None:
        pytest.fail("chromium and chromium-driver are required (make apt)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def counter_url(sbk_pcscd: PcscdStack, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``sbkcard sim --vpcd`` (card + PSAM) and ``sbkcard serve`` over PC/SC; (URL, audit)."""
    card, chip = tmp_path / "card.json", tmp_path / "psam.json"
    save_image(user_card(3), card)
    save_image(psam(3), chip)
    pad = tmp_path / "pinpad"
    pad.write_text("#!/bin/sh\necho 123456\n")
    pad.chmod(0o755)
    audit = tmp_path / "audit.log"
    with SimProcess(
        sbk_pcscd, tmp_path / "sim.log", "--card", str(card), "--psam", str(chip)
    ) as sim:
        sim.started()
        port = free_port()
        server = CliServer(
            tmp_path / "serve.log",
            "serve",
            "--reader",
            sbk_pcscd.reader_name(0),
            "--psam-reader",
            sbk_pcscd.reader_name(1),
            "--pinpad-program",
            str(pad),
            "--port",
            str(port),
            "--log-file",
            str(audit),
            env=sbk_pcscd.env,
        )
        try:
            yield f"http://127.0.0.1:{port}/", audit
        finally:
            server.stop()


def wait_text(driver: object, element: str, text: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def seen(d: object) -> bool:
        return text in d.find_element(By.ID, element).text  # type: ignore[attr-defined]

    WebDriverWait(driver, 30).until(seen)  # type: ignore[arg-type]
    return str(driver.find_element(By.ID, element).text)  # type: ignore[attr-defined]


def test_the_counter_page_reads_pays_and_lists_records(
    browser: object, counter_url: tuple[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    url, audit = counter_url
    driver = browser
    driver.get(url)  # type: ignore[attr-defined]
    wait_text(driver, "status", "ready")
    driver.find_element(By.ID, "read").click()  # type: ignore[attr-defined]
    wait_text(driver, "status", "card read")
    assert driver.find_element(By.ID, "name").text == "张三"  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "ssn").text == "410102199003071230"  # type: ignore[attr-defined]
    amount = driver.find_element(By.ID, "amount")  # type: ignore[attr-defined]
    amount.clear()
    amount.send_keys("3.21")
    driver.find_element(By.ID, "pay").click()  # type: ignore[attr-defined]
    wait_text(driver, "status", "payment done")
    assert "paid 3.21" in driver.find_element(By.ID, "paid").text  # type: ignore[attr-defined]
    driver.find_element(By.ID, "records").click()  # type: ignore[attr-defined]
    wait_text(driver, "status", "purchase record")
    rows = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")  # type: ignore[attr-defined]
    assert [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")][3:] == ["3.21", "0.00"]
    functions = [
        line.split('"function": "')[1].split('"')[0] for line in audit.read_text().splitlines()
    ]
    assert functions == ["iReadCardBas", "iDoDebit", "iReadDebitRecord"]


def test_a_page_from_another_origin_is_refused(
    browser: object, counter_url: tuple[str, Path], tmp_path: Path
) -> None:
    url, audit = counter_url
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        "<!DOCTYPE html><title>start</title><script>\n"
        f"const api = '{url}';\n"
        "const out = [];\n"
        "fetch(api + 'api/iReadCardBas', {method: 'POST', body: JSON.stringify({iType: 1}),\n"
        "  headers: {'Content-Type': 'application/json'}})\n"
        "  .then(r => out.push('http ' + r.status), e => out.push('http refused'))\n"
        "  .then(() => new Promise(done => {\n"
        "    const ws = new WebSocket(api.replace('http', 'ws') + 'ws');\n"
        "    ws.onopen = () => { out.push('ws open'); done(); };\n"
        "    ws.onerror = () => { out.push('ws refused'); done(); };\n"
        "  }))\n"
        "  .then(() => { document.title = out.join(', '); });\n"
        "</script>",
        encoding="utf-8",
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    other = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        from selenium.webdriver.support.ui import WebDriverWait

        driver = browser
        driver.get(f"http://127.0.0.1:{other.server_address[1]}/")  # type: ignore[attr-defined]
        WebDriverWait(driver, 30).until(lambda d: d.title != "start")  # type: ignore[arg-type]
        assert driver.title == "http refused, ws refused"  # type: ignore[attr-defined]
    finally:
        other.shutdown()
        other.server_close()
    assert not audit.exists() or audit.read_text() == ""  # no call reached a card
