from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from agency.auth.passwords import MIN_LENGTH
from agency.core.audit import ACTIONS
from agency.core.forms import DayField, LineField, WholeNumberField
from agency.core.permissions import ROLES
from agency.core.pickers import PickerField
from agency.facilities.queries import FACILITY_PICKER

# The policy in words where an admin sets someone else's password; POLICY speaks to a user setting their own.
THEIR_POLICY = f"At least {MIN_LENGTH} characters, not a common password, not their email address"
POLICY = (f"At least {MIN_LENGTH} characters, not a common password, not your email address: "
          "a few words you will remember make a good one.")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Sign in")


class NewTokenForm(FlaskForm):
    submit = SubmitField("Create API token")


class RevokeTokenForm(FlaskForm):
    submit = SubmitField("Revoke")


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    name = LineField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=[SelectChoice(r, r.capitalize()) for r in ROLES])
    facility_id = PickerField("Facility (facility contacts only)", picker=FACILITY_PICKER,
                              blank="None: staff, not a facility contact")
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=200)],
                             description=THEIR_POLICY + "; ask the user to change it.")
    submit = SubmitField("Create user")


class ActiveForm(FlaskForm):
    submit = SubmitField("Save")


class AuditFilterForm(FlaskForm):
    """The audit log's filters: a GET form, so no CSRF token in the address."""

    class Meta:
        csrf = False

    action = SelectField("Action", choices=[SelectChoice("", "Any action")]
                         + [SelectChoice(a, a.replace("_", " ").capitalize()) for a in ACTIONS],
                         validate_choice=False)  # validate_action says what is wrong in plainer words
    user = LineField("User", validators=[Optional(), Length(max=255)], description="An email or a user id")
    object_type = LineField("Object type", validators=[Optional(), Length(max=40)])
    object_id = WholeNumberField("Object id", validators=[Optional()])
    date_from = DayField("From", validators=[Optional()])
    date_to = DayField("To", validators=[Optional()])
    q = LineField("Summary contains", validators=[Optional(), Length(max=100)])

    def validate_action(self, field):
        if field.data and field.data not in ACTIONS:
            raise ValidationError("Not a kind of event the log records; choose one from the list.")

    def validate_object_id(self, field):
        # Here rather than NumberRange, which would add its own complaint to "not a valid integer".
        if field.data is not None and field.data < 1:
            raise ValidationError("Record ids start at 1.")

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("Must not be before the From day.")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)], description=POLICY)
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="Must match the new password.")])
    submit = SubmitField("Change password")


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)],
                                 description=THEIR_POLICY + ". Every session of the user ends.")
    submit = SubmitField("Set password")


class UnlockForm(FlaskForm):
    submit = SubmitField("Unlock")
