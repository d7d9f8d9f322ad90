"""The playground and /docs in a real headless Chromium, against a real `python -m app` process.

Debian's `chromium` and `chromium-driver` (driven by Selenium); nothing is downloaded at run
time, and Chromium resolves no host but 127.0.0.1, so a page that needed the network would fail
here. Skipped, saying why, only where no Chromium is installed (`.ci/run` installs it).
`PLAYGROUND_MODEL_DIR=model/bundles PLAYGROUND_SCREENSHOT=docs/playground.png` runs it on the
shipped models and saves the README's screenshot (`PLAYGROUND_SENTENCES_SCREENSHOT=
docs/sentences_playground.png` that of docs/sentences.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import server, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1100,1300",
)
POSITIVE = "A wonderful, moving film with superb acting. I loved every minute of it!"
NEGATIVE = "Dull, boring and far too long. The worst film I have seen this year."
WAIT_S = 30


def chrome(profile: Path):  # -> selenium WebDriver (imported late: skip cleanly without it)
    if not (Path(CHROMIUM).is_file() and Path(DRIVER).is_file()):
        pytest.skip(
            f"no Chromium here ({CHROMIUM}, {DRIVER} missing): "
            "apt-get install -y chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.fixture(scope="module")
def site(bundles_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """(driver, base url, scratch folder): one server and one browser for this module."""
    work = tmp_path_factory.mktemp("browser")
    model_dir = Path(os.environ.get("PLAYGROUND_MODEL_DIR", bundles_root))
    shipped = "PLAYGROUND_MODEL_DIR" in os.environ
    env = {"SENTIMENT_DEFAULT_MODEL": "sentiment-en"} if shipped else {}
    with server(model_dir.resolve(), work / "server.log", **env) as (_, url):
        asyncio.run(wait_until(f"{url}/ready", 200, timeout=60))
        driver = chrome(work / "profile")
        try:
            yield driver, url, work
        finally:
            driver.quit()


def until(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition, message)


def analyse(driver, text: str) -> None:
    """Type `text` and submit with Ctrl+Enter, then wait for its answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.execute_script("document.getElementById('label').textContent = ''")
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    until(driver, lambda d: d.find_element(By.ID, "label").text, f"no answer for {text!r}")


def expected_label(url: str, text: str) -> str:
    answer = httpx.post(f"{url}/predict", json={"text": text}, timeout=10).json()
    return answer["predictions"][0]["label"]


def test_playground_shows_label_bars_and_highlighted_words(site: tuple) -> None:
    from selenium.webdriver.common.by import By

    driver, url, work = site
    driver.get(f"{url}/")
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    for text in (NEGATIVE, POSITIVE):  # the positive one stays on screen for the screenshot
        analyse(driver, text)
        assert driver.find_element(By.ID, "label").text == expected_label(url, text)
        marks = driver.find_elements(By.CSS_SELECTOR, "#highlighted mark")
        assert len(marks) >= 10 and "".join(m.text for m in marks) in text.replace(" ", "")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#bars .bar")) >= 2
    shot = os.environ.get("PLAYGROUND_SCREENSHOT", str(work / "playground.png"))
    assert driver.save_screenshot(shot)


def test_a_pasted_list_becomes_a_table(site: tuple) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url, _ = site
    driver.get(f"{url}/")
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    driver.find_element(By.ID, "as-list").click()
    box = driver.find_element(By.ID, "text")
    box.send_keys(POSITIVE, Keys.SHIFT, Keys.ENTER, NEGATIVE, Keys.SHIFT, Keys.ENTER, "fine")
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    rows = until(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#table tbody tr"), "no table rows"
    )
    assert len(rows) == 3
    rows[1].find_element(By.TAG_NAME, "button").click()
    until(driver, lambda d: d.find_element(By.ID, "label").text, "row not explained")


def test_page_is_readable_at_phone_width_and_clean(site: tuple) -> None:
    from selenium.webdriver.common.by import By

    driver, url, _ = site
    driver.set_window_size(390, 844)
    try:
        driver.get(f"{url}/")
        until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
        analyse(driver, POSITIVE)
        width = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width[0] <= width[1], width
    finally:
        driver.set_window_size(1100, 1300)
    severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_docs_list_every_operation_with_no_request_off_the_machine(site: tuple) -> None:
    from selenium.webdriver.common.by import By

    driver, url, _ = site
    driver.get(f"{url}/docs")
    paths = until(
        driver,
        lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")],
        "Swagger UI listed no operation",
    )
    assert {"/predict", "/explain", "/tokenize", "/health"} <= set(paths), paths
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert resources and all(r.startswith(url) for r in resources), resources
    driver.get(f"{url}/redoc")
    until(driver, lambda d: "/explain" in d.find_element(By.TAG_NAME, "body").text, "ReDoc blank")


def test_by_sentence_colours_each_sentence_by_its_label(site: tuple) -> None:
    from selenium.webdriver.common.by import By

    driver, url, _ = site
    driver.get(f"{url}/")
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    driver.find_element(By.ID, "by-sentence").click()
    text = f"{POSITIVE} {NEGATIVE}"
    analyse(driver, text)
    spans = until(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#sentences .sentence"), "no sentences"
    )
    body = {"text": text, "sentences": True}
    want = httpx.post(f"{url}/explain", json=body, timeout=10).json()["explanations"][0]
    assert [s.text for s in spans] == [text[s["start"] : s["end"]] for s in want["sentences"]]
    assert [s.get_attribute("data-label") for s in spans] == [s["label"] for s in want["sentences"]]
    colours = {s.value_of_css_property("background-color") for s in spans}
    assert len(colours) == len({s["label"] for s in want["sentences"]})
    assert "sentence(s)" in driver.find_element(By.ID, "aggregate").text
    shot = os.environ.get("PLAYGROUND_SENTENCES_SCREENSHOT")
    if shot:
        driver.find_element(By.ID, "sentences-part").location_once_scrolled_into_view  # noqa: B018
        assert driver.save_screenshot(shot)


def test_by_sentence_colours_the_sentences_of_a_pasted_list(site: tuple) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url, _ = site
    driver.get(f"{url}/")
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    driver.find_element(By.ID, "as-list").click()
    driver.find_element(By.ID, "by-sentence").click()
    box = driver.find_element(By.ID, "text")
    box.send_keys(f"{POSITIVE} {NEGATIVE}", Keys.SHIFT, Keys.ENTER, "fine")
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    rows = until(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#table tbody tr"), "no table rows"
    )
    counts = [len(r.find_elements(By.CSS_SELECTOR, "td.text .sentence")) for r in rows]
    assert counts == [4, 1]
