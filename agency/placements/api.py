"""JSON API for placements."""

from agency.core.api import api_blueprint

bp = api_blueprint("placements_api", __name__)
