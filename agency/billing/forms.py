"""Forms for timesheets, invoice runs, payments and voids."""

from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from agency.billing.queries import BILLABLE_PLACEMENT_PICKER
from agency.core.forms import DayField, LineField, NumberField
from agency.core.pickers import PickerField
from agency.facilities.queries import FACILITY_PICKER


class EntryForm(FlaskForm):
    placement_id = PickerField("Placement", picker=BILLABLE_PLACEMENT_PICKER)
    work_date = DayField("Work date", validators=[DataRequired()])
    direct_care_hours = NumberField("Direct-care hours", places=2, default=0,
                                    validators=[Optional(), NumberRange(min=0, max=24)])
    supervision_hours = NumberField("Supervision hours", places=2, default=0,
                                    validators=[Optional(), NumberRange(min=0, max=24)])
    travel_miles = NumberField("Travel miles", places=2, default=0,
                               validators=[Optional(), NumberRange(min=0, max=2000)])
    notes = StringField("Notes", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Save entry")

    FIELDS = ("placement_id", "work_date", "direct_care_hours", "supervision_hours", "travel_miles", "notes")


class DecideForm(FlaskForm):
    reason = LineField("Reason (for rejections)", validators=[Optional(), Length(max=500)])
    approve = SubmitField("Approve selected")
    reject = SubmitField("Reject selected")


class ReleaseForm(FlaskForm):
    reason = LineField("Reason for releasing the held hours", validators=[DataRequired(), Length(max=500)])
    submit = SubmitField("Release from hold")


class ImportForm(FlaskForm):
    file = FileField("Timesheet CSV", validators=[FileRequired("Choose a CSV file")])
    dry_run = BooleanField("Dry run: check every row, import nothing", default=True)
    submit = SubmitField("Check or import")


class InvoiceRunForm(FlaskForm):
    period_start = DayField("Period start", validators=[DataRequired()])
    period_end = DayField("Period end", validators=[DataRequired()])
    facility_id = PickerField("Facility", picker=FACILITY_PICKER, blank="Every facility with approved hours")
    submit = SubmitField("Generate invoices")


class RetryRunForm(FlaskForm):
    submit = SubmitField("Retry unfinished parts")


class PaymentForm(FlaskForm):
    amount = NumberField("Amount ($)", places=2, validators=[DataRequired(), NumberRange(min=Decimal("0.01"))])
    received_on = DayField("Received on", validators=[DataRequired()])
    reference = LineField("Reference (check or ACH number)", validators=[Optional(), Length(max=120)])
    submit = SubmitField("Record payment")


class FacilityFilterForm(FlaskForm):
    """The timesheet list's facility filter: a GET form, so no CSRF token in the address."""

    class Meta:
        csrf = False

    facility_id = PickerField("Facility", picker=FACILITY_PICKER, blank="All facilities")


class VoidForm(FlaskForm):
    reason = LineField("Reason", validators=[DataRequired(), Length(max=500)])
    submit = SubmitField("Void invoice")


class DisputeForm(FlaskForm):
    reason = TextAreaField("What is disputed", validators=[DataRequired(), Length(max=1000)])
    # Filled with the invoice's lines by the view; 0 is the whole invoice.
    line_id = SelectField("Line", coerce=int, default=0, validate_choice=True)
    submit = SubmitField("Open dispute")


class ResolveDisputeForm(FlaskForm):
    outcome = SelectField("Outcome", choices=[SelectChoice("credited", "Credited"),
                                              SelectChoice("corrected", "Corrected (invoice voided)"),
                                              SelectChoice("upheld", "Upheld (the invoice stands)")])
    amount = NumberField("Credit ($, when credited)", places=2,
                         validators=[Optional(), NumberRange(min=Decimal("0.01"))])
    note = LineField("Note", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Resolve dispute")


class PromiseForm(FlaskForm):
    promised_on = DayField("Promised to pay by", validators=[DataRequired()])
    amount = NumberField("Amount ($)", places=2, validators=[DataRequired(), NumberRange(min=Decimal("0.01"))])
    promised_by = LineField("Who promised, and how", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Record promise")


class PauseForm(FlaskForm):
    """Pausing a facility's payment reminders says why (the ladder shows it); resuming needs no reason."""

    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class IssueForm(FlaskForm):
    submit = SubmitField("Issue invoice")
