"""A live server in a thread and Debian's Chromium driven by Playwright, headless."""

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from agency import ROOT
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-artifacts" / "screenshots"
# Without these Chromium tries to reach Google's services, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Journey:
    """One person's browser tab: signs in, moves around, and keeps screenshots of key screens."""

    def __init__(self, page, base: str, name: str):
        self.page, self.base, self.name, self.step = page, base, name, 0
        page.on("dialog", lambda dialog: dialog.accept())  # confirm() before destructive actions
        # What the Content-Security-Policy blocked (an inline style, handler or script): Chromium says so
        # on the console, and the screen is then missing a piece.
        self.blocked: list[str] = []
        page.on("console", lambda message: self.blocked.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text else None)

    def go(self, path: str):
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, email: str, password: str = PASSWORD):
        self.go("/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()

    def shot(self, label: str) -> Path:
        self.step += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{self.name}-{self.step:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def journey(chromium, live_server, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    made = Journey(page, live_server, request.node.name.removeprefix("test_"))
    yield made
    context.close()
    assert not made.blocked, made.blocked
