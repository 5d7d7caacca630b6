"""JSON API for timesheets, invoices, payments, invoice runs and receivables."""

from agency.core.api import api_blueprint

bp = api_blueprint("billing_api", __name__)
