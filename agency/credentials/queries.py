"""The filtered lists that both the pages and the API show: one query builder per list."""


import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from agency.core.dates import today
from agency.core.listing import contains_text
from agency.credentials.models import Document, License, PanelEnrollment, Therapist
from agency.extensions import db


def therapists_query(*, q: str | None = None, discipline: str | None = None,
                     state: str | None = None, status: str | None = None):
    """Therapists matching a name/email/NPI search, discipline, licensed state and status."""
    query = sa.select(Therapist)
    if q:
        query = query.where(contains_text(q, Therapist.full_name, Therapist.email, Therapist.npi))
    if discipline:
        query = query.where(Therapist.discipline == discipline)
    if status:
        query = query.where(Therapist.status == status)
    if state:
        licensed = sa.select(License.id).where(
            License.therapist_id == Therapist.id, License.state == state
        ).exists()
        query = query.where(sa.or_(Therapist.home_state == state, licensed))
    return query


def licenses_query(*, therapist_id: int | None = None, state: str | None = None,
                   kind: str | None = None, status: str | None = None, q: str | None = None):
    """Licenses with their therapist; status filters as License.status_on reads it today."""
    query = sa.select(License).options(joinedload(License.therapist))
    if q:
        query = query.join(License.therapist).where(contains_text(q, Therapist.full_name, License.number))
    if therapist_id:
        query = query.where(License.therapist_id == therapist_id)
    if state:
        query = query.where(License.state == state)
    if kind:
        query = query.where(License.kind == kind)
    if status:
        query = query.where(License.status_on(today()) == status)
    return query


def therapist_profile(therapist_id: int) -> Therapist | None:
    """A therapist with licenses, CE records and panels loaded in a fixed number of queries."""
    return db.session.scalar(
        sa.select(Therapist)
        .where(Therapist.id == therapist_id)
        .options(
            selectinload(Therapist.licenses).joinedload(License.verified_by),
            selectinload(Therapist.ce_records),
            selectinload(Therapist.panels),
        )
    )


def panels_query(*, therapist_id: int | None = None, status: str | None = None,
                 payer: str | None = None):
    query = sa.select(PanelEnrollment).options(joinedload(PanelEnrollment.therapist))
    if therapist_id:
        query = query.where(PanelEnrollment.therapist_id == therapist_id)
    if status:
        query = query.where(PanelEnrollment.status == status)
    if payer:
        query = query.where(PanelEnrollment.payer == payer)
    return query


def documents_query(*, therapist_id: int | None = None, doc_type: str | None = None):
    query = sa.select(Document).where(Document.owner_type == "therapist")
    if therapist_id:
        query = query.where(Document.owner_id == therapist_id)
    if doc_type:
        query = query.where(Document.doc_type == doc_type)
    return query
