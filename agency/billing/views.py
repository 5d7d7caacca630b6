"""Billing pages: timesheets, invoices, payments, receivables, and the facility portal."""

from flask import Blueprint

bp = Blueprint("billing", __name__)
