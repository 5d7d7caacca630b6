"""Facility pages: facilities, their contacts and rate cards."""

from flask import Blueprint

bp = Blueprint("facilities", __name__)
