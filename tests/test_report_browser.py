"""The HTML report in a real browser: Debian's Chromium driven by Playwright.

Uses the Chromium given by ``TOKBT_CHROMIUM`` or found on ``PATH`` (never a
browser download). Skipped when there is none, unless ``TOKBT_REQUIRE_BROWSER=1``
(set by ``.ci/run`` after installing Chromium), which turns the skip into a
failure. ``TOKBT_SCREENSHOT_DIR`` keeps a copy of the full-page screenshot.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evaluation_fixtures import synthetic_run

from tokbt.metrics.evaluation import SUMMARY_METRICS
from tokbt.report import write_report

pytestmark = pytest.mark.browser

POLICIES = ("no_hedge", "static", "min_variance", "rolling", "ewma", "layered", "volume_aware")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str | None:
    """The Chromium executable: ``TOKBT_CHROMIUM``, else ``chromium`` (or
    ``chromium-browser``) on ``PATH``."""
    given = os.environ.get("TOKBT_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str) -> None:
    if os.environ.get("TOKBT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"TOKBT_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = _chromium()
    if exe is None:
        _unavailable(
            "no Chromium found (set TOKBT_CHROMIUM, or install Debian's 'chromium' package)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the 'playwright' Python package is not installed (pip install '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=exe)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = synthetic_run("browser", n_paths=200, policies=POLICIES, months=24, seed=11, sweep=True)
    return write_report(run, tmp_path_factory.mktemp("report") / "report.html")


def test_report_renders_in_chromium(browser: Any, report: Path, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri(), wait_until="load")

    assert errors == []
    assert requests == [report.as_uri()]  # nothing but the file itself is fetched
    assert page.title() == "tokbt report — run browser"

    figures = page.query_selector_all("figure")
    assert len(figures) == 7  # five, the variance attribution and the sweep
    for figure in figures:
        fid = figure.get_attribute("id")
        svg = figure.query_selector("svg")
        assert svg is not None, fid
        box = svg.bounding_box()
        assert box is not None, fid
        assert box["width"] > 300, (fid, box)
        assert box["height"] > 100, (fid, box)
        assert figure.query_selector("figcaption") is not None, fid

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 20_000
    keep = os.environ.get("TOKBT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / "report.png")
    page.close()


def test_details_open_without_javascript(browser: Any, report: Path) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(report.as_uri(), wait_until="load")
    summary = page.locator("details > summary", has_text=f"All {len(SUMMARY_METRICS)} metrics")
    table = page.locator("details table.summary")
    assert not table.is_visible()
    summary.click()
    assert table.is_visible()
    assert page.locator("figure svg").count() == 7
    context.close()
