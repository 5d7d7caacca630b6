from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Sign in")


class NewTokenForm(FlaskForm):
    submit = SubmitField("Create API token")


class RevokeTokenForm(FlaskForm):
    submit = SubmitField("Revoke")
