"""The writing desk in a real headless Chromium against a real `fabula serve` on the embedded
model: a writer imports a chapter, rewrites a paragraph, uses the second candidate, undoes,
restores the other branch from the history, hovers a word of a continuation and continues from
one of the model's alternatives, and exports; after a server restart the manuscript is exactly
what the page was told. With FABULA_SCREENSHOTS=FOLDER the test also saves the README's pictures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.test_api import serve
from tests.test_browser import ARGS, CHROMIUM, _watch, expect
from tests.test_cowrite_cli import CHAPTER

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)

WAIT = 120_000  # ms: three candidates on the embedded model, on a busy machine
WAIT_CONTINUED = "() => document.getElementById('verb-status').textContent.startsWith('continue:')"
SELECT = "([a, b]) => { const e = document.getElementById('editor'); e.focus(); e.setSelectionRange(a, b); }"


def _shoot(page: object, name: str) -> None:
    folder = os.environ.get("FABULA_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)  # type: ignore[attr-defined]


def test_a_writer_co_writes_a_chapter_in_the_desk(fabula_home: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    chapter_file = tmp_path / "gull-rock.md"
    chapter_file.write_text(CHAPTER, encoding="utf-8")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for base in serve(fabula_home, {"FABULA_ENGINE": "llamacpp"}):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            dialogs, foreign = _watch(page, base)
            page.goto(base + "/desk")
            page.wait_for_selector("#desk:not([hidden])")
            page.click("#ms-new-box summary")
            page.set_input_files("#ms-file", str(chapter_file))
            expect(page.locator("#ms-new-title")).to_have_value("gull-rock")
            page.click("#ms-create")
            expect(page.locator("#editor")).to_have_value(CHAPTER)

            # select the second paragraph and rewrite it plainer
            start = CHAPTER.index("One morning")
            end = CHAPTER.index("\n\nShe did not")
            page.evaluate(SELECT, [start, end])
            page.fill("#instruction", "plainer")
            page.click("button[data-verb=rewrite]")
            page.wait_for_selector("#candidates .cand.drafting", timeout=WAIT)  # streamed while written
            expect(page.locator("#candidates .cand:not(.drafting)")).to_have_count(3, timeout=WAIT)
            cards = page.locator("#candidates .cand")
            texts = [cards.nth(i).locator(".cand-text").text_content() for i in range(3)]
            assert page.input_value("#editor") == CHAPTER[:start] + texts[0] + CHAPTER[end:]
            assert cards.nth(0).locator(".cand-why").text_content().startswith("Put in first")
            _shoot(page, "desk-rewrite.png")

            # use the second candidate instead, then undo back to the imported text
            cards.nth(1).locator("button.use").click()
            expect(page.locator("#verb-status")).to_have_text("using candidate 2")
            assert page.input_value("#editor") == CHAPTER[:start] + texts[1] + CHAPTER[end:]
            page.click("#undo")
            expect(page.locator("#editor")).to_have_value(CHAPTER)

            # restore the other branch (the first candidate) from the history tree
            expect(page.locator("#history li")).to_have_count(3)
            page.locator("#history li", has_text="rewrite #1/3").locator("button.restore").click()
            expect(page.locator("#editor")).to_have_value(CHAPTER[:start] + texts[0] + CHAPTER[end:])
            before = page.input_value("#editor")

            # continue at the end, hover a word, and continue from one of the model's alternatives
            page.evaluate(SELECT, [len(before), len(before)])
            page.locator("#verb-status").evaluate("e => e.textContent = ''")
            page.click("button[data-verb=continue]")
            page.wait_for_function(WAIT_CONTINUED, timeout=WAIT)
            tokens = page.locator("#candidates .cand.applied .tok")
            pieces = tokens.all_text_contents()
            k = next(i for i, piece in enumerate(pieces) if i >= 1 and piece.strip())  # a word, not a line break
            tokens.nth(k).hover()
            expect(page.locator("#alts")).to_be_visible()
            assert page.locator("#alts button.alt").count() == 5
            _shoot(page, "desk-alternatives.png")
            alternative = page.locator("#alts button.alt").nth(4)
            shown_token = alternative.text_content()  # the share, then the token as JSON
            lead = "".join(pieces[:k]) + json.loads(shown_token[shown_token.index('"') :])
            page.locator("#verb-status").evaluate("e => e.textContent = ''")
            alternative.click()
            page.wait_for_function(WAIT_CONTINUED, timeout=WAIT)
            after = page.input_value("#editor")
            assert after.startswith(before + lead), (before[-40:], lead, after[len(before) - 5 :][:80])

            # export the manuscript as Word
            page.select_option("#export-format", "docx")
            with page.expect_download() as download:
                page.click("#export")
            assert Path(download.value.path()).read_bytes()[:2] == b"PK"

            # the writer types: autosaved, and attributed to them
            page.click("#editor")
            page.keyboard.press("End")
            page.keyboard.type(" Fin.")
            expect(page.locator("#save-status")).to_have_text("saved", timeout=10_000)
            shown = page.input_value("#editor")
            manuscripts = httpx.get(base + "/api/manuscripts").json()["manuscripts"]
            assert len(manuscripts) == 1
            mid = manuscripts[0]["id"]
            acknowledged = httpx.get(f"{base}/api/manuscripts/{mid}").json()
            assert acknowledged["documents"][0]["text"] == shown

            # a phone-sized screen: one column, nothing wider than the screen
            page.set_viewport_size({"width": 390, "height": 844})
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
            assert page.locator("#editor").is_visible()
            _shoot(page, "desk-phone.png")
            assert dialogs == [] and foreign == []
            page.close()
        for base in serve(fabula_home, {"FABULA_ENGINE": "llamacpp"}):  # a new server on the same home
            assert httpx.get(f"{base}/api/manuscripts/{mid}").json() == acknowledged
        browser.close()
