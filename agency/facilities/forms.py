"""Forms for facilities, their contacts and rate cards."""

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from agency.core.forms import DayField, EmailAddressField, LineField, ListTextArea, NumberField, WholeNumberField
from agency.credentials.forms import STATE_SELECT, _choices, choices
from agency.credentials.models import DISCIPLINES, DOC_TYPE_LABELS
from agency.facilities.models import (
    CONTACT_ROLES,
    FACILITY_TYPE_LABELS,
    FUNDING,
    INVOICE_SCHEDULES,
    INVOICING_MODES,
    OVERTIME_RULE_LABELS,
    RATE_ITEMS,
    STATEMENT_SCHEDULES,
)

APPROVER_CHOICES = choices((("primary", "Primary approver"), ("alternate", "Alternate approver")), blank="No")


class FacilityForm(FlaskForm):
    name = LineField("Name", validators=[DataRequired(), Length(max=200)])
    facility_type = SelectField("Type", choices=choices(FACILITY_TYPE_LABELS.items()))
    address_line1 = LineField("Address", validators=[Optional(), Length(max=200)])
    address_line2 = LineField("Address line 2", validators=[Optional(), Length(max=200)])
    city = LineField("City", validators=[Optional(), Length(max=100)])
    state = SelectField("State", choices=STATE_SELECT, validators=[DataRequired()])
    postal_code = LineField("ZIP code", validators=[Optional(), Length(max=10)])
    funding = SelectField("Funding", choices=_choices(FUNDING))
    payment_terms_days = WholeNumberField("Payment terms (days)", default=30,
                                      validators=[DataRequired(), NumberRange(0, 365)])
    invoice_schedule = SelectField("Invoice schedule", choices=_choices(INVOICE_SCHEDULES))
    approval_window_days = WholeNumberField(
        "Approval window (business days)", default=3, validators=[DataRequired(), NumberRange(1, 30)],
        description="Submitted hours not approved within this many business days remind the approver")
    statement_schedule = SelectField("Statement schedule", choices=_choices(STATEMENT_SCHEDULES))
    billing_email = EmailAddressField("Billing email", validators=[Optional(), Length(max=255)])
    invoicing = SelectField("Invoicing", choices=_choices(INVOICING_MODES), default="automatic",
                            description="Automatic issues invoices; review makes drafts to issue; off bills nothing")
    safety_factor = NumberField("Safety stop factor", places=2,
                                validators=[Optional(), NumberRange(min=Decimal("1.01"), max=Decimal("100"))],
                                description="Park an invoice above this many times, or below this fraction of, "
                                            "the recent average; blank for the agency's default")
    bills_insurance = BooleanField("Bills insurance for our therapists' services")
    payers = ListTextArea("Payers", validators=[Optional(), Length(max=2000)], render="\n".join,
                          description="One payer per line, e.g. Aetna")
    required_documents = SelectMultipleField("Required credential documents", choices=choices(DOC_TYPE_LABELS.items()))
    orientation_requirements = TextAreaField("Orientation requirements",
                                             validators=[Optional(), Length(max=5000)])
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save facility")

    FIELDS = ("name", "facility_type", "address_line1", "address_line2", "city", "state",
              "postal_code", "funding", "payment_terms_days", "invoice_schedule", "statement_schedule",
              "approval_window_days", "billing_email", "invoicing", "safety_factor", "bills_insurance",
              "required_documents", "orientation_requirements", "active")

    def payer_list(self) -> list[str]:
        return [line.strip() for line in (self.payers.data or "").splitlines() if line.strip()]


class ContactForm(FlaskForm):
    role = SelectField("Role", choices=_choices(CONTACT_ROLES))
    name = LineField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailAddressField("Email", validators=[DataRequired(), Length(max=255)])
    phone = LineField("Phone", validators=[Optional(), Length(max=30)])
    approver = SelectField("Approves hours", choices=APPROVER_CHOICES, default="")
    submit = SubmitField("Add contact")

    FIELDS = ("role", "name", "email", "phone", "approver")


class ApproverForm(FlaskForm):
    approver = SelectField("Approves hours", choices=APPROVER_CHOICES, default="")
    submit = SubmitField("Save")


class RateRowForm(Form):
    # Unused rows come back blank or absent; the service checks the values of the filled ones.
    item = SelectField("Item", choices=choices(((i, i.replace("_", " ")) for i in RATE_ITEMS), blank=""),
                       validate_choice=False)
    discipline = SelectField("Discipline", choices=choices(((d, d) for d in DISCIPLINES), blank=""),
                             validate_choice=False)
    amount = NumberField("Amount ($)", places=2, validators=[Optional(), NumberRange(min=0)])


RATE_ROWS = 14


class IncompleteRow(ValueError):
    """A rate row with some but not all of item, discipline and amount."""


class RateCardForm(FlaskForm):
    effective_from = DayField("Effective from", validators=[DataRequired()])
    effective_to = DayField("Effective to", validators=[Optional()],
                            description="Leave empty for an open-ended contract")
    overtime_threshold_hours = NumberField("Weekly overtime after (hours)", places=2,
                                           validators=[Optional(), NumberRange(min=1, max=168)])
    overtime_rule = SelectField("Overtime rule", choices=list(OVERTIME_RULE_LABELS.items()), default="weekly")
    daily_threshold_hours = NumberField("Daily overtime after (hours)", places=2,
                                        validators=[Optional(), NumberRange(min=Decimal("0.01"), max=Decimal("24"))],
                                        description="Daily rule only")
    period_anchor = DayField("8-and-80 period starts", validators=[Optional()],
                             description="8-and-80 only: the first day of a 14-day period; effective from when "
                                         "empty")
    overtime_multiplier = NumberField("Overtime multiplier", places=2, default=1.5,
                                      validators=[DataRequired(), NumberRange(min=1, max=5)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])
    rates = FieldList(FormField(RateRowForm), min_entries=RATE_ROWS)
    submit = SubmitField("Save rate card")

    FIELDS = ("effective_from", "effective_to", "overtime_rule", "overtime_threshold_hours", "daily_threshold_hours",
              "period_anchor", "overtime_multiplier", "notes")

    def rate_rows(self) -> list[dict]:
        """Filled rows as rates; a half-filled row is an error beside it."""
        rows = []
        for row in self.rates:
            item, discipline, amount = row.item.data, row.discipline.data, row.amount.data
            if not item and not discipline and amount is None:
                continue
            if not (item and discipline and amount is not None):
                row.amount.errors = list(row.amount.errors) + ["fill in item, discipline and amount"]
                raise IncompleteRow(row.name)
            rows.append({"item": item, "discipline": discipline, "amount": amount})
        return rows

