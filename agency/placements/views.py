"""Placement pages: open assignments, matching, placements, checklists and check-ins."""

from flask import Blueprint

bp = Blueprint("placements", __name__)
