from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from agency.core.forms import LineField, WholeNumberField
from agency.core.permissions import ROLES


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
                             description="At least 10 characters; ask the user to change it.")
    submit = SubmitField("Create user")


class ActiveForm(FlaskForm):
    submit = SubmitField("Save")
