"""JSON API for facilities."""

from agency.core.api import api_blueprint

bp = api_blueprint("facilities_api", __name__)
