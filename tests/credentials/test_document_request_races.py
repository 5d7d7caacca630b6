"""Two submits of one upload link, or two reviews of one upload, at the same moment against a real server:
one wins, the other is refused cleanly, and nothing is stored or filed twice. Runs on PostgreSQL and SQLite."""

import io
import re
import threading

import pytest
import requests as http
import sqlalchemy as sa

from agency.auth.services import issue_token
from agency.core.outbox import OutboxMessage
from agency.credentials import requests
from agency.credentials.documents import upload_root
from agency.credentials.models import Document, DocumentRequestItem
from agency.extensions import db
from tests import factories, live
from tests.factories import files

ROUNDS = 6


@pytest.fixture(scope="module")
def site(app):
    with live.server() as running:
        yield running


def link_of(request) -> str:
    db.session.rollback()
    body = db.session.scalar(sa.select(OutboxMessage.body).where(
        OutboxMessage.dedupe_key == f"document-request:{request.id}:sent"))
    return re.search(r"/upload/[A-Za-z0-9_-]+", body).group(0)


def together(*calls):
    """Run the callables from threads released at once; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def browser_submit(site, path: str):
    """A browser that opened the link (its session and CSRF token) and is ready to send the form."""
    session = http.Session()
    page = session.get(site.url + path, timeout=60)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)

    def submit():
        return session.post(site.url + path, timeout=60, data={
            "csrf_token": csrf, "bls_card.issued_on": "2026-11-01", "bls_card.expires_on": "2028-11-01",
        }, files={"bls_card.file": ("bls.pdf", files.pdf(), "application/pdf")})

    return submit


def stored_files() -> int:
    return sum(1 for path in upload_root().rglob("*") if path.is_file())


def test_two_submits_of_one_link_at_once_make_one_submission(site, users):
    for _ in range(ROUNDS):
        therapist = factories.therapist(first_name="Dana")
        path = link_of(requests.send_request(therapist, ["bls_card"], users["credentialing"]))
        before = stored_files()
        answers = together(browser_submit(site, path), browser_submit(site, path))
        assert all(a.status_code < 500 for a in answers), site.log_text()[-3000:]
        assert sorted(a.status_code for a in answers) == [200, 410], [a.text[:300] for a in answers]
        assert "Thank you, Dana" in next(a.text for a in answers if a.status_code == 200)
        db.session.rollback()
        uploads = db.session.scalars(sa.select(DocumentRequestItem).where(
            DocumentRequestItem.therapist_id == therapist.id)).all()
        assert [u.status for u in uploads] == ["uploaded"]
        assert stored_files() == before + 1  # the loser's file was removed


def test_two_acceptances_of_one_upload_at_once_file_one_document(site, users):
    token = issue_token(users["credentialing"])
    for _ in range(ROUNDS):
        therapist = factories.therapist()
        sent = requests.send_request(therapist, ["bls_card"], users["credentialing"])
        requests.submit(link_of(sent).removeprefix("/upload/"),
                        {"bls_card": (io.BytesIO(files.pdf()), "bls.pdf")}, {})
        db.session.rollback()
        upload_id = db.session.scalar(sa.select(DocumentRequestItem.id).where(
            DocumentRequestItem.therapist_id == therapist.id))
        path = f"/api/v1/document-uploads/{upload_id}/accept"
        reject = f"/api/v1/document-uploads/{upload_id}/reject"
        answers = site.at_once(token, ("POST", path, {}), ("POST", reject, {"message": "Unreadable scan"}))
        assert all(a.status_code < 500 for a in answers), site.log_text()[-3000:]
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text[:300] for a in answers]
        db.session.rollback()
        filed = db.session.scalar(sa.select(sa.func.count()).select_from(Document).where(
            Document.owner_id == therapist.id))
        status = db.session.scalar(sa.select(DocumentRequestItem.status).where(DocumentRequestItem.id == upload_id))
        assert (status, filed) in (("accepted", 1), ("rejected", 0))
