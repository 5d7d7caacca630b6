"""Exclusion screening: therapists matched against the OIG LEIE and state Medicaid exclusion files."""

from collections import defaultdict

import sqlalchemy as sa

from agency.credentials.models import ExclusionHit
from agency.extensions import db


def confirmed_exclusions(therapist_ids) -> dict[int, list[ExclusionHit]]:
    """Confirmed exclusion hits of these therapists (ids or a subquery), by therapist, earliest first.

    Readiness blocks on them and timesheets hold the hours worked while one is in force
    (ExclusionHit.excludes_on).
    """
    hits: dict[int, list[ExclusionHit]] = defaultdict(list)
    for hit in db.session.scalars(sa.select(ExclusionHit).where(
            ExclusionHit.therapist_id.in_(therapist_ids), ExclusionHit.status == "confirmed")
            .order_by(ExclusionHit.excluded_on, ExclusionHit.id)):
        hits[hit.therapist_id].append(hit)
    return hits
