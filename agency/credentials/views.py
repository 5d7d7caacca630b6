"""Credentialing pages: therapists, licenses, CE, panels, documents, CE rules, the worklist."""

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from agency.core.audit import AuditEvent
from agency.core.bounds import id_or_none
from agency.core.dates import human_day, today
from agency.core.errors import DomainError
from agency.core.exports import csv_response, list_csv, wants_csv
from agency.core.forms import flash_import_report, form_values, read_text_upload, show_errors
from agency.core.listing import page_args, paginate, search_arg, sort_by
from agency.core.permissions import can, current_actor, requires
from agency.core.states import STATE_CHOICES
from agency.credentials import documents, matrix, queries, roster, rules, screening, services
from agency.credentials import requests as doc_requests
from agency.credentials.ce import ce_progress_for
from agency.credentials.forms import (
    CAQHRuleForm,
    CERecordForm,
    CERuleForm,
    DocumentForm,
    LicenseForm,
    PanelForm,
    PayerRuleForm,
    RenewalForm,
    RosterForm,
    TherapistForm,
    VerifyForm,
    choices,
)
from agency.credentials.models import (
    DISCIPLINES,
    DOC_TYPE_LABELS,
    LICENSE_KINDS,
    LICENSE_STATUSES,
    THERAPIST_STATUSES,
    CAQHRule,
    CERecord,
    CERule,
    Document,
    License,
    PanelEnrollment,
    PayerRule,
    Therapist,
    doc_type_label,
)
from agency.credentials.worklist import KINDS, SORTS, URGENCIES, WINDOWS, worklist_page
from agency.credentials.worklist import worklist as full_worklist
from agency.extensions import db

bp = Blueprint("credentials", __name__)
# Every page, of any area, names a document type the same way.
bp.add_app_template_filter(doc_type_label, "doc_type")


def _filter(name: str, allowed) -> str | None:
    """A query-string filter, ignored unless it is one of the allowed values."""
    value = request.args.get(name) or None
    return value if value in allowed else None


STATE_CODES = {code for code, _ in STATE_CHOICES}
# The latest document requests a therapist's page lists.
REQUESTS_SHOWN = 20


# ----------------------------------------------------------------------------- worklist


def _back(default: str) -> str:
    """Where a form opened from the worklist or the panel matrix returns after saving: that page, filters and all."""
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc and parts.path in (url_for(".worklist"), url_for(".panel_matrix")):
        return target
    return default


def _worklist_filters() -> dict:
    return {
        "state": _filter("state", STATE_CODES),
        "discipline": _filter("discipline", DISCIPLINES),
        "kind": _filter("kind", KINDS),
        "q": search_arg(),
        "window": _filter("window", WINDOWS),
    }


@bp.get("/worklist")
@requires("worklist.view")
def worklist():
    filters = _worklist_filters()
    sort = _filter("sort", SORTS) or "due"
    as_of = today()
    if wants_csv():
        items = full_worklist(as_of, **filters, sort=sort)
        return list_csv("credentialing-worklist.csv", ["due_on", "days_left", "kind", "therapist",
                                                       "discipline", "state", "item", "details"],
                        ([i.due_on, i.days_left(as_of), i.kind_label, i.therapist.full_name,
                          i.therapist.discipline, i.state, i.title, i.detail] for i in items))
    number, per_page = page_args()
    listing = worklist_page(as_of, **filters, sort=sort, page=number, per_page=per_page)
    return render_template("credentials/worklist.html", listing=listing, as_of=as_of, filters=filters,
                           sort=sort, sorts=SORTS, kinds=KINDS, urgencies=URGENCIES, disciplines=DISCIPLINES,
                           states=STATE_CHOICES, windows=WINDOWS, here=request.full_path.rstrip("?"))


@bp.post("/therapists/<int:therapist_id>/caqh-attested")
@requires("therapists.edit")
def caqh_attested(therapist_id: int):
    """One click from the worklist: the therapist re-attested their CAQH profile today."""
    person = db.get_or_404(Therapist, therapist_id)
    try:
        services.update_therapist(person, {"caqh_attested_on": today()}, current_actor())
    except DomainError as exc:
        flash(f"Not recorded: {exc.message}", "error")
    else:
        flash(f"CAQH attestation for {person.full_name} recorded as of today.", "success")
    return redirect(_back(url_for(".therapist", therapist_id=person.id)))


# ----------------------------------------------------------------------------- therapists


@bp.get("/therapists")
@requires("therapists.view")
def therapists():
    filters = {
        "q": search_arg(),
        "discipline": _filter("discipline", DISCIPLINES),
        "state": _filter("state", STATE_CODES),
        "status": _filter("status", THERAPIST_STATUSES),
    }
    query, sort = sort_by(queries.therapists_query(**filters), {
        "name": Therapist.last_name, "discipline": Therapist.discipline, "home_state": Therapist.home_state,
        "caqh": Therapist.caqh_attested_on, "status": Therapist.status}, "name")
    if wants_csv():
        return csv_response("therapists.csv", [
            "id", "first_name", "last_name", "email", "phone", "discipline", "npi", "home_state", "caqh_id",
            "caqh_attested_on", "status", "availability", "specialties"], query, lambda t: [
            t.id, t.first_name, t.last_name, t.email, t.phone, t.discipline, t.npi, t.home_state, t.caqh_id,
            t.caqh_attested_on, t.status, t.availability, "; ".join(t.specialties or [])])
    pagination = paginate(query)
    return render_template("credentials/therapists.html", pagination=pagination, filters=filters, sort=sort,
                           disciplines=DISCIPLINES, statuses=THERAPIST_STATUSES, states=STATE_CHOICES)


def _therapist_values(form: TherapistForm) -> dict:
    values = form_values(form, TherapistForm.FIELDS)
    values["specialties"] = [s.strip() for s in (form.specialties.data or "").split(",") if s.strip()]
    return values


@bp.route("/therapists/new", methods=["GET", "POST"])
@requires("therapists.edit")
def new_therapist():
    form = TherapistForm()
    if form.validate_on_submit():
        try:
            therapist = services.create_therapist(_therapist_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{therapist.full_name} added to the roster.", "success")
            return redirect(url_for(".therapist", therapist_id=therapist.id))
    return render_template("credentials/therapist_form.html", form=form, therapist=None)


@bp.get("/therapists/<int:therapist_id>")
@requires("therapists.view")
def therapist(therapist_id: int):
    person = queries.therapist_profile(therapist_id) or abort(404)
    docs = db.session.scalars(
        queries.documents_query(therapist_id=person.id).order_by(Document.doc_type, Document.id.desc())
    ).all()
    history = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == "therapist", AuditEvent.object_id == person.id)
        .order_by(AuditEvent.id.desc()).limit(10)
    ).all()
    sent = []
    if can(current_actor(), "document_requests.send"):
        sent = db.session.scalars(doc_requests.requests_of(person.id).limit(REQUESTS_SHOWN)).all()
    return render_template(
        "credentials/therapist.html", therapist=person, documents=docs, history=history,
        progress=ce_progress_for(person.licenses), as_of=today(), document_requests=sent,
        doc_type_labels=DOC_TYPE_LABELS,
        exclusion_hits=screening.hits_of(person.id) if can(current_actor(), "screenings.view") else [],
        screening_list=screening.source_label,
    )


@bp.route("/therapists/<int:therapist_id>/edit", methods=["GET", "POST"])
@requires("therapists.edit")
def edit_therapist(therapist_id: int):
    person = db.get_or_404(Therapist, therapist_id)
    form = TherapistForm(obj=person)
    if form.validate_on_submit():
        try:
            services.update_therapist(person, _therapist_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for(".therapist", therapist_id=person.id))
    return render_template("credentials/therapist_form.html", form=form, therapist=person)


@bp.route("/therapists/import", methods=["GET", "POST"])
@requires("therapists.edit")
def import_roster():
    form = RosterForm()
    report = None
    if form.validate_on_submit() and (text := read_text_upload(form.file, 5)) is not None:
        report = roster.import_roster(text, current_actor(), dry_run=form.dry_run.data)
        flash_import_report(report, form.dry_run.data,
                            f"Imported {report.therapists} therapists and {report.licenses} licenses.")
    return render_template("credentials/roster_import.html", form=form, report=report, columns=roster.COLUMNS)


# ----------------------------------------------------------------------------- licenses


@bp.get("/licenses")
@requires("credentials.view")
def licenses():
    filters = {
        "q": search_arg(),
        "state": _filter("state", STATE_CODES),
        "kind": _filter("kind", LICENSE_KINDS),
        "status": _filter("status", LICENSE_STATUSES),
    }
    query, sort = sort_by(queries.licenses_query(**filters), {
        "state": License.state, "type": License.license_type, "number": License.number, "kind": License.kind,
        "expires": License.expires_on, "verified": License.verified_on}, "expires")
    if wants_csv():
        as_of = today()
        return csv_response("licenses.csv", [
            "id", "therapist_id", "therapist", "state", "license_type", "number", "kind", "issued_on",
            "expires_on", "effective_expires_on", "status", "verified_on", "verification_source"], query,
            lambda lic: [lic.id, lic.therapist_id, lic.therapist.full_name, lic.state, lic.license_type,
                         lic.number, lic.kind, lic.issued_on, lic.expires_on, lic.effective_expires_on,
                         lic.status_on(as_of), lic.verified_on, lic.verification_source])
    pagination = paginate(query)
    return render_template("credentials/licenses.html", pagination=pagination, filters=filters, sort=sort,
                           kinds=LICENSE_KINDS, statuses=LICENSE_STATUSES, states=STATE_CHOICES,
                           as_of=today())


def _home_license_choices(form: LicenseForm, person: Therapist, current: License | None) -> None:
    form.home_license_id.choices = choices(
        ((str(lic.id), f"{lic.state} {lic.license_type} {lic.number}")
         for lic in person.licenses
         if lic.kind == "state_license" and (current is None or lic.id != current.id)),
        blank="None (not a compact privilege)",
    )


def _license_values(form: LicenseForm) -> dict:
    values = form_values(form, LicenseForm.FIELDS)
    home = form.home_license_id.data
    values["home_license_id"] = id_or_none(home)
    return values


@bp.route("/therapists/<int:therapist_id>/licenses/new", methods=["GET", "POST"])
@requires("credentials.edit")
def new_license(therapist_id: int):
    person = db.get_or_404(Therapist, therapist_id)
    form = LicenseForm()
    _home_license_choices(form, person, None)
    if form.validate_on_submit():
        try:
            lic = services.add_license(person, _license_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{lic.state} {lic.license_type} license added.", "success")
            return redirect(url_for(".therapist", therapist_id=person.id))
    return render_template("credentials/license_form.html", form=form, therapist=person, license=None)


@bp.route("/licenses/<int:license_id>/edit", methods=["GET", "POST"])
@requires("credentials.edit")
def edit_license(license_id: int):
    lic = db.get_or_404(License, license_id)
    form = LicenseForm(obj=lic)
    _home_license_choices(form, lic.therapist, lic)
    if request.method == "GET":
        form.home_license_id.data = str(lic.home_license_id or "")
    if form.validate_on_submit():
        try:
            services.update_license(lic, _license_values(form), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("License saved.", "success")
            return redirect(url_for(".therapist", therapist_id=lic.therapist_id))
    return render_template("credentials/license_form.html", form=form, therapist=lic.therapist,
                           license=lic)


@bp.route("/licenses/<int:license_id>/verify", methods=["GET", "POST"])
@requires("credentials.edit")
def verify_license(license_id: int):
    lic = db.get_or_404(License, license_id)
    form = VerifyForm()
    if request.method == "GET":
        form.verified_on.data = today()
    if form.validate_on_submit():
        try:
            services.verify_license(lic, form.verified_on.data, form.verification_source.data,
                                    current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("Primary-source verification recorded.", "success")
            return redirect(_back(url_for(".therapist", therapist_id=lic.therapist_id)))
    return render_template("credentials/verify_form.html", form=form, license=lic)


@bp.route("/licenses/<int:license_id>/renew", methods=["GET", "POST"])
@requires("credentials.edit")
def renew_license(license_id: int):
    """A renewal on one form: new dates, primary-source verification and the new copy of the license."""
    lic = db.get_or_404(License, license_id)
    form = RenewalForm()
    if request.method == "GET":
        form.number.data = lic.number
        form.verified_on.data = today()
    if form.validate_on_submit():
        values = form_values(form, RenewalForm.FIELDS)
        upload = form.file.data
        try:
            services.check_renewal(lic, values, form.verified_on.data, form.verification_source.data)
            if upload and upload.filename:
                documents.store_document(lic.therapist, upload.stream, upload.filename, "license_copy",
                                         values["issued_on"], values["expires_on"], current_actor())
            services.renew_license(lic, values, form.verified_on.data, form.verification_source.data,
                                   current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{lic.state} {lic.license_type} {lic.number} renewed to {lic.expires_on:%b %d, %Y}.", "success")
            return redirect(_back(url_for(".therapist", therapist_id=lic.therapist_id)))
    return render_template("credentials/renew_form.html", form=form, license=lic,
                           back=_back(url_for(".therapist", therapist_id=lic.therapist_id)))


@bp.post("/licenses/<int:license_id>/delete")
@requires("credentials.edit")
def delete_license(license_id: int):
    lic = db.get_or_404(License, license_id)
    therapist_id = lic.therapist_id
    try:
        services.delete_license(lic, current_actor())
    except DomainError as exc:
        flash(exc.sentence, "error")
    else:
        flash("License removed.", "success")
    return redirect(url_for(".therapist", therapist_id=therapist_id))


# ----------------------------------------------------------------------------- CE records


@bp.route("/therapists/<int:therapist_id>/ceus/new", methods=["GET", "POST"])
@requires("credentials.edit")
def new_ce_record(therapist_id: int):
    person = db.get_or_404(Therapist, therapist_id)
    form = CERecordForm()
    certificates = db.session.scalars(
        queries.documents_query(therapist_id=person.id, doc_type="ce_certificate")
    ).all()
    form.certificate_document_id.choices = choices(
        ((str(d.id), d.filename) for d in certificates), blank="None"
    )
    if form.validate_on_submit():
        values = form_values(form, CERecordForm.FIELDS)
        certificate = form.certificate_document_id.data
        values["certificate_document_id"] = id_or_none(certificate)
        try:
            services.add_ce_record(person, values, current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash("CE record added.", "success")
            return redirect(_back(url_for(".therapist", therapist_id=person.id) + "#ce"))
    return render_template("credentials/ce_form.html", form=form, therapist=person)


@bp.post("/ceus/<int:record_id>/delete")
@requires("credentials.edit")
def delete_ce_record(record_id: int):
    record = db.get_or_404(CERecord, record_id)
    therapist_id = record.therapist_id
    services.delete_ce_record(record, current_actor())
    flash("CE record removed.", "success")
    return redirect(url_for(".therapist", therapist_id=therapist_id) + "#ce")


# ----------------------------------------------------------------------------- panels


def _due_hint(panel: PanelEnrollment | None) -> str:
    """What the override field means: blank follows the payer's rule, which the hint states."""
    if panel is None:
        return ("Only a date the payer gave. Leave blank to follow the payer's re-credentialing rule "
                "(Reference rules): months after the effective date.")
    rule = (f"Leave blank to follow {panel.payer}'s rule: {panel.recredential_months} months after the "
            "effective date")
    if panel.recredential_due_override is None and panel.recredential_due_on is not None:
        rule += f", now {human_day(panel.recredential_due_on)}"
    return f"Only a date the payer gave. {rule}."


@bp.route("/therapists/<int:therapist_id>/panels/new", methods=["GET", "POST"])
@requires("credentials.edit")
def new_panel(therapist_id: int):
    person = db.get_or_404(Therapist, therapist_id)
    form = PanelForm()
    if form.validate_on_submit():
        try:
            panel = services.add_panel(person, form_values(form, PanelForm.FIELDS), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{panel.payer} enrollment added.", "success")
            return redirect(url_for(".therapist", therapist_id=person.id) + "#panels")
    return render_template("credentials/panel_form.html", form=form, therapist=person, panel=None,
                           due_hint=_due_hint(None))


@bp.route("/panels/<int:panel_id>/edit", methods=["GET", "POST"])
@requires("credentials.edit")
def edit_panel(panel_id: int):
    panel = db.get_or_404(PanelEnrollment, panel_id)
    form = PanelForm(obj=panel)
    if form.validate_on_submit():
        try:
            services.update_panel(panel, form_values(form, PanelForm.FIELDS), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{panel.payer} enrollment saved.", "success")
            return redirect(_back(url_for(".therapist", therapist_id=panel.therapist_id) + "#panels"))
    return render_template("credentials/panel_form.html", form=form, therapist=panel.therapist,
                           panel=panel, due_hint=_due_hint(panel))


@bp.get("/panels/matrix")
@requires("credentials.view")
def panel_matrix():
    """Therapists by payer: each enrollment's status, dates and cycle time; what is due stands out."""
    chosen = {k: v for k, v in request.args.items() if k in matrix.FILTERS.fields and v.strip()}
    try:
        filters = matrix.parse_filters(chosen)
    except DomainError as exc:
        # A filter that names no state or discipline shows nothing rather than everything.
        return render_template("credentials/panel_matrix.html", error=exc.message, filters=chosen, grid=None,
                               pagination=None, states=STATE_CHOICES, disciplines=DISCIPLINES), 400
    rows = matrix.therapists(**filters)
    columns = matrix.payers(rows)
    if wants_csv():
        return _matrix_csv(rows, columns)
    pagination = paginate(rows)
    grid = matrix.build(pagination.items, columns)
    return render_template("credentials/panel_matrix.html", error=None, filters=filters, grid=grid,
                           pagination=pagination, states=STATE_CHOICES, disciplines=DISCIPLINES,
                           here=request.full_path.rstrip("?"))


MATRIX_CSV = ["therapist_id", "last_name", "first_name", "discipline", "home_state", "payer", "enrollment_id",
              "status", "submitted_on", "effective_on", "cycle_days", "recredential_due_on", "next_follow_up_on",
              "follow_up", "recredential", "payer_average_cycle_days"]


def _matrix_csv(rows, columns):
    """The whole filtered matrix, one line per therapist and payer (a therapist with no enrollment, once)."""
    as_of, by_key = today(), {c.key: c for c in columns}

    def line(found):
        person, enrollment, key = found
        who = [person.id, person.last_name, person.first_name, person.discipline, person.home_state]
        if enrollment is None:
            return who + [None] * (len(MATRIX_CSV) - len(who))
        cell, payer = matrix.Cell(enrollment, as_of), by_key[key]
        return who + [payer.name, cell.id, cell.status, cell.submitted_on, cell.effective_on, cell.cycle_days,
                      cell.recredential_due_on, cell.next_follow_up_on, cell.follow_up, cell.recredential,
                      payer.average_cycle_days]

    return csv_response("panel-matrix.csv", MATRIX_CSV, matrix.export_query(rows), line, whole_rows=True)


# ----------------------------------------------------------------------------- documents


@bp.route("/therapists/<int:therapist_id>/documents/new", methods=["GET", "POST"])
@requires("documents.upload")
def upload_document(therapist_id: int):
    person = db.get_or_404(Therapist, therapist_id)
    form = DocumentForm()
    if request.method == "GET" and request.args.get("doc_type"):
        form.doc_type.data = request.args["doc_type"]
    if form.validate_on_submit():
        upload = form.file.data
        try:
            doc = documents.store_document(
                person, upload.stream, upload.filename, form.doc_type.data,
                form.issued_on.data, form.expires_on.data, current_actor(),
            )
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"{doc.filename} uploaded.", "success")
            return redirect(_back(url_for(".therapist", therapist_id=person.id) + "#documents"))
    return render_template("credentials/document_form.html", form=form, therapist=person)


@bp.get("/documents/<int:document_id>/file")
@requires("documents.download")
def download_document(document_id: int):
    return documents.download(db.get_or_404(Document, document_id), current_actor())


@bp.post("/documents/<int:document_id>/delete")
@requires("documents.delete")
def delete_document(document_id: int):
    doc = db.get_or_404(Document, document_id)
    owner_id = doc.owner_id
    documents.delete_document(doc, current_actor())
    flash("Document removed.", "success")
    return redirect(url_for(".therapist", therapist_id=owner_id) + "#documents")


# ----------------------------------------------------------------------------- CE rules


@bp.get("/ce-rules")
@requires("credentials.view")
def ce_rules():
    pagination = paginate(sa.select(CERule).order_by(CERule.state, CERule.license_type, CERule.id), per_page=100)
    return render_template("credentials/ce_rules.html", pagination=pagination)


@bp.route("/ce-rules/new", methods=["GET", "POST"])
@bp.route("/ce-rules/<int:rule_id>/edit", methods=["GET", "POST"])
@requires("reference_rules.edit")
def edit_ce_rule(rule_id: int | None = None):
    rule = db.get_or_404(CERule, rule_id) if rule_id else None
    form = CERuleForm(obj=rule)
    if form.validate_on_submit():
        topics = form.topic_hours() if form.topics_sent() else {t.topic: t.hours for t in (rule.topics if rule else [])}
        try:
            saved = services.save_ce_rule(rule, form_values(form, CERuleForm.FIELDS), topics, current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            flash(f"CE rule for {saved.state} {saved.license_type} saved.", "success")
            return redirect(url_for(".reference_rules") + "#ce")
    form.offer_blank_rows()
    return render_template("credentials/ce_rule_form.html", form=form, rule=rule)


@bp.post("/ce-rules/<int:rule_id>/delete")
@requires("reference_rules.edit")
def delete_ce_rule(rule_id: int):
    rule = db.get_or_404(CERule, rule_id)
    rules.delete_ce_rule(rule, current_actor())
    flash(f"CE rule for {rule.state} {rule.license_type} removed.", "success")
    return redirect(url_for(".reference_rules") + "#ce")


# ----------------------------------------------------------------------------- reference rules


@bp.get("/reference-rules")
@requires("credentials.view")
def reference_rules():
    """The rules every derived date follows (CAQH per state, re-credentialing per payer, CE), with sources."""
    ce = db.session.scalars(sa.select(CERule).order_by(CERule.state, CERule.license_type, CERule.id)).all()
    return render_template("credentials/reference_rules.html", caqh=rules.caqh_rules(), payers=rules.payer_rules(),
                           ce=ce, as_of=today())


def _sentence(label: str) -> str:
    # Capitalised at the start only: "CAQH rule IL" keeps its capitals.
    return label[:1].upper() + label[1:]


def _edit_rule(model, rule_id, form_class, save, template: str, anchor: str, values=form_values):
    rule = db.get_or_404(model, rule_id) if rule_id else None
    form = form_class(obj=rule)
    if form.validate_on_submit():
        try:
            saved = save(rule, values(form, form_class.FIELDS), current_actor())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            label = (rules.caqh_label if model is CAQHRule else rules.payer_label)(saved)
            flash(f"{_sentence(label)} saved: every date that follows it has moved with it.", "success")
            return redirect(url_for(".reference_rules") + anchor)
    return render_template(template, form=form, rule=rule)


def _caqh_values(form: CAQHRuleForm, names) -> dict:
    return {**form_values(form, names), "reminder_days": form.days()}


@bp.route("/reference-rules/caqh/new", methods=["GET", "POST"])
@bp.route("/reference-rules/caqh/<int:caqh_rule_id>/edit", methods=["GET", "POST"])
@requires("reference_rules.edit")
def edit_caqh_rule(caqh_rule_id: int | None = None):
    return _edit_rule(CAQHRule, caqh_rule_id, CAQHRuleForm, rules.save_caqh_rule, "credentials/caqh_rule_form.html",
                      "#caqh", _caqh_values)


@bp.post("/reference-rules/caqh/<int:caqh_rule_id>/delete")
@requires("reference_rules.edit")
def delete_caqh_rule(caqh_rule_id: int):
    return _delete_rule(CAQHRule, caqh_rule_id, rules.caqh_label, rules.delete_caqh_rule, "#caqh")


@bp.route("/reference-rules/payers/new", methods=["GET", "POST"])
@bp.route("/reference-rules/payers/<int:payer_rule_id>/edit", methods=["GET", "POST"])
@requires("reference_rules.edit")
def edit_payer_rule(payer_rule_id: int | None = None):
    return _edit_rule(PayerRule, payer_rule_id, PayerRuleForm, rules.save_payer_rule,
                      "credentials/payer_rule_form.html", "#payers")


@bp.post("/reference-rules/payers/<int:payer_rule_id>/delete")
@requires("reference_rules.edit")
def delete_payer_rule(payer_rule_id: int):
    return _delete_rule(PayerRule, payer_rule_id, rules.payer_label, rules.delete_payer_rule, "#payers")


def _delete_rule(model, rule_id: int, label, delete, anchor: str):
    rule = db.get_or_404(model, rule_id)
    said = label(rule)  # read before the row is gone
    delete(rule, current_actor())
    flash(f"{_sentence(said)} removed.", "success")
    return redirect(url_for(".reference_rules") + anchor)
