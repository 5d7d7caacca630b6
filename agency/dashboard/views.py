"""The home page: a dashboard for each role; facility contacts land on their portal."""

from decimal import Decimal

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from agency.auth.forms import NewTokenForm
from agency.billing.collections import open_tasks_for
from agency.billing.invoicing import drafts_waiting
from agency.billing.metrics import RATINGS, collections_report, to_watch
from agency.billing.models import CollectionTask
from agency.billing.receivables import BUCKET_LABELS, BUCKETS, aging
from agency.core.dates import today
from agency.core.jobs import job_page
from agency.core.permissions import can, current_actor, public, requires
from agency.credentials.worklist import KINDS, worklist_counts, worklist_page
from agency.dashboard import calendar, metrics
from agency.dashboard.search import search as run_search
from agency.extensions import db
from agency.placements.at_risk import revenue_at_risk, watched_rows
from agency.placements.watch import CODE_LABELS, Watch
from agency.placements.worklist import open_assignments, recruiter_worklist

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@public
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role == "facility":
        return redirect(url_for("billing.portal"))
    return redirect(url_for("dashboard.dashboard"))


@bp.get("/dashboard")
@login_required
@public
def dashboard():
    """What this role should look at first thing in the morning."""
    role = current_user.role
    if role == "facility":
        return redirect(url_for("billing.portal"))
    as_of = today()
    data = {"as_of": as_of, "role": role}
    if can(current_user, "collection_tasks.view"):
        data["tasks"] = db.session.scalars(open_tasks_for(current_user).options(
            joinedload(CollectionTask.facility)).limit(current_app.config["PAGE_SIZE"])).all()
    if role in ("recruiter", "credentialing", "admin"):
        # Those who clear blockers see the soonest; an admin, who has every panel, gets the counts. Where the
        # revenue at risk is shown too, both are read from the same statement.
        rows = watched_rows(as_of) if role in ("credentialing", "admin") else None
        data["watch"] = Watch(as_of, rows=rows)
        if rows is not None:
            data["at_risk"] = _at_risk_figure(as_of, rows)
        data["watch_soonest"] = data["watch"][:5] if role != "admin" else None
        data["watch_labels"] = CODE_LABELS
    if role in ("recruiter", "admin"):
        data["recruiting"] = recruiter_worklist(as_of, limit=15)
        data["open_assignments"] = open_assignments()
        data["my_placements"] = metrics.my_placements(current_user.id)
    if role in ("credentialing", "admin"):
        # Credentialing staff work the list itself; an admin, who has every panel, gets its counts.
        if role == "admin":
            counts = worklist_counts(as_of)
            data["credential_kinds"] = [(KINDS[k], n) for k, n in sorted(counts.by_kind.items())]
        else:
            counts = worklist_page(as_of, per_page=15)
            data["credential_items"] = counts.items
        data["credential_count"] = counts.total
        data["compliance"] = metrics.compliance(as_of)
        data["expirations"] = metrics.expirations_by_week(as_of)
    if role in ("billing", "admin"):
        report = aging(as_of, current_actor())
        data["aging"] = report
        data["aging_chart"] = ([BUCKET_LABELS[b] for b in BUCKETS], [report.buckets[b] for b in BUCKETS])
        figures = metrics.billing_figures(as_of)
        data["unbilled"] = (figures.unbilled_entries, figures.unbilled_hours)
        data["invoices_to_send"] = figures.invoices_to_send
        data["drafts_waiting"] = drafts_waiting(as_of, limit=10)
        data["money_by_month"] = metrics.billed_and_collected(as_of)
        data["collections"] = collections_report(as_of, report)
        data["collections_to_watch"] = to_watch(data["collections"], limit=5)
        data["ratings"] = RATINGS
    if role == "admin":
        data["active_placements"] = figures.active_placements
        data["month_money"] = data["money_by_month"][-1][1:]
        data["escalations"] = metrics.escalations()
    return render_template("dashboard/dashboard.html", **data)


def _at_risk_figure(as_of, rows):
    """The revenue of placements at risk within the next AT_RISK_DASHBOARD_DAYS, and how many."""
    if not can(current_actor(), "revenue_at_risk.view"):
        return None
    days = current_app.config["AT_RISK_DASHBOARD_DAYS"]
    soon = revenue_at_risk(as_of, rows).within(days)
    return {"days": days, "count": len(soon), "total": sum((i.revenue_at_risk for i in soon), Decimal("0"))}


@bp.get("/search")
@requires("therapists.view")
def search():
    q = request.args.get("q", "")
    results = run_search(current_actor(), q)
    if results.count == 1:
        only = (results.therapists or results.facilities or results.invoices)[0]
        endpoint, key = {
            "therapist": ("credentials.therapist", "therapist_id"),
            "facility": ("facilities.facility", "facility_id"),
            "invoice": ("billing.invoice", "invoice_id"),
        }[only.__audit_type__]
        return redirect(url_for(endpoint, **{key: only.id}))
    return render_template("dashboard/search.html", q=q, results=results)


@bp.get("/calendar/<token>.ics")
@public
def calendar_feed(token: str):
    """A user's private deadline feed; the secret token in the URL is the only key."""
    user = calendar.user_for_calendar(token)
    if user is None:
        abort(404)
    calendar.note_fetch(user, request.remote_addr)
    return Response(calendar.feed(user, today()), mimetype="text/calendar",
                    headers={"Content-Disposition": 'inline; filename="agency-deadlines.ics"'})


@bp.post("/account/calendar")
@login_required
@public
def renew_calendar():
    if NewTokenForm(prefix="calendar").validate_on_submit():
        calendar.rotate_token(current_user)
        flash("Your calendar link is ready; any earlier link no longer works.", "success")
    return redirect(url_for("auth.account") + "#calendar")


@bp.get("/jobs/<job_id>")
@requires("jobs.view")
def job(job_id: str):
    """The page of a run someone started: the run's own (an invoice run's is /invoices/runs/<id>)."""
    return redirect(url_for(job_page(job_id), job_id=job_id))
