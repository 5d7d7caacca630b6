"""Forms for open assignments, placements, status changes, checklists and check-ins."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from agency.core.bounds import parse_id
from agency.core.forms import DayField, LineField, WholeNumberField
from agency.core.pickers import PickerField
from agency.core.states import STATE_CHOICES
from agency.credentials.forms import _choices, choices
from agency.credentials.models import DISCIPLINES
from agency.facilities.queries import ACTIVE_FACILITY_PICKER
from agency.placements.models import BILLING_BASES, PLACEMENT_STATUSES
from agency.placements.queries import THERAPIST_PICKER

STATES = choices(STATE_CHOICES)


class AssignmentForm(FlaskForm):
    facility_id = PickerField("Facility", picker=ACTIVE_FACILITY_PICKER)
    title = LineField("Title", validators=[DataRequired(), Length(max=200)],
                        description="e.g. Adult outpatient therapist, evening IOP")
    discipline = SelectField("Discipline", choices=_choices(DISCIPLINES))
    service_states = SelectMultipleField("Service states", choices=STATES,
                                         description="Where the clients are; default: the facility state")
    start_on = DayField("Start date", validators=[DataRequired()])
    length_weeks = WholeNumberField("Length (weeks)", validators=[DataRequired(), NumberRange(1, 260)])
    hours_per_week = WholeNumberField("Hours per week", validators=[DataRequired(), NumberRange(1, 80)])
    telehealth = BooleanField("Telehealth")
    billing_basis = SelectField("Billing basis", choices=_choices(BILLING_BASES))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save assignment")

    FIELDS = ("facility_id", "title", "discipline", "start_on", "length_weeks", "hours_per_week",
              "billing_basis", "notes")


class PlacementForm(FlaskForm):
    therapist_id = PickerField("Therapist", picker=THERAPIST_PICKER)
    facility_id = PickerField("Facility", picker=ACTIVE_FACILITY_PICKER)
    start_on = DayField("Start date", validators=[DataRequired()])
    end_on = DayField("End date", validators=[Optional()])
    service_states = SelectMultipleField("Service states", choices=STATES,
                                         description="Defaults to the facility's state")
    billing_basis = SelectField("Billing basis", choices=_choices(BILLING_BASES))
    hours_per_week = WholeNumberField("Hours per week", validators=[Optional(), NumberRange(1, 80)])
    telehealth = BooleanField("Telehealth")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Save placement")

    FIELDS = ("therapist_id", "facility_id", "start_on", "end_on", "billing_basis", "hours_per_week",
              "notes")


class ProposeForm(FlaskForm):
    therapist_id = HiddenField(validators=[DataRequired()])
    submit = SubmitField("Propose")


class AlertForm(FlaskForm):
    therapist_ids = SelectMultipleField("Therapists to tell", coerce=parse_id, choices=[], validate_choice=False)
    submit = SubmitField("Send the assignment to the chosen therapists")


class StatusForm(FlaskForm):
    status = SelectField("New status", choices=_choices(PLACEMENT_STATUSES))
    reason = LineField("Reason", validators=[Optional(), Length(max=500)])
    override_reason = LineField("Override reason (admins only)", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Change status")


class ChecklistToggleForm(FlaskForm):
    done = HiddenField()
    submit = SubmitField("Save")


class CheckInForm(FlaskForm):
    completed_on = DayField("Completed on", validators=[DataRequired()])
    satisfaction = SelectField("Therapist satisfaction", coerce=int,
                               choices=choices([(str(n), f"{n} of 5") for n in range(5, 0, -1)]))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    concern = BooleanField("Raise a concern (escalates to an admin)")
    submit = SubmitField("Record check-in")
