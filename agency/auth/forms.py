from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from agency.auth.passwords import MIN_LENGTH
from agency.core.forms import LineField, WholeNumberField
from agency.core.permissions import ROLES

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
    facility_id = WholeNumberField("Facility id (facility contacts only)", validators=[Optional()])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=200)],
                             description=f"At least {MIN_LENGTH} characters, not a common password, not their "
                                         "email address; ask the user to change it.")
    submit = SubmitField("Create user")


class ActiveForm(FlaskForm):
    submit = SubmitField("Save")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)], description=POLICY)
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="Must match the new password.")])
    submit = SubmitField("Change password")


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=200)],
                                 description=f"At least {MIN_LENGTH} characters, not a common password, not their "
                                             "email address. Every session of the user ends.")
    submit = SubmitField("Set password")


class UnlockForm(FlaskForm):
    submit = SubmitField("Unlock")
