"""Forms for therapists, licenses, CE, panels, documents and CE rules."""

from decimal import Decimal

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from agency.core.forms import (
    DayField,
    EmailAddressField,
    LineField,
    ListInput,
    NumberField,
    WholeNumberField,
)
from agency.core.states import STATE_CHOICES
from agency.credentials.models import (
    AVAILABILITY,
    CE_TOPICS,
    DISCIPLINES,
    DOC_TYPE_LABELS,
    LICENSE_KINDS,
    LICENSE_TYPES,
    PANEL_STATUSES,
    THERAPIST_STATUSES,
)


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """Select options from (value, label) pairs, with an optional blank first option."""
    return ([SelectChoice("", blank)] if blank is not None else []) + [
        SelectChoice(value, label) for value, label in pairs
    ]


def _choices(values) -> list[SelectChoice]:
    return choices((v, v.replace("_", " ").capitalize() if v.islower() else v) for v in values)


STATE_SELECT = choices(STATE_CHOICES, blank="Choose a state")


class TherapistForm(FlaskForm):
    first_name = LineField("First name", validators=[DataRequired(), Length(max=80)])
    last_name = LineField("Last name", validators=[DataRequired(), Length(max=80)])
    email = EmailAddressField("Email", validators=[DataRequired(), Length(max=255)])
    phone = LineField("Phone", validators=[Optional(), Length(max=30)])
    discipline = SelectField("Discipline", choices=_choices(DISCIPLINES), validators=[DataRequired()])
    npi = LineField("NPI", validators=[Optional(), Regexp(r"^[0-9]{10}$", message="NPI is 10 digits")])
    home_state = SelectField("Home state", choices=STATE_SELECT, validators=[DataRequired()])
    caqh_id = LineField("CAQH ProView ID", validators=[Optional(), Length(max=20)])
    caqh_attested_on = DayField("Last CAQH attestation", validators=[Optional()])
    status = SelectField("Status", choices=_choices(THERAPIST_STATUSES))
    specialties = ListInput("Specialties", validators=[Optional(), Length(max=500)], render=", ".join,
                            description="Comma-separated, e.g. trauma, adolescents, SUD")
    availability = SelectField("Availability", choices=_choices(AVAILABILITY))
    available_from = DayField("Available from", validators=[Optional()])
    hours_per_week = WholeNumberField("Hours per week", validators=[Optional(), NumberRange(1, 80)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save therapist")

    FIELDS = ("first_name", "last_name", "email", "phone", "discipline", "npi", "home_state",
              "caqh_id", "caqh_attested_on", "status", "availability", "available_from",
              "hours_per_week", "notes")


class LicenseForm(FlaskForm):
    state = SelectField("State", choices=STATE_SELECT, validators=[DataRequired()])
    license_type = SelectField("License type", choices=_choices(LICENSE_TYPES))
    number = LineField("License number", validators=[DataRequired(), Length(max=40)])
    kind = SelectField("Kind", choices=_choices(LICENSE_KINDS))
    home_license_id = SelectField("Home-state license (compact privileges only)", coerce=str,
                                  choices=[], validate_choice=False)
    issued_on = DayField("Issued on", validators=[DataRequired()])
    expires_on = DayField("Expires on", validators=[DataRequired()])
    submit = SubmitField("Save license")

    FIELDS = ("state", "license_type", "number", "kind", "issued_on", "expires_on")


class VerifyForm(FlaskForm):
    verified_on = DayField("Verified on", validators=[DataRequired()])
    verification_source = LineField(
        "Primary source", validators=[DataRequired(), Length(max=255)],
        description="e.g. the state board's online license lookup",
    )
    submit = SubmitField("Record verification")


class RenewalForm(FlaskForm):
    """A license renewal on one page: the new dates, the primary-source check and the new copy."""

    number = LineField("License number", validators=[DataRequired(), Length(max=40)],
                       description="Unchanged unless the board issued a new number")
    issued_on = DayField("Renewed on", validators=[DataRequired()])
    expires_on = DayField("New expiry", validators=[DataRequired()])
    verified_on = DayField("Verified on", validators=[DataRequired()])
    verification_source = LineField("Primary source", validators=[DataRequired(), Length(max=255)],
                                    description="e.g. the state board's online license lookup")
    file = FileField("Copy of the renewed license (PDF, PNG or JPEG; optional)")
    submit = SubmitField("Save renewal")

    FIELDS = ("number", "issued_on", "expires_on")


class CERecordForm(FlaskForm):
    title = LineField("Course title", validators=[DataRequired(), Length(max=200)])
    provider = LineField("Provider", validators=[DataRequired(), Length(max=200)])
    hours = NumberField("Hours", places=2,
                        validators=[DataRequired(), NumberRange(min=Decimal("0.25"), max=Decimal("100"))])
    topic = SelectField("Topic", choices=_choices(CE_TOPICS))
    completed_on = DayField("Completed on", validators=[DataRequired()])
    certificate_document_id = SelectField("Certificate (uploaded document)", choices=[],
                                          validate_choice=False)
    submit = SubmitField("Save CE record")

    FIELDS = ("title", "provider", "hours", "topic", "completed_on")


class PanelForm(FlaskForm):
    payer = LineField("Payer", validators=[DataRequired(), Length(max=120)])
    status = SelectField("Status", choices=_choices(PANEL_STATUSES))
    submitted_on = DayField("Submitted on", validators=[Optional()])
    effective_on = DayField("Effective on", validators=[Optional()])
    # Blank: the payer's re-credentialing rule gives the date (PanelEnrollment.recredential_due_on).
    recredential_due_override = DayField("Re-credentialing date from the payer", validators=[Optional()])
    next_follow_up_on = DayField("Next follow-up", validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save enrollment")

    FIELDS = ("payer", "status", "submitted_on", "effective_on", "recredential_due_override",
              "next_follow_up_on", "notes")


class DocumentForm(FlaskForm):
    doc_type = SelectField("Document type", choices=choices(DOC_TYPE_LABELS.items()))
    file = FileField("File (PDF, PNG or JPEG)", validators=[FileRequired("Choose a file to upload")])
    issued_on = DayField("Issued on", validators=[Optional()])
    expires_on = DayField("Expires on", validators=[Optional()])
    submit = SubmitField("Upload")


class CETopicRowForm(Form):
    """One mandatory topic of a CE rule and the hours it needs; a row left blank is no topic."""

    topic = SelectField("Topic", choices=choices(((t, t.replace("_", " ").capitalize()) for t in CE_TOPICS),
                                                 blank="Choose a topic"))
    hours = NumberField("Hours", places=None, validators=[Optional()])


# Empty topic rows offered beyond those filled in, so a form without scripts can add topics.
BLANK_TOPIC_ROWS = 3


class CERuleForm(FlaskForm):
    state = SelectField("State", choices=STATE_SELECT, validators=[DataRequired()])
    license_type = SelectField("License type", choices=_choices(LICENSE_TYPES))
    hours_required = NumberField("Hours per renewal cycle", places=2,
                                 validators=[DataRequired(), NumberRange(min=Decimal("0.5"), max=Decimal("500"))])
    cycle_months = WholeNumberField("Cycle length (months)", validators=[DataRequired(), NumberRange(1, 60)])
    topics = FieldList(FormField(CETopicRowForm), label="Mandatory topics", max_entries=len(CE_TOPICS) * 2)
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    source = LineField("Source", validators=[Optional(), Length(max=255)])
    checked_on = DayField("Checked at the source on", validators=[Optional()])
    submit = SubmitField("Save CE rule")

    FIELDS = ("state", "license_type", "hours_required", "cycle_months", "notes", "source", "checked_on")

    def offer_blank_rows(self) -> None:
        """Top the topic rows up to BLANK_TOPIC_ROWS empty ones, for the page to show."""
        blank = sum(1 for row in self.topics if not row.topic.data and row.hours.raw_data in (None, [], [""]))
        for _ in range(BLANK_TOPIC_ROWS - blank):
            self.topics.append_entry()

    def topics_sent(self) -> bool:
        """Whether the post carried topic rows at all; a post without them leaves the rule's topics as they are."""
        return any(key.startswith("topics-") for key in request.form)

    def validate_topics(self, field):
        problems = False
        seen = set()
        for number, row in enumerate(field, start=1):
            topic, hours = row.topic.data, row.hours.data
            if row.hours.errors:
                problems = True
                continue
            if not topic and hours is None:
                continue
            if not topic:
                row.topic.errors = [f"Row {number}: choose the topic these hours are for."]
            elif hours is None:
                row.hours.errors = [f"Row {number}: give the hours {topic.replace('_', ' ')} needs."]
            elif hours <= 0 or hours != hours.quantize(Decimal("0.01")):
                row.hours.errors = [f"Row {number}: hours must be a positive number, at most 2 decimals."]
            elif topic in seen:
                row.topic.errors = [f"Row {number}: {topic.replace('_', ' ')} is listed twice; keep one row."]
            seen.add(topic)
            problems = problems or bool(row.topic.errors or row.hours.errors)
        if problems:
            raise ValidationError("Fix the topic rows marked below.")

    def topic_hours(self) -> dict[str, Decimal]:
        """The filled-in rows as {topic: hours} (call after validation)."""
        return {row.topic.data: row.hours.data for row in self.topics if row.topic.data}


def _days_list(value) -> str:
    return ", ".join(str(d) for d in value)


class CAQHRuleForm(FlaskForm):
    """A state's CAQH re-attestation rule; no state is the default for every other state."""

    state = SelectField("State", choices=choices(STATE_CHOICES, blank="Every other state (the default)"))
    interval_days = WholeNumberField("Re-attest every (days)", validators=[DataRequired(), NumberRange(1, 3650)])
    reminder_days = ListInput("Reminders, days before the due date", render=_days_list,
                              validators=[Optional(), Length(max=100)])
    source = LineField("Source", validators=[Optional(), Length(max=255)])
    checked_on = DayField("Checked at the source on", validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save CAQH rule")

    FIELDS = ("state", "interval_days", "source", "checked_on", "notes")

    def validate_reminder_days(self, field):
        parts = [part.strip() for part in (field.data or "").split(",") if part.strip()]
        if not all(part.isdigit() and len(part) <= 4 for part in parts):
            raise ValidationError("Give whole numbers of days, separated by commas (e.g. 15, 10, 5).")

    def days(self) -> list[int]:
        """The reminder days as numbers (call after validation); the service checks the rest."""
        return [int(part) for part in (self.reminder_days.data or "").split(",") if part.strip()]


class PayerRuleForm(FlaskForm):
    """A payer's re-credentialing interval; no payer is the default for every other payer."""

    payer = LineField("Payer", validators=[Optional(), Length(max=120)])
    months = WholeNumberField("Re-credential every (months after approval)",
                              validators=[DataRequired(), NumberRange(1, 120)])
    source = LineField("Source", validators=[Optional(), Length(max=255)])
    checked_on = DayField("Checked at the source on", validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save payer rule")

    FIELDS = ("payer", "months", "source", "checked_on", "notes")


class RosterForm(FlaskForm):
    file = FileField("Roster CSV", validators=[FileRequired("Choose a CSV file")])
    dry_run = BooleanField("Dry run: check every row, import nothing", default=True)
    submit = SubmitField("Check or import")
