"""Forms for therapists, licenses, CE, panels, documents and CE rules."""

from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
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
    ListTextArea,
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


class CERecordForm(FlaskForm):
    title = LineField("Course title", validators=[DataRequired(), Length(max=200)])
    provider = LineField("Provider", validators=[DataRequired(), Length(max=200)])
    hours = NumberField("Hours", places=2, validators=[DataRequired(), NumberRange(min=0.25, max=100)])
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
    recredential_due_on = DayField("Re-credentialing due", validators=[Optional()])
    next_follow_up_on = DayField("Next follow-up", validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save enrollment")

    FIELDS = ("payer", "status", "submitted_on", "effective_on", "recredential_due_on",
              "next_follow_up_on", "notes")


class DocumentForm(FlaskForm):
    doc_type = SelectField("Document type", choices=choices(DOC_TYPE_LABELS.items()))
    file = FileField("File (PDF, PNG or JPEG)", validators=[FileRequired("Choose a file to upload")])
    issued_on = DayField("Issued on", validators=[Optional()])
    expires_on = DayField("Expires on", validators=[Optional()])
    submit = SubmitField("Upload")


class CERuleForm(FlaskForm):
    state = SelectField("State", choices=STATE_SELECT, validators=[DataRequired()])
    license_type = SelectField("License type", choices=_choices(LICENSE_TYPES))
    hours_required = NumberField("Hours per renewal cycle", places=2,
                                 validators=[DataRequired(), NumberRange(min=0.5, max=500)])
    cycle_months = WholeNumberField("Cycle length (months)", validators=[DataRequired(), NumberRange(1, 60)])
    topics = ListTextArea(
        "Mandatory topics", validators=[Optional(), Length(max=2000)],
        render=lambda topics: "\n".join(f"{t.topic}: {t.hours.normalize():f}" for t in topics),
        description="One per line as topic: hours, e.g. ethics: 3. Topics: " + ", ".join(CE_TOPICS),
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save CE rule")

    FIELDS = ("state", "license_type", "hours_required", "cycle_months", "notes")

    def validate_topics(self, field):
        self.topic_hours()

    def topic_hours(self) -> dict[str, Decimal]:
        """Parse "topic: hours" lines; a bad line is reported with its number."""
        hours = {}
        for number, line in enumerate((self.topics.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            topic, _, amount = line.partition(":")
            topic = topic.strip().lower().replace(" ", "_")
            if topic not in CE_TOPICS:
                raise ValidationError(f"line {number}: unknown topic {topic!r}")
            try:
                value = Decimal(amount.strip())
            except InvalidOperation:
                raise ValidationError(f"line {number}: hours must be a number") from None
            if value <= 0 or value != value.quantize(Decimal("0.01")):
                raise ValidationError(f"line {number}: hours must be positive, at most 2 decimals")
            if topic in hours:
                raise ValidationError(f"line {number}: {topic} is listed twice")
            hours[topic] = value
        return hours


class RosterForm(FlaskForm):
    file = FileField("Roster CSV", validators=[FileRequired("Choose a CSV file")])
    dry_run = BooleanField("Dry run: check every row, import nothing", default=True)
    submit = SubmitField("Check or import")
