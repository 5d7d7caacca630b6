"""Hours approved after a period's invoice go on a second invoice that says it adds to the first, on its
page, its PDF and its email; an invoice that bills a voided one's hours again replaces it instead."""

import io
from datetime import date

import sqlalchemy as sa
from pypdf import PdfReader

from agency.billing import timesheets
from agency.billing.invoicing import invoice_facility, run_invoices
from agency.billing.models import Invoice
from agency.billing.receivables import void_invoice
from agency.core.outbox import OutboxMessage
from agency.extensions import db
from tests import factories

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def a_month_billed_then_a_late_approval(name="Lakeside Clinic"):
    place = factories.facility(name=name, billing_email="ap@lakeside.example.org")
    factories.rate_card(place)
    placement = factories.active_placement(place)
    factories.entry(placement, date(2026, 11, 2))
    late = factories.entry(placement, date(2026, 11, 3), approve=False)
    [first] = run_invoices(*NOVEMBER, facility_ids=[place.id]).invoice_ids
    timesheets.decide([late], True, None)  # approved after November's invoice went out
    return place, db.session.get(Invoice, first)


def test_a_second_invoice_for_a_billed_month_says_it_is_supplemental_everywhere_it_is_read(app, browser, api):
    place, first = a_month_billed_then_a_late_approval()
    [second_id] = run_invoices(*NOVEMBER, facility_ids=[place.id]).invoice_ids
    second = db.session.get(Invoice, second_id)
    assert first.supplements_invoice_id is None and second.supplements_invoice_id == first.id
    said = f"Supplemental to {first.number}: hours approved after that invoice was issued"

    billing = browser("billing")
    page = billing.get(f"/invoices/{second.id}").data.decode()
    assert said in page.replace(f'<a href="/invoices/{first.id}">{first.number}</a>', first.number)
    assert said not in billing.get(f"/invoices/{first.id}").data.decode().replace("\n", " ")
    listed = billing.get("/invoices").data.decode()
    assert listed.count("badge-supplemental") == 1
    assert f'{second.number}</a> <span class="badge badge-supplemental">' in listed

    pdf = PdfReader(io.BytesIO(billing.get(f"/invoices/{second.id}/pdf").data))
    text = " ".join(" ".join(page.extract_text().split()) for page in pdf.pages)
    assert "SUPPLEMENTAL INVOICE" in text and said in text
    first_pdf = PdfReader(io.BytesIO(billing.get(f"/invoices/{first.id}/pdf").data)).pages[0].extract_text()
    assert "Supplemental" not in first_pdf

    email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == f"invoice:{second.number}"))
    assert email.subject.startswith(f"Supplemental invoice {second.number}") and said in email.body
    plain = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key == f"invoice:{first.number}"))
    assert plain.subject.startswith(f"Invoice {first.number}") and "Supplemental" not in plain.body

    assert api("billing").get(f"/api/v1/invoices/{second.id}").json["supplements_invoice_id"] == first.id
    assert api("billing").get(f"/api/v1/invoices/{first.id}").json["supplements_invoice_id"] is None


def test_an_invoice_that_bills_a_voided_ones_hours_again_replaces_it_and_is_not_supplemental(app):
    place = factories.facility(billing_email="ap@hillside.example.org")
    voided = factories.invoiced_day(place)
    void_invoice(voided, "wrong rate card", None)
    replacement, _ = invoice_facility(place.id, voided.period_start, voided.period_end)
    assert replacement is not None and replacement.supplements_invoice_id is None


def test_the_one_by_one_path_records_the_invoice_a_late_one_supplements(app):
    place, first = a_month_billed_then_a_late_approval("Brookside Clinic")
    second, _ = invoice_facility(place.id, *NOVEMBER)
    assert second.supplements_invoice_id == first.id and second.supplements.number == first.number
