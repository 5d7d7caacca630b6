"""Document requests: staff ask a therapist for documents by a private, expiring, single-use upload link;
the uploads wait for a reviewer, who accepts (the document is filed and the worklist item goes) or rejects
(the therapist gets the message and a fresh link); unanswered requests are chased and escalated once."""

import hashlib
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from agency.core.audit import AuditEvent
from agency.core.outbox import OutboxMessage
from agency.credentials.models import (
    CredentialReminder,
    Document,
    DocumentRequest,
    DocumentRequestItem,
)
from agency.credentials.scan import daily_credential_scan
from agency.credentials.worklist import worklist
from agency.extensions import db
from tests import factories
from tests.conftest import csrf_of
from tests.factories import TODAY, files
from tests.smtp import smtp_server

LINK = re.compile(r"http://localhost:5000(/upload/[A-Za-z0-9_-]+)")


def links_to(address: str) -> list[str]:
    """The upload links in the mail queued for an address, oldest first (the paths, to open in the test app)."""
    db.session.rollback()
    bodies = db.session.scalars(sa.select(OutboxMessage.body).where(OutboxMessage.to_addr == address)
                                .order_by(OutboxMessage.id)).all()
    return [m.group(1) for body in bodies for m in LINK.finditer(body)]


def mail_to(address: str) -> list[OutboxMessage]:
    db.session.rollback()
    return db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_addr == address)
                              .order_by(OutboxMessage.id)).all()


def upload(client, path: str, documents: dict, *, csrf: str | None = None):
    """Submit the upload form as the therapist's browser does: {doc_type: (bytes, name, issued, expires)}."""
    if csrf is None:
        csrf = csrf_of(client.get(path))
    data = {"csrf_token": csrf}
    for doc_type, (body, name, issued, expires) in documents.items():
        data[f"{doc_type}.file"] = (io.BytesIO(body), name)
        data[f"{doc_type}.issued_on"] = issued or ""
        data[f"{doc_type}.expires_on"] = expires or ""
    return client.post(path, data=data, content_type="multipart/form-data")


def iso(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


@pytest.fixture
def dana():
    return factories.licensed_therapist(first_name="Dana", last_name="Okafor", email="dana.okafor@example.org")


def send(api, therapist, doc_types, role="credentialing"):
    return api(role).post(f"/api/v1/therapists/{therapist.id}/document-requests", {"doc_types": doc_types})


def requested_and_uploaded(api, client, therapist, doc_type="bls_card", expires=730):
    """A request answered with a real PDF: the upload waiting in the review queue."""
    sent = send(api, therapist, [doc_type])
    assert sent.status_code == 201
    answered = upload(client, links_to(therapist.email)[-1],
                      {doc_type: (files.pdf(), "card.pdf", iso(-3), iso(expires))})
    assert answered.status_code == 200 and b"Thank you, Dana" in answered.data
    return db.session.scalars(sa.select(DocumentRequestItem).where(
        DocumentRequestItem.request_id == sent.json["id"])).one()


# ----------------------------------------------------------------------------- sending


def test_staff_ask_for_exactly_the_documents_and_the_therapist_gets_a_private_link_by_email(app, api, dana):
    with smtp_server(app) as inbox:
        sent = send(api, dana, ["bls_card", "tb_test", "bls_card"])
    assert sent.status_code == 201 and sent.headers["Location"] == f"/api/v1/document-requests/{sent.json['id']}"
    assert sent.json["doc_types"] == ["bls_card", "tb_test"] and sent.json["status"] == "open"
    assert sent.json["expires_on"] == iso(app.config["DOCUMENT_REQUEST_DAYS"])
    (mail,) = inbox.to("dana.okafor@example.org")
    text = mail["message"].get_content()
    assert "BLS card" in text and "TB test" in text and "Hello Dana" in text
    token = LINK.search(text).group(1).removeprefix("/upload/")
    assert len(token) >= 43  # 32 random bytes, URL-safe
    # Only the token's hash is kept: no column of the request holds the token itself.
    request = db.session.get(DocumentRequest, sent.json["id"])
    assert request.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in repr(vars(request))
    assert mail_to("dana.okafor@example.org")[0].kind == "credential"  # the credentialing team's mail
    assert "token" not in sent.json and token not in sent.get_data(as_text=True)


@pytest.mark.parametrize("body, field", [
    ({"doc_types": []}, "doc_types"),
    ({"doc_types": ["passport"]}, "doc_types"),
    ({"doc_types": "bls_card"}, "doc_types"),
    ({}, "doc_types"),
    ({"doc_types": ["bls_card"], "source": "scan"}, "source"),
], ids=["empty", "unknown type", "not a list", "missing", "a source staff cannot claim"])
def test_an_empty_or_unknown_list_of_documents_is_refused_and_nothing_is_sent(api, dana, body, field):
    refused = api("credentialing").post(f"/api/v1/therapists/{dana.id}/document-requests", body)
    assert refused.status_code == 400 and field in refused.json["error"]["fields"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentRequest)) == 0
    assert mail_to(dana.email) == []


def test_a_document_already_asked_for_is_not_asked_twice(api, dana):
    assert send(api, dana, ["bls_card"]).status_code == 201
    again = send(api, dana, ["tb_test", "bls_card"])
    assert again.status_code == 409 and "already has an open request for BLS card" in again.json["error"]["message"]
    assert len(mail_to(dana.email)) == 1
    assert send(api, dana, ["tb_test"]).status_code == 201  # another document is another request


def test_an_inactive_therapist_is_not_asked_for_documents(api):
    gone = factories.therapist(status="inactive")
    refused = send(api, gone, ["bls_card"])
    assert refused.status_code == 409 and "inactive" in refused.json["error"]["message"]
    assert mail_to(gone.email) == []


def test_the_public_upload_page_is_throttled_per_address(api, client, dana, setting):
    setting(UPLOAD_LINK_LIMIT_PER_ADDRESS="3 per minute")
    send(api, dana, ["bls_card"])
    (path,) = links_to(dana.email)
    answers = [client.get(path).status_code for _ in range(3)] + [client.get("/upload/guess").status_code]
    assert answers == [200, 200, 200, 429]


def test_an_expired_request_no_longer_stands_in_the_way_of_a_new_one(api, dana, setting):
    assert send(api, dana, ["bls_card"]).status_code == 201
    setting(PINNED_TODAY=iso(15))
    again = send(api, dana, ["bls_card"])
    assert again.status_code == 201
    states = {r["id"]: r["status"] for r in api("credentialing").get(
        f"/api/v1/therapists/{dana.id}/document-requests").json["items"]}
    assert sorted(states.values()) == ["expired", "open"]


def test_staff_send_a_request_from_the_therapist_page_the_worklist_and_a_placements_missing_documents(
        app, browser, dana):
    factories.document(dana, "bls_card", expires_on=TODAY + timedelta(days=20))
    credentialing = browser("credentialing")
    page = credentialing.get("/worklist").data.decode()
    assert "Request from therapist" in page
    sent = credentialing.post(f"/therapists/{dana.id}/document-requests", form_url="/worklist", data={
        "doc_types": "bls_card", "source": "worklist", "next": "/worklist?kind=document_expiring"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/worklist?kind=document_expiring")
    place = factories.facility(required_documents=["tb_test", "background_check"])
    placement = factories.placement(dana, place)
    recruiter = browser("recruiter")
    shown = recruiter.get(f"/placements/{placement.id}").data.decode()
    assert "Request the missing documents from Dana" in shown
    recruiter.post(f"/therapists/{dana.id}/document-requests", form_url=f"/placements/{placement.id}",
                   data={"doc_types": ["tb_test", "background_check"], "source": "placement"})
    sources = dict(db.session.execute(sa.select(DocumentRequest.id, DocumentRequest.source)).all())
    assert sorted(sources.values()) == ["placement", "worklist"]
    therapist_page = credentialing.get(f"/therapists/{dana.id}").data.decode()
    assert 'id="document-requests"' in therapist_page and "Background check" in therapist_page
    # An off-site "next" is not followed.
    refused = credentialing.post(f"/therapists/{dana.id}/document-requests", form_url=f"/therapists/{dana.id}",
                                 data={"doc_types": "i9", "next": "//evil.example/"})
    assert refused.headers["Location"].endswith(f"/therapists/{dana.id}#document-requests")


# ----------------------------------------------------------------------------- the therapist's upload


def test_the_therapist_uploads_a_real_pdf_and_png_through_the_link_and_the_link_then_dies(app, api, client, dana):
    send(api, dana, ["bls_card", "tb_test"])
    (path,) = links_to(dana.email)
    page = client.get(path)
    csrf = csrf_of(page)
    text = page.data.decode()
    assert page.status_code == 200 and "Hello Dana" in text and "BLS card" in text and "TB test" in text
    assert "Okafor" not in text and dana.email not in text  # the first name only
    done = upload(client, path, {"bls_card": (files.pdf(), "bls.pdf", iso(-10), iso(720)),
                                 "tb_test": (files.png(), "tb.png", iso(-2), None)})
    assert done.status_code == 200 and b"Thank you, Dana" in done.data
    items = db.session.scalars(sa.select(DocumentRequestItem).order_by(DocumentRequestItem.doc_type)).all()
    assert [(i.doc_type, i.status, i.content_type) for i in items] == [
        ("bls_card", "uploaded", "application/pdf"), ("tb_test", "uploaded", "image/png")]
    assert items[0].upload_expires_on == TODAY + timedelta(days=720)
    # Nothing is filed before a reviewer accepts it: readiness still sees no document.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0
    used = client.get(path)
    assert used.status_code == 410 and b"already been used" in used.data and b"Dana" not in used.data
    again = upload(client, path, {"bls_card": (files.pdf(), "bls.pdf", None, None),
                                  "tb_test": (files.png(), "tb.png", None, None)}, csrf=csrf)
    assert again.status_code == 410
    assert mail_to(app.config["CREDENTIALING_EMAIL"])[-1].subject == "Documents to review: Dana Okafor"


@pytest.mark.parametrize("documents, message", [
    ({"bls_card": (b"<html><script>alert(1)</script></html>", "bls.pdf", None, None)}, b"must be a PDF, PNG or JPEG"),
    ({"bls_card": (files.pdf(), "bls.pdf", iso(5), None)}, b"cannot be in the future"),
    ({"bls_card": (files.pdf(), "bls.pdf", iso(-5), iso(-9))}, b"must be after issued_on"),
    ({}, b"Upload BLS card as well"),
    ({"bls_card": (files.pdf(), "bls.pdf", None, None), "i9": (files.pdf(), "i9.pdf", None, None)},
     b"I-9 was not asked for"),
], ids=["not a document", "issued in the future", "expires before issue", "nothing chosen", "a type not asked for"])
def test_an_upload_is_checked_as_staff_uploads_are_and_a_refused_one_keeps_the_link_open(
        api, client, dana, documents, message):
    send(api, dana, ["bls_card"])
    (path,) = links_to(dana.email)
    refused = upload(client, path, documents)
    assert refused.status_code == 200 and message in refused.data
    assert db.session.scalar(sa.select(DocumentRequestItem.status)) == "requested"
    assert db.session.scalar(sa.select(DocumentRequest.status)) == "open"
    assert client.get(path).status_code == 200


def test_the_upload_form_needs_its_csrf_token(api, client, dana):
    send(api, dana, ["bls_card"])
    (path,) = links_to(dana.email)
    forged = upload(client, path, {"bls_card": (files.pdf(), "bls.pdf", None, None)}, csrf="forged")
    assert forged.status_code == 400 and db.session.scalar(sa.select(DocumentRequestItem.status)) == "requested"


def test_an_expired_or_unknown_link_shows_a_clear_page_and_names_nobody(api, client, dana, setting):
    send(api, dana, ["bls_card"])
    (path,) = links_to(dana.email)
    setting(PINNED_TODAY=iso(app_days := 14))
    assert client.get(path).status_code == 200  # the last day it works
    setting(PINNED_TODAY=iso(app_days + 1))
    expired = client.get(path)
    assert expired.status_code == 410 and b"expired" in expired.data and b"Dana" not in expired.data
    unknown = client.get("/upload/" + "A" * 43)
    assert unknown.status_code == 404 and b"not valid" in unknown.data and b"Dana" not in unknown.data


# ----------------------------------------------------------------------------- review


def test_accepting_files_the_document_renews_the_expiring_one_and_clears_the_worklist_item(api, client, dana):
    old = factories.document(dana, "bls_card", expires_on=TODAY + timedelta(days=10))
    assert [i.item_id for i in worklist(TODAY, kind="document_expiring")] == [old.id]
    item = requested_and_uploaded(api, client, dana)
    queue = api("credentialing").get("/api/v1/document-uploads").json["items"]
    assert [u["id"] for u in queue] == [item.id] and queue[0]["status"] == "uploaded"
    accepted = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/accept", {"expires_on": iso(700)})
    assert accepted.status_code == 200 and accepted.json["status"] == "accepted"
    new = db.session.get(Document, accepted.json["document_id"])
    assert (new.doc_type, new.expires_on, new.issued_on) == ("bls_card", TODAY + timedelta(days=700),
                                                              TODAY - timedelta(days=3))
    assert db.session.get(Document, old.id) is not None  # kept as history
    assert worklist(TODAY, kind="document_expiring") == []
    assert api("credentialing").get("/api/v1/document-uploads").json["items"] == []
    summaries = db.session.scalars(sa.select(AuditEvent.summary).where(AuditEvent.object_type == "document")).all()
    assert any(f"renews document {old.id}" in s for s in summaries)
    assert api("credentialing").get(f"/api/v1/document-requests/{item.request_id}").json["status"] == "accepted"
    # Once decided, never twice.
    again = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/accept", {})
    assert again.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 2


def test_a_document_not_uploaded_yet_cannot_be_reviewed(api, dana):
    sent = send(api, dana, ["bls_card"]).json
    item_id = sent["items"][0]["id"]
    refused = api("credentialing").post(f"/api/v1/document-uploads/{item_id}/accept", {})
    assert refused.status_code == 409 and "Nothing was uploaded" in refused.json["error"]["message"]
    assert api("credentialing").post("/api/v1/document-uploads/99999/reject", {"message": "x"}).status_code == 404
    assert db.session.scalar(sa.select(DocumentRequestItem.status)) == "requested"


def test_an_upload_that_does_not_outlast_the_document_on_file_or_is_expired_is_not_accepted(api, client, dana):
    factories.document(dana, "bls_card", expires_on=TODAY + timedelta(days=400))
    item = requested_and_uploaded(api, client, dana, expires=300)
    shorter = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/accept", {})
    assert shorter.status_code == 400 and "must be after the expiry" in shorter.json["error"]["message"]
    lapsed = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/accept", {"expires_on": iso(-1)})
    assert lapsed.status_code == 400 and "expires_on" in lapsed.json["error"]["fields"]
    # A card that expires is never renewed by one without a date, which would count as current for ever.
    undated = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/accept", {"expires_on": None})
    assert undated.status_code == 400 and "its renewal has a date too" in undated.json["error"]["message"]
    assert db.session.scalar(sa.select(DocumentRequestItem.status)) == "uploaded"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 1


def test_rejecting_sends_the_therapist_the_message_with_a_fresh_link_that_works(app, api, client, dana):
    item = requested_and_uploaded(api, client, dana)
    with smtp_server(app) as inbox:
        refused = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/reject", {"message": ""})
        assert refused.status_code == 400
        rejected = api("credentialing").post(f"/api/v1/document-uploads/{item.id}/reject",
                                             {"message": "The card is cut off; scan both sides, please."})
    assert rejected.status_code == 200 and rejected.json["status"] == "rejected"
    # The first request's email was still waiting (no mail server before this one): the rejection's comes last.
    mail = inbox.to(dana.email)[-1]
    text = mail["message"].get_content()
    assert "scan both sides" in text
    fresh = LINK.search(text).group(1)
    assert fresh != links_to(dana.email)[0] and client.get(fresh).status_code == 200
    requests_ = api("credentialing").get(f"/api/v1/therapists/{dana.id}/document-requests").json["items"]
    assert [(r["status"], r["source"], r["previous_id"]) for r in requests_] == [
        ("rejected", "staff", None), ("open", "rejection", item.request_id)]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0
    assert db.session.scalar(sa.select(AuditEvent.summary).where(AuditEvent.object_type == "document_upload")) \
        == "rejected BLS card from Dana Okafor: The card is cut off; scan both sides, please."


def test_the_review_page_accepts_with_corrected_dates_and_the_reviewer_views_the_file_audited(
        api, browser, client, dana):
    item = requested_and_uploaded(api, client, dana)
    reviewer = browser("credentialing")
    page = reviewer.get("/documents/review").data.decode()
    assert "Dana Okafor" in page and "card.pdf" in page
    viewed = reviewer.get(f"/document-uploads/{item.id}/file")
    assert viewed.status_code == 200 and viewed.data.startswith(b"%PDF-") and viewed.mimetype == "application/pdf"
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.object_type == "document_upload")) \
        == "download"
    done = reviewer.post(f"/document-uploads/{item.id}/accept", form_url="/documents/review",
                         data={"issued_on": iso(-4), "expires_on": iso(726)})
    assert done.status_code == 302
    doc = db.session.scalars(sa.select(Document)).one()
    assert (doc.issued_on, doc.expires_on) == (TODAY - timedelta(days=4), TODAY + timedelta(days=726))
    assert path_exists(doc)


def path_exists(doc) -> bool:
    from agency.credentials.documents import path_of

    return path_of(doc).is_file()


# ----------------------------------------------------------------------------- the daily scan


def test_the_scan_asks_for_an_expiring_document_with_a_link_in_the_therapists_reminder_once(app, client, dana):
    factories.document(dana, "tb_test", expires_on=TODAY + timedelta(days=30))
    daily_credential_scan(TODAY.isoformat())
    (reminder,) = mail_to(dana.email)
    assert "TB test" in reminder.subject and LINK.search(reminder.body)
    assert client.get(LINK.search(reminder.body).group(1)).status_code == 200
    staff = mail_to(app.config["CREDENTIALING_EMAIL"])
    assert len(staff) == 1 and not LINK.search(staff[0].body)  # the link is the therapist's alone
    daily_credential_scan(TODAY.isoformat())
    assert len(mail_to(dana.email)) == 1
    assert db.session.scalars(sa.select(DocumentRequest.source)).all() == ["scan"]


def test_the_scans_reminder_names_the_link_already_sent_instead_of_asking_twice(api, dana):
    factories.document(dana, "tb_test", expires_on=TODAY + timedelta(days=30))
    send(api, dana, ["tb_test"])
    daily_credential_scan(TODAY.isoformat())
    reminder = mail_to(dana.email)[-1]
    assert "We emailed you a private upload link for it on Nov 25, 2026" in reminder.body
    assert not LINK.search(reminder.body)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentRequest)) == 1


def test_an_unanswered_request_is_chased_at_each_threshold_and_escalated_to_the_recruiter_once(
        app, api, client, dana, users):
    placement = factories.placement(dana, factories.facility(), recruiter_id=users["recruiter"].id)
    assert placement.recruiter_id == users["recruiter"].id
    send(api, dana, ["bls_card"])
    first = links_to(dana.email)[0]
    for day in (1, 6, 7, 7, 8):  # 7 days before expiry: the first reminder
        daily_credential_scan(iso(day))
    reminders = [m for m in mail_to(dana.email) if m.subject.startswith("Reminder:")]
    assert len(reminders) == 1
    fresh = LINK.search(reminders[0].body).group(1)
    assert client.get(first).status_code == 404 and client.get(fresh).status_code == 200  # a new link, the old dead
    assert mail_to(users["recruiter"].email) == []
    for day in (12, 12, 13):  # 2 days left: the second reminder and the escalation
        daily_credential_scan(iso(day))
    assert len([m for m in mail_to(dana.email) if m.subject.startswith("Reminder:")]) == 2
    (escalation,) = mail_to(users["recruiter"].email)
    assert escalation.subject == "Documents missing: Dana Okafor" and "BLS card" in escalation.body
    assert escalation.kind == "credential"
    kinds = db.session.scalars(sa.select(CredentialReminder.item_kind).order_by(CredentialReminder.id)).all()
    assert kinds == ["document_request", "document_request", "document_request_escalation"]


def test_an_answered_request_is_not_chased(api, client, dana):
    requested_and_uploaded(api, client, dana)
    for day in (7, 12):
        daily_credential_scan(iso(day))
    assert [m for m in mail_to(dana.email) if m.subject.startswith("Reminder:")] == []


# ----------------------------------------------------------------------------- roles


def test_requests_are_credentialing_and_recruiting_work_and_reviews_credentialings_alone(api, client, browser, dana):
    assert send(api, dana, ["bls_card"], role="recruiter").status_code == 201
    for role in ("billing", "facility"):
        assert send(api, dana, ["tb_test"], role=role).status_code == 403
        assert api(role).get(f"/api/v1/therapists/{dana.id}/document-requests").status_code == 403
        assert api(role).get("/api/v1/document-uploads").status_code == 403
    item = requested_and_uploaded(api, client, factories.therapist(first_name="Dana"), doc_type="i9")
    for role in ("recruiter", "billing", "facility"):
        assert api(role).post(f"/api/v1/document-uploads/{item.id}/accept", {}).status_code == 403
        assert api(role).get(f"/api/v1/document-uploads/{item.id}/file").status_code == 403
    assert b'id="document-requests"' not in browser("billing").get(f"/therapists/{dana.id}").data


def test_the_review_queue_the_therapist_page_and_the_api_lists_do_not_query_per_row(api, browser, client, dana):
    from tests.sql import statements_per_page

    asked = iter(["bls_card", "tb_test", "i9", "references", "orientation", "drug_screen"])

    def grow(n: int) -> None:
        """n more uploads in the queue, and n more requests on Dana's page, each sent by a different person."""
        for i in range(n):
            requested_and_uploaded(api, client, factories.therapist(first_name="Dana"), doc_type="i9")
            send(api, dana, [next(asked)], role=("recruiter", "credentialing", "admin")[i % 3])

    reviewer = browser("credentialing")
    pages = ["/documents/review", f"/therapists/{dana.id}"]
    caller = api("credentialing")
    reads = ["/api/v1/document-uploads", f"/api/v1/therapists/{dana.id}/document-requests"]

    def api_statements():
        from tests.sql import counted

        counts = {}
        for url in reads:
            with counted() as statements:
                assert caller.get(url).status_code == 200
            counts[url] = len(statements)
        return counts

    grow(1)
    small, small_api = statements_per_page(reviewer, pages), api_statements()
    grow(4)
    assert statements_per_page(reviewer, pages) == small and api_statements() == small_api
