"""The app served by a process of its own, so that requests run at the same time, as in production.

A threaded werkzeug server started with the test run's environment: the same
database, configuration and (absent) Redis as the test app. Its log goes to a
file the test can read, e.g. to show a traceback behind a 500.

    with live.server() as site:
        first, second = site.at_once(token, ("POST", path, body), ("POST", path, body))

`python -m tests.live` is the server process itself.
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests

from agency import ROOT


@dataclass
class Site:
    url: str
    log: Path

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> requests.Response:
        return requests.request(method, self.url + path, json=body, timeout=60,
                                headers={"Authorization": f"Bearer {token}"})

    def sign_in(self, browser: requests.Session, email: str, password: str) -> requests.Response:
        """Submit the login form as a browser does (its CSRF token first); the answer, not followed."""
        page = browser.get(self.url + "/login", timeout=60)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
        return browser.post(self.url + "/login", data={"email": email, "password": password, "csrf_token": token},
                            allow_redirects=False, timeout=60)

    def forms_at_once(self, browsers: list[requests.Session], path: str, form_page: str,
                      data: dict | None = None) -> list[requests.Response]:
        """Each signed-in browser posts the form at path (its CSRF token read from form_page) at the same
        moment, as two people clicking at once; the answers, not followed, in order."""
        tokens = [re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                            b.get(self.url + form_page, timeout=60).text).group(1) for b in browsers]
        return together(*(partial(b.post, self.url + path, data={**(data or {}), "csrf_token": t},
                                  allow_redirects=False, timeout=60) for b, t in zip(browsers, tokens, strict=True)))

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def at_once(self, token: str, *calls: tuple[str, str, dict | None]) -> list[requests.Response]:
        """Send the (method, path, body) calls from threads released together; the responses in order."""
        return at_once(token, *((self, *call) for call in calls))


def at_once(token: str, *calls: tuple[Site, str, str, dict | None]) -> list[requests.Response]:
    """Send the (site, method, path, body) calls, to one server or several, released together."""
    return together(*(partial(site.call, method, path, token, body) for site, method, path, body in calls))


def together(*sends: Callable[[], requests.Response]) -> list[requests.Response]:
    """Run the requests from threads released at the same moment; their responses in order."""
    barrier = threading.Barrier(len(sends))
    responses: list = [None] * len(sends)

    def send(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            responses[index] = sends[index]()
        except requests.RequestException as exc:
            responses[index] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(sends))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for response in responses:
        if isinstance(response, Exception):
            raise response
    return responses


@contextmanager
def server(**settings: str) -> Iterator[Site]:
    """Start the server process (with extra AGENCY_ settings), yield its site, and stop it."""
    env = dict(os.environ) | {f"AGENCY_{name}": value for name, value in settings.items()}
    handle, name = tempfile.mkstemp(prefix="agency-live-", suffix=".log")
    os.close(handle)
    log = Path(name)
    with log.open("wb") as err:
        # The server stops when its stdin closes, so it never outlives a test run that was killed.
        process = subprocess.Popen([sys.executable, "-m", "tests.live"], cwd=ROOT, env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    try:
        port = process.stdout.readline().decode().strip()
        if not port.isdigit():
            process.wait(timeout=30)
            raise RuntimeError(f"the live server did not start:\n{log.read_text(errors='replace')}")
        yield Site(f"http://127.0.0.1:{port}", log)
    finally:
        process.stdin.close()
        process.stdout.close()
        process.wait(timeout=30)
        log.unlink(missing_ok=True)


def _serve() -> None:
    from werkzeug.serving import make_server

    from agency import create_app

    site = make_server("127.0.0.1", 0, create_app(), threaded=True)
    print(site.server_port, flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # anything printed later goes to the log, not a full pipe
    threading.Thread(target=site.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test run closes it, or ends


if __name__ == "__main__":
    _serve()
