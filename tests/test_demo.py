"""`flask seed-demo` builds an agency in which every screen has something true to show.

The demo is slow to build and the suite cleans the database after every test, so each seeded
agency is built once and examined at length by one test.
"""

import html
from collections import Counter
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from agency.auth.models import User
from agency.billing.models import (
    ISSUED_STATUSES,
    CollectionTask,
    DunningNotice,
    Invoice,
    InvoiceLine,
    Payment,
    TimesheetEntry,
)
from agency.billing.receivables import aging, dunning_levels
from agency.core.audit import AuditEvent
from agency.core.dates import human_day, start_of
from agency.core.outbox import OutboxMessage
from agency.credentials.documents import path_of, upload_root
from agency.credentials.models import (
    CERecord,
    Document,
    DocumentRequest,
    DocumentRequestItem,
    ExclusionScreening,
    License,
    PanelEnrollment,
    Therapist,
)
from agency.credentials.worklist import KINDS, worklist
from agency.dashboard.metrics import billed_and_collected
from agency.demo import PASSWORD as DEMO_PASSWORD
from agency.demo import PROBLEM_OF, PROBLEMS
from agency.extensions import db
from agency.facilities.models import Facility
from agency.placements.at_risk import prorated, revenue_at_risk
from agency.placements.matching import match_assignment
from agency.placements.models import PLACEMENT_STATUSES, Assignment, CheckIn, Placement
from agency.placements.readiness import readiness
from tests import factories
from tests.conftest import PASSWORD, Browser

# Days on which something already happened: none may be after the day the demo is seeded.
PAST_DATES = [Invoice.issued_on, Invoice.period_end, Payment.received_on, CheckIn.completed_on,
              TimesheetEntry.work_date, DunningNotice.sent_on, Document.issued_on, License.issued_on,
              License.verified_on, CERecord.completed_on, PanelEnrollment.submitted_on,
              PanelEnrollment.effective_on, Therapist.caqh_attested_on]


def counts(column):
    return dict(db.session.execute(sa.select(column, sa.func.count()).group_by(column)).all())


def every_table() -> dict[str, int]:
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def _days_to_seed():
    # Ahead of the real clock: stored timestamps (a void's voided_at, a sent mail's sent_at) come from
    # it, and a demo seeded as of a past day would have them dated after its "today".
    first = (date.today() + relativedelta(months=1)).replace(day=1)
    return [pytest.param(first, id="the first of a month"), pytest.param(first.replace(day=17), id="mid-month")]


def stored_files() -> set:
    return {path for path in upload_root().rglob("*") if path.is_file()}


def shows(page, amount) -> bool:
    return f"${amount:,}" in page.text or f"${amount}" in page.text


def signed_in(app, email):
    browser = Browser(app.test_client())
    response = browser.login(email, DEMO_PASSWORD)
    assert response.status_code in (200, 302), response.status_code
    return browser


@pytest.mark.parametrize("as_of", _days_to_seed())
def test_the_demo_agency_works_and_is_wrong_only_where_it_says(app, setting, as_of):
    setting(PINNED_TODAY=as_of.isoformat())
    runner = app.test_cli_runner()
    earlier_files = stored_files()  # the suite cleans tables between tests, not the upload folder
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.agency" in result.output
    seeded = every_table()

    # A full agency: every status, every kind of credential and every worklist item.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Therapist)) == 40
    assert len(counts(Therapist.home_state)) >= 6
    assert set(counts(Therapist.status)) == {"active", "inactive", "do_not_place"}
    assert set(counts(License.kind)) == {"state_license", "compact_privilege", "temporary"}
    assert {lic.status_on(as_of) for lic in db.session.scalars(sa.select(License))} == {
        "active", "expiring", "expired"}
    assert set(counts(PanelEnrollment.status)) == {"not_started", "submitted", "in_review", "approved",
                                                   "denied", "terminated"}
    assert set(counts(Placement.status)) == set(PLACEMENT_STATUSES)
    assert set(counts(Invoice.status)) == {"draft", "issued", "partially_paid", "paid", "void"}
    # Invoicing modes: a reviewed facility's draft waits since its month closed, the safety stop parked
    # another's, and a facility not invoiced at all is in the schedule's report.
    drafts = db.session.scalars(sa.select(Invoice).where(Invoice.status == "draft")).all()
    assert [d.facility.name for d in drafts if d.review_reason is None] == [
        "Harborview Partial Hospitalization Program"]
    assert any(d.review_reason for d in drafts)
    assert all(d.waiting_since(as_of) for d in drafts)
    assert db.session.scalars(sa.select(Facility.name).where(Facility.invoicing == "off")).all() == [
        "Gulf Coast Correctional Health"]
    # Collections: disputes open (one from the portal, one past its due day with its task) and credited;
    # promises to pay open, kept and broken (the broken one's task on billing's dashboard).
    from agency.billing.models import Dispute, PaymentPromise

    assert counts(Dispute.status) == {"open": 2, "resolved": 1}
    assert counts(Dispute.outcome) == {None: 2, "credited": 1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dispute).join(
        User, User.id == Dispute.opened_by_id).where(User.role == "facility")) == 1
    assert counts(PaymentPromise.status) == {"open": 1, "kept": 1, "broken": 1}
    assert {"dispute", "broken_promise"} <= set(counts(CollectionTask.kind))
    assert {"submitted", "rejected", "invoiced"} <= set(counts(TimesheetEntry.status))
    if as_of.day >= 15:  # on the first, last month's approved hours were all invoiced this morning
        assert "approved" in counts(TimesheetEntry.status)
    items = worklist(as_of)
    assert set(Counter(item.kind for item in items)) == set(KINDS)

    # Nothing has happened after today.
    for column in PAST_DATES:
        latest = db.session.scalar(sa.select(sa.func.max(column)))
        assert latest is not None and latest <= as_of, (column, latest)
    tomorrow = start_of(as_of + timedelta(days=1))
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.DateTime):
                latest = db.session.scalar(sa.select(sa.func.max(column)))
                assert latest is None or latest.replace(tzinfo=None) < tomorrow.replace(tzinfo=None), column
    for checkin in db.session.scalars(sa.select(CheckIn).where(CheckIn.completed_on.is_not(None))):
        assert checkin.completed_on >= checkin.placement.start_on + timedelta(days=checkin.day), checkin.id
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "override"))

    # Every active placement is compliant; what the demo gets wrong on purpose shows as warnings.
    active = db.session.scalars(sa.select(Placement).where(Placement.status == "active")).all()
    assert len(active) >= 7
    blocked = {p.therapist.full_name: readiness(p, as_of).blockers for p in active if not readiness(p, as_of).ready}
    assert set(blocked) <= set(PROBLEM_OF.values()), blocked
    for p in active:  # licensed in the state on the start date (readiness itself looks at today)
        assert any(lic.state == p.facility.state and lic.covers(p.start_on) for lic in p.therapist.licenses), p.id
    warned = {p.therapist.full_name: {w.code for w in readiness(p, as_of).warnings} for p in active}
    assert "license_expires_during_placement" in warned[PROBLEM_OF["license_expiring"]]
    assert "caqh_attestation_due" in warned[PROBLEM_OF["caqh_due"]]

    # Credentialing: each deliberate problem is on the worklist, about the therapist it names.
    listed = {(item.kind, item.therapist.full_name) for item in items}
    for kind, who, _ in PROBLEMS:
        if kind in KINDS:
            assert (kind, who) in listed, (kind, who)
    lapsing = next(i for i in items if (i.kind, i.therapist.full_name) == ("license_expiring", PROBLEM_OF[
        "license_expiring"]))
    assert (lapsing.due_on.year, lapsing.due_on.month) == ((as_of + relativedelta(months=1)).year,
                                                          (as_of + relativedelta(months=1)).month)

    # Rules as data: the reference rules are loaded with their sources and checked dates, and Illinois
    # therapists re-attest on Illinois' 180 days: one of them is on the worklist, due soon, not overdue.
    from agency.credentials.models import CAQHRule, CERule, PayerRule

    for model in (CAQHRule, PayerRule, CERule):
        stored = db.session.scalars(sa.select(model)).all()
        assert stored and all(r.source and r.checked_on for r in stored), model
    illinois = db.session.scalars(sa.select(Therapist).where(Therapist.home_state == "IL",
                                                              Therapist.caqh_attested_on.is_not(None))).all()
    assert illinois and all(t.caqh_attestation_due_on == t.caqh_attested_on + timedelta(days=180) for t in illinois)
    assert any(i.kind == "caqh_due" and i.therapist.home_state == "IL" and as_of < i.due_on
               and i.therapist.caqh_attested_on + timedelta(days=120) < as_of for i in items)
    # Revenue at risk: James Bennett's Illinois license lapses during his placement at Lakeshore, from the day
    # after it the days to the placement's end are at risk, priced by Lakeshore's rate card for his 40 hours a
    # week; seeded on the 1st, his lapse comes after that contract runs out, and the list says so. Daniel
    # Diallo's HIPAA training expiring in 18 days puts his placement's dollars at risk either way.
    at_risk = {i.placement.therapist.full_name: i for i in revenue_at_risk(as_of).items}
    bennett = at_risk[PROBLEM_OF["license_expiring"]]
    assert (bennett.code, bennett.detail, bennett.counted_to) == ("license_expired", "IL", bennett.placement.end_on)
    assert bennett.unpriced is None and bennett.weekly_revenue > 0  # today's contract where it is not yet renewed
    assert bennett.revenue_at_risk == prorated(bennett.weekly_revenue, bennett.at_risk_on, bennett.counted_to)
    diallo = at_risk[PROBLEM_OF["document_expiring"]]
    assert (diallo.code, diallo.detail, diallo.at_risk_on) == ("document_missing", "hipaa_training",
                                                               as_of + timedelta(days=19))
    assert diallo.weekly_revenue > 0 and diallo.revenue_at_risk > diallo.weekly_revenue
    assert at_risk[PROBLEM_OF["caqh_due"]].at_risk_on == as_of  # overdue already: at risk from today
    assert "Revenue at risk: $" in result.output

    # Recruiting: at least half the open assignments have someone ready to offer.
    openings = db.session.scalars(sa.select(Assignment)).all()
    offers = {a: [c.therapist.full_name for c in match_assignment(a, as_of) if c.eligible and c.readiness.ready]
              for a in openings}
    ready = [a for a in openings if offers[a]]
    assert len(ready) * 2 >= len(openings) and len(openings) == 5

    # Billing: this month's invoices were issued on a day already here, so the month has billing.
    billed = billed_and_collected(as_of)[-1][1]
    assert billed > 0
    overdue_at = db.session.scalar(sa.select(Facility).where(Facility.name == PROBLEM_OF["overdue_invoice"]))
    overdue = [i for i in db.session.scalars(sa.select(Invoice).where(Invoice.facility_id == overdue_at.id))
               if 30 < i.days_past_due(as_of) < 60 and i.amount_paid == 0]
    assert len(overdue) >= 1
    chased = overdue[0]
    ladder = db.session.execute(sa.select(DunningNotice.level, DunningNotice.sent_on)
                                .where(DunningNotice.invoice_id == chased.id).order_by(DunningNotice.sent_on)).all()
    assert [level for level, _ in ladder] == ["courtesy", "reminder_7", "reminder_30"]
    assert [sent for _, sent in ladder] == sorted({sent for _, sent in ladder})  # one level per run
    assert all(chased.due_on - timedelta(days=3) <= sent <= as_of for _, sent in ladder)
    keys = db.session.scalars(sa.select(DunningNotice.mail_key).where(DunningNotice.invoice_id == chased.id)).all()
    reminders = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.dedupe_key.in_(keys))).all()
    assert len(reminders) == 3 and all(m.sent_at is not None for m in reminders)
    waiting = db.session.scalars(sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.sent_at.is_(None))).all()
    assert waiting and all(key.startswith("invoice:") for key in waiting)  # the replayed months' mail went out
    # Every level of the ladder is reached: PROBLEMS' escalated invoice climbed them all, one a run, to the
    # account recruiter's call and leadership's summary of the account and call; then billing paused the
    # facility's reminders with the payment plan its CFO agreed.
    levels = dunning_levels()
    reached = counts(DunningNotice.level)
    assert all(reached.get(level["key"]) for level in levels), reached
    escalated_at = db.session.scalar(sa.select(Facility).where(Facility.name == PROBLEM_OF["escalated_invoice"]))
    assert escalated_at.dunning_paused and "payment plan" in escalated_at.dunning_pause_reason
    escalated = db.session.scalars(sa.select(Invoice).join(DunningNotice).where(
        Invoice.facility_id == escalated_at.id, DunningNotice.level == levels[-1]["key"])
        .order_by(Invoice.due_on)).first()
    assert escalated.amount_paid == 0 and escalated.days_past_due(as_of) >= levels[-1]["days"]
    climbed = db.session.scalars(sa.select(DunningNotice).where(DunningNotice.invoice_id == escalated.id)
                                 .order_by(DunningNotice.sent_on)).all()
    assert [n.level for n in climbed] == [level["key"] for level in levels]
    assert len({n.sent_on for n in climbed}) == len(levels)
    for notice, level in zip(climbed, levels, strict=True):
        owner = level["owner"]
        if level["action"] != "email":
            assert f"{owner} task" in notice.recipients, (notice.level, notice.recipients)
        if owner == "leadership" and level["action"] != "task":
            summary = db.session.scalars(sa.select(OutboxMessage).where(
                OutboxMessage.dedupe_key == notice.mail_key)).one()
            assert summary.to_addr == app.config["LEADERSHIP_EMAIL"] and summary.sent_at is not None
            assert summary.subject.startswith(f"Escalation: {escalated_at.name} is ")
            assert escalated.number in summary.body
    calls = {t.owner_role: t for t in db.session.scalars(sa.select(CollectionTask).where(
        CollectionTask.kind == "dunning", CollectionTask.invoice_id == escalated.id))}
    assert {"recruiter", "leadership"} <= set(calls), calls
    assert calls["recruiter"].owner.email == "recruiter@demo.agency" and calls["leadership"].owner_id is None

    # Overtime as the contracts write it: the hospital's 8-and-80 over 14-day periods from its card's Monday
    # anchor, the IOP's 8 hours a day (or 40 a week), each on invoices issued to the facility.
    def overtime(kind):
        facility = db.session.scalar(sa.select(Facility).where(Facility.facility_type == kind))
        (card,) = facility.rate_cards
        lines = db.session.scalars(sa.select(InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
            Invoice.facility_id == facility.id, Invoice.status.in_(ISSUED_STATUSES), InvoiceLine.overtime.is_(True),
            InvoiceLine.quantity > 0)).all()
        assert lines, kind
        return card, lines

    card, lines = overtime("inpatient")
    shown = [lines[0]]
    assert card.overtime_rule == "eight_and_eighty" and card.period_anchor.weekday() == 0
    for line in lines:
        assert (line.period_key - card.period_anchor).days % 14 == 0, line.period_key
        assert line.description.startswith("Direct care overtime (over 8 h a day or 80 h in the 14 days from "
                                           f"{human_day(line.period_key)}, 1.5x), "), line.description
    card, lines = overtime("iop")
    shown.append(lines[0])
    assert (card.overtime_rule, card.daily_threshold_hours, card.overtime_threshold_hours) == ("daily", 8, 40)
    for line in lines:
        assert line.period_key.weekday() == 0, line.period_key
        assert line.description.startswith("Direct care overtime (over 8 h a day or 40 h, week of "
                                           f"{human_day(line.period_key)}, 1.5x), "), line.description

    # A facility sits on a week of one therapist's hours; everyone else's wait less than a week.
    # (A week's hours are submitted on its Sunday.)
    stale = [e for e in db.session.scalars(sa.select(TimesheetEntry).where(TimesheetEntry.status == "submitted"))
             if e.work_date + timedelta(days=6 - e.work_date.weekday()) < as_of - timedelta(days=7)]
    assert stale and {e.placement.therapist.full_name for e in stale} == {PROBLEM_OF["stalled_approval"]}

    # Document requests: one answered and accepted, one rejected with its message and a fresh link sent,
    # one waiting in the review queue.
    states = Counter(r.state_on(as_of) for r in db.session.scalars(sa.select(DocumentRequest)))
    assert states == {"accepted": 1, "rejected": 1, "answered": 1, "open": 1}, states
    fresh = db.session.scalars(sa.select(DocumentRequest).where(DocumentRequest.source == "rejection")).one()
    assert "both sides" in fresh.message and fresh.previous_id is not None
    assert db.session.scalar(sa.select(OutboxMessage.sent_at).where(
        OutboxMessage.dedupe_key == f"document-request:{fresh.id}:sent")) is not None
    filed = db.session.scalars(sa.select(DocumentRequestItem).where(DocumentRequestItem.status == "accepted")).one()
    assert path_of(db.session.get(Document, filed.document_id)).read_bytes().startswith(b"%PDF-")
    queue = signed_in(app, "credentialing@demo.agency").get("/documents/review").text
    assert "Malpractice COI" in queue

    # Each role's home page shows it.
    admin = signed_in(app, "admin@demo.agency").get("/dashboard")
    assert admin.status_code == 200 and shows(admin, billed)
    recruiter = signed_in(app, "recruiter@demo.agency")
    assert "5 open assignment(s)" in recruiter.get("/dashboard").text
    # The ladder's calls wait on the dashboards of those it names.
    assert calls["recruiter"].title in html.unescape(recruiter.get("/dashboard").text)
    assert calls["leadership"].title in html.unescape(admin.text)
    for a in ready:
        assert offers[a][0] in recruiter.get(f"/assignments/{a.id}").text
    credentialing = signed_in(app, "credentialing@demo.agency").get("/dashboard")
    assert credentialing.status_code == 200
    soon = revenue_at_risk(as_of).within(30)
    for dashboard in (admin, credentialing):
        assert "Revenue at risk, next 30 days" in dashboard.text and soon and shows(
            dashboard, sum(i.revenue_at_risk for i in soon))
    ranking = signed_in(app, "credentialing@demo.agency").get("/placements/at-risk").text
    assert PROBLEM_OF["document_expiring"] in ranking and f"${diallo.revenue_at_risk:,}" in ranking
    # The panel matrix has true cycle times (initial credentialing takes 60 to 180 days), enrollments
    # still pending and follow-ups due.
    cycles = [p.cycle_days for p in db.session.scalars(sa.select(PanelEnrollment)) if p.cycle_days is not None]
    assert len(cycles) >= 10 and all(60 <= days <= 180 for days in cycles), sorted(cycles)
    matrix = signed_in(app, "credentialing@demo.agency").get("/panels/matrix?per_page=500").text
    assert "days to approval" in matrix and "⚑ Follow-up overdue" in matrix and "⚑ Follow-up due" in matrix
    assert 'data-status="submitted"' in matrix and 'data-status="in_review"' in matrix
    averages = matrix.split(">Average cycle</th>")[1].split("</tr>")[0]
    assert averages.count(" days<br>") >= 5, averages  # most payers have an average cycle time
    billing = signed_in(app, "billing@demo.agency")
    assert billing.get("/dashboard").status_code == 200
    assert chased.number in billing.get(f"/invoices/{chased.id}").text
    for line in shown:  # each overtime rule's line as its invoice shows it
        assert line.description in html.unescape(billing.get(f"/invoices/{line.invoice_id}").text)
    portal = signed_in(app, "facility@demo.agency").get("/portal")
    assert portal.status_code == 200
    riverside = db.session.get(User, db.session.scalar(
        sa.select(User.id).where(User.email == "facility@demo.agency"))).facility_id
    assert any(e.placement.facility_id == riverside for e in stale)
    assert PROBLEM_OF["stalled_approval"] in portal.text
    owed = next(f.total for f in aging(as_of).facilities if f.facility_id == riverside)
    assert shows(portal, owed), owed  # the same open balance as Receivables

    # Exclusion screening: last week's run, its evidence, and one name for credentialing to confirm or dismiss,
    # on a therapist with no live placement (so nothing placed is blocked).
    (run,) = db.session.scalars(sa.select(ExclusionScreening)).all()
    assert as_of - timedelta(days=31) < run.screened_on <= as_of and run.rows >= 3 and len(run.sha256) == 64
    (hit,) = run.hits
    assert (hit.match, hit.status) == ("name", "pending")
    assert not db.session.scalar(sa.select(sa.func.count()).select_from(Placement).where(
        Placement.therapist_id == hit.therapist_id, Placement.status.in_(Placement.LIVE)))
    screenings_page = signed_in(app, "credentialing@demo.agency").get(f"/screenings/{run.id}")
    assert hit.therapist.full_name in screenings_page.text and run.sha256 in screenings_page.text
    # Held hours with a true reason: the days a Riverside therapist worked between her license's lapse and
    # its reissue, shown on the timesheets, her placement and the portal; the days after it are released.
    held = db.session.scalars(sa.select(TimesheetEntry).where(TimesheetEntry.status == "held")).all()
    assert len(held) == 2 and {e.placement.facility_id for e in held} == {riverside}
    assert all(r["code"] == "no_license_in_state" for e in held for r in e.hold_reasons)
    lapsed = held[0].placement
    assert not any(lic.covers(e.work_date) for e in held for lic in lapsed.therapist.licenses)
    reason = held[0].hold_reasons[0]["message"]
    # The facility's contact reads why in neutral words; staff read the finding itself.
    assert "Held until the therapist's license in this state is confirmed" in html.unescape(portal.text)
    assert reason not in portal.text
    assert reason in billing.get("/timesheets?status=held").text
    assert reason in signed_in(app, "admin@demo.agency").get(f"/placements/{lapsed.id}").text

    # Seeding again is refused, --if-empty passes quietly, and --reset starts over: the same agency
    # again, nothing doubled, no stray files. (Resetting takes another seeding: once is enough.)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0 and "only fills an empty one" in again.output and "--reset" in again.output
    quiet = runner.invoke(args=["seed-demo", "--if-empty"])
    assert quiet.exit_code == 0 and "not added" in quiet.output
    if as_of.day == 1:
        return
    old_files = {path_of(d) for d in db.session.scalars(sa.select(Document))}
    db.session.remove()
    reset = runner.invoke(args=["seed-demo", "--reset"])
    assert reset.exit_code == 0, reset.output
    assert every_table() == seeded
    files = stored_files() - earlier_files
    assert files == {path_of(d) for d in db.session.scalars(sa.select(Document))} | {
        path_of(u) for u in db.session.scalars(sa.select(DocumentRequestItem).where(
            DocumentRequestItem.storage_name.is_not(None)))}
    assert not files & old_files


def holdings() -> dict[str, int]:
    return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (User, Therapist, Facility)}


@pytest.mark.parametrize("flags", [[], ["--if-empty"], ["--reset"]])
def test_seed_demo_refuses_production_mode_whatever_the_flags(app, setting, flags):
    factories.facility()
    before = holdings()
    setting(ENV="production")
    result = app.test_cli_runner().invoke(args=["seed-demo", *flags])
    assert result.exit_code != 0 and "does not run in production mode" in result.output
    assert holdings() == before


def _one_user():
    from agency.auth.services import create_user

    create_user("owner@agency.example", "admin", PASSWORD)


@pytest.mark.parametrize("holding", [_one_user, factories.therapist, factories.facility],
                         ids=["a user", "a therapist", "a facility"])
def test_seed_demo_refuses_a_database_that_already_holds_data(app, holding):
    holding()
    before = holdings()
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "only fills an empty one" in result.output
    assert holdings() == before


def test_seed_demo_if_empty_on_a_database_with_data_does_nothing_and_says_so(app):
    factories.facility()
    before = holdings()
    result = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0 and "the demo agency was not added" in result.output
    assert holdings() == before


def test_loading_ce_rules_keeps_an_edited_rule(app):
    from agency.credentials.models import CERule
    from tests import factories

    factories.ce_rule(state="NY", license_type="LCSW", hours="99")
    result = app.test_cli_runner().invoke(args=["credentials", "load-ce-rules"])
    assert result.exit_code == 0 and "already present" in result.output
    rule = db.session.scalar(sa.select(CERule).where(CERule.state == "NY", CERule.license_type == "LCSW"))
    assert str(rule.hours_required) == "99.00"
