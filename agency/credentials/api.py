"""JSON API for therapists and their credentials."""

from agency.core.api import api_blueprint

bp = api_blueprint("credentials_api", __name__)
