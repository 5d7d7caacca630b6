"""Exclusion screening pages: screen a file, the runs (the dated evidence), a run's hits, a person's decision."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from agency.core.errors import DomainError
from agency.core.exports import csv_response, list_csv, wants_csv
from agency.core.forms import show_errors
from agency.core.listing import paginate
from agency.core.permissions import current_actor, requires
from agency.core.states import STATE_CHOICES
from agency.credentials import screening
from agency.credentials.forms import choices
from agency.credentials.models import ExclusionHit, ExclusionScreening
from agency.extensions import db

bp = Blueprint("screenings", __name__)


class ScreeningForm(FlaskForm):
    file = FileField("Exclusion file (CSV)", validators=[FileRequired("Choose the list's CSV file")])
    source = SelectField("List", choices=choices([("oig_leie", "OIG LEIE (UPDATED.csv)"),
                                                  ("state_medicaid", "A state Medicaid exclusion list")]))
    state = SelectField("State of a Medicaid list", choices=choices(STATE_CHOICES, blank="— (the OIG LEIE is federal)"),
                        validators=[Optional()])
    submit = SubmitField("Screen every therapist")


class DecisionForm(FlaskForm):
    note = TextAreaField("Note", validators=[Optional(), Length(max=500)])


def _screening(screening_id: int) -> ExclusionScreening:
    return db.session.scalar(sa.select(ExclusionScreening).where(ExclusionScreening.id == screening_id)
                             .options(joinedload(ExclusionScreening.screened_by))) or abort(404)


def _hit(screening_id: int, hit_id: int) -> ExclusionHit:
    hit = db.session.get(ExclusionHit, hit_id)
    if hit is None or hit.screening_id != screening_id:
        abort(404)
    return hit


@bp.get("/screenings")
@requires("screenings.view")
def screenings():
    query = (sa.select(ExclusionScreening).options(joinedload(ExclusionScreening.screened_by))
             .order_by(ExclusionScreening.screened_on.desc(), ExclusionScreening.id.desc()))
    if wants_csv():
        return csv_response("exclusion-screenings.csv", [
            "id", "source", "list_state", "screened_on", "filename", "sha256", "rows", "therapists_screened",
            "confirmed", "pending", "dismissed", "screened_by"],
            query.options(selectinload(ExclusionScreening.hits)), lambda run: [
            run.id, run.source, run.list_state, run.screened_on, run.filename, run.sha256, run.rows,
            run.therapists_screened, *(sum(1 for hit in run.hits if hit.status == status)
                                       for status in ("confirmed", "pending", "dismissed")),
            run.screened_by.email if run.screened_by else None])
    pagination = paginate(query)
    counts = screening.pending_counts([run.id for run in pagination.items])
    return render_template("credentials/screenings.html", pagination=pagination, counts=counts,
                           label=screening.source_label)


@bp.route("/screenings/new", methods=["GET", "POST"])
@requires("screenings.run")
def new_screening():
    form = ScreeningForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            run = screening.screen_file(upload.stream, upload.filename or "", form.source.data,
                                        form.state.data or None, current_actor(),
                                        limit=int(current_app.config["SCREENING_MAX_BYTES"]))
        except DomainError as exc:
            show_errors(form, exc)  # a refused file lists every bad line beside the file field
            flash("The file was refused; nothing was stored." if "file" in exc.fields else exc.sentence, "error")
        else:
            flash(f"Screened {run.therapists_screened} therapists against {run.rows} rows: "
                  f"{len(run.hits)} hit(s).", "success")
            return redirect(url_for(".screening", screening_id=run.id))
    return render_template("credentials/screening_form.html", form=form, columns=screening.COLUMNS)


@bp.get("/screenings/<int:screening_id>", endpoint="screening")
@requires("screenings.view")
def screening_run(screening_id: int):
    run = _screening(screening_id)
    hits = db.session.scalars(sa.select(ExclusionHit).where(ExclusionHit.screening_id == run.id)
                              .options(joinedload(ExclusionHit.therapist), joinedload(ExclusionHit.decided_by))
                              .order_by(ExclusionHit.status.desc(), ExclusionHit.id)).all()
    if wants_csv():
        # The evidence of one run: what was screened, against which file, and what was found.
        return list_csv(f"exclusion-screening-{run.id}.csv", [
            "screening_id", "source", "list_state", "screened_on", "filename", "sha256", "rows", "therapists_screened",
            "therapist_id", "therapist", "match", "status", "excluded_on", "reinstated_on", "exclusion_type",
            "listed_name", "listed_npi", "listed_state", "decided_by", "decided_at", "decision_note"], [
            [run.id, run.source, run.list_state, run.screened_on, run.filename, run.sha256, run.rows,
             run.therapists_screened, hit.therapist_id, hit.therapist.full_name, hit.match, hit.status,
             hit.excluded_on, hit.reinstated_on, hit.exclusion_type, listed_name(hit), hit.record.get("NPI"),
             hit.record.get("STATE"), hit.decided_by.email if hit.decided_by else None, hit.decided_at,
             hit.decision_note] for hit in hits] or [
            [run.id, run.source, run.list_state, run.screened_on, run.filename, run.sha256, run.rows,
             run.therapists_screened] + [None] * 13])
    return render_template("credentials/screening.html", run=run, hits=hits, label=screening.source_label,
                           listed_name=listed_name)


def listed_name(hit: ExclusionHit) -> str:
    """The name as the file lists it: FIRST MIDDLE LAST."""
    return " ".join(part for part in (hit.record.get("FIRSTNAME"), hit.record.get("MIDNAME"),
                                      hit.record.get("LASTNAME")) if part)


@bp.get("/screenings/<int:screening_id>/hits/<int:hit_id>")
@requires("screenings.view")
def exclusion_hit(screening_id: int, hit_id: int):
    hit = _hit(screening_id, hit_id)
    return render_template("credentials/exclusion_hit.html", hit=hit, run=hit.screening,
                           confirm=DecisionForm(prefix="confirm"), dismiss=DecisionForm(prefix="dismiss"),
                           label=screening.source_label, listed_name=listed_name(hit))


def _decide(screening_id: int, hit_id: int, decide, prefix: str, done: str):
    hit = _hit(screening_id, hit_id)
    form = DecisionForm(prefix=prefix)
    if form.validate_on_submit():
        try:
            decide(hit, form.note.data, current_actor())
        except DomainError as exc:
            flash(exc.sentence, "error")
        else:
            flash(f"{hit.therapist.full_name}: {done}", "success")
            return redirect(url_for(".screening", screening_id=screening_id) + f"#hit-{hit.id}")
    else:
        flash("; ".join(message for messages in form.errors.values() for message in messages)
              or "The form expired; try again.", "error")
    return redirect(url_for(".exclusion_hit", screening_id=screening_id, hit_id=hit_id))


@bp.post("/screenings/<int:screening_id>/hits/<int:hit_id>/confirm")
@requires("screenings.decide")
def confirm_hit(screening_id: int, hit_id: int):
    return _decide(screening_id, hit_id, screening.confirm_hit, "confirm",
                   "exclusion confirmed; it blocks readiness from its date.")


@bp.post("/screenings/<int:screening_id>/hits/<int:hit_id>/dismiss")
@requires("screenings.decide")
def dismiss_hit(screening_id: int, hit_id: int):
    return _decide(screening_id, hit_id, screening.dismiss_hit, "dismiss", "match dismissed as someone else.")
