"""Therapists and their credentials: licenses, CE, payer panels, documents."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy.ext.hybrid import hybrid_method, hybrid_property
from sqlalchemy.orm import Mapped, aliased, column_property, mapped_column, relationship

from agency.core.constraints import one_of
from agency.core.dates import today, utcnow
from agency.core.sqldates import add_days, add_months, days_between
from agency.extensions import db

DISCIPLINES = ("LCSW", "LPC", "LMFT", "PSYCHOLOGIST", "PMHNP", "LMHC", "LCPC", "LPCC", "OTHER")
THERAPIST_STATUSES = ("active", "inactive", "do_not_place")
# State boards name the same counselor license differently; an LPC job fits an LMHC.
COUNSELOR = ("LPC", "LMHC", "LCPC", "LPCC")


def disciplines_for(discipline: str) -> tuple[str, ...]:
    """The discipline and the other titles of the same license."""
    return COUNSELOR if discipline in COUNSELOR else (discipline,)

AVAILABILITY = ("available", "limited", "unavailable")

# What a state board issues; counselor licenses go by LPC, LMHC, LCPC or LPCC by state.
LICENSE_TYPES = (
    "LCSW", "LMSW", "LPC", "LMHC", "LCPC", "LPCC", "LMFT", "PSYCHOLOGIST", "RN", "APRN", "OTHER",
)
LICENSE_KINDS = ("state_license", "compact_privilege", "temporary")
LICENSE_STATUSES = ("active", "expiring", "expired")


def _expiring_until(as_of: date) -> date:
    """The last day a license still counts as expiring, not active, seen from as_of."""
    return as_of + timedelta(days=current_app.config["LICENSE_EXPIRING_DAYS"])

CE_TOPICS = (
    "general", "ethics", "suicide_prevention", "implicit_bias", "human_trafficking",
    "cultural_competence", "clinical_supervision", "domestic_violence", "substance_use",
    "laws_and_rules", "pharmacology", "medical_errors", "sexual_harassment_prevention", "child_abuse",
)

PANEL_STATUSES = ("not_started", "submitted", "in_review", "approved", "denied", "terminated")

DOC_TYPES = (
    "license_copy", "ce_certificate", "malpractice_coi", "bls_card", "tb_test",
    "background_check", "exclusion_check", "drug_screen", "hipaa_training", "i9",
    "references", "orientation", "placement_agreement", "other",
)
# How people name each document type: acronyms stay capitals, which capitalising the code would lose.
DOC_TYPE_LABELS = {
    "license_copy": "License copy",
    "ce_certificate": "CE certificate",
    "malpractice_coi": "Malpractice COI",
    "bls_card": "BLS card",
    "tb_test": "TB test",
    "background_check": "Background check",
    "exclusion_check": "Exclusion check",
    "drug_screen": "Drug screen",
    "hipaa_training": "HIPAA training",
    "i9": "I-9",
    "references": "References",
    "orientation": "Orientation",
    "placement_agreement": "Placement agreement",
    "other": "Other document",
}
assert set(DOC_TYPE_LABELS) == set(DOC_TYPES)


def doc_type_label(doc_type: str | None) -> str:
    """A document type as people write it ("Malpractice COI"); an unknown code reads as itself."""
    if doc_type is None:
        return "—"
    return DOC_TYPE_LABELS.get(doc_type, doc_type)
DOC_OWNER_TYPES = ("therapist",)


class Therapist(db.Model):
    __tablename__ = "therapists"
    __table_args__ = (
        one_of("discipline", DISCIPLINES),
        one_of("status", THERAPIST_STATUSES),
        one_of("availability", AVAILABILITY),
        sa.Index("ix_therapists_name", "last_name", "first_name"),
    )
    __audit_type__ = "therapist"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(80))
    last_name: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    discipline: Mapped[str] = mapped_column(sa.String(20), index=True)
    npi: Mapped[str | None] = mapped_column(sa.String(10), unique=True)
    home_state: Mapped[str] = mapped_column(sa.String(2), index=True)
    caqh_id: Mapped[str | None] = mapped_column(sa.String(20))
    # Indexed for the worklist and the daily scan, which look for attestations falling due.
    caqh_attested_on: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="active", index=True)
    specialties: Mapped[list] = mapped_column(sa.JSON, default=list)
    availability: Mapped[str] = mapped_column(sa.String(20), default="available")
    available_from: Mapped[date | None]
    hours_per_week: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    licenses: Mapped[list["License"]] = relationship(
        back_populates="therapist", order_by="License.state", cascade="all, delete-orphan"
    )
    ce_records: Mapped[list["CERecord"]] = relationship(
        back_populates="therapist", order_by="CERecord.completed_on.desc()",
        cascade="all, delete-orphan",
    )
    panels: Mapped[list["PanelEnrollment"]] = relationship(
        back_populates="therapist", order_by="PanelEnrollment.payer", cascade="all, delete-orphan"
    )

    @hybrid_property
    def full_name(self) -> str:
        return self.first_name + " " + self.last_name

    @property
    def caqh_attestation_days(self) -> int:
        """The re-attestation interval of the CAQH rule of the therapist's home state (CAQHRule.days_for)."""
        if sa.inspect(self).persistent:
            days = self.caqh_rule_days  # loaded with the row, so a list of therapists costs no query more
        else:
            days = db.session.scalar(sa.select(CAQHRule.days_for(sa.literal(self.home_state))))
        return days if days is not None else current_app.config["CAQH_ATTESTATION_DAYS"]

    @hybrid_property
    def caqh_attestation_due_on(self) -> date | None:
        """The last attestation plus the home state's CAQH interval: it moves when the rule changes."""
        if self.caqh_attested_on is None:
            return None
        return self.caqh_attested_on + timedelta(days=self.caqh_attestation_days)

    @caqh_attestation_due_on.inplace.expression
    @classmethod
    def _caqh_attestation_due_on_expression(cls):
        days = sa.func.coalesce(cls.caqh_rule_days, current_app.config["CAQH_ATTESTATION_DAYS"])
        return add_days(cls.caqh_attested_on, sa.cast(days, sa.Integer))


class License(db.Model):
    __tablename__ = "licenses"
    __table_args__ = (
        sa.UniqueConstraint("state", "license_type", "number"),
        one_of("kind", LICENSE_KINDS),
        one_of("license_type", LICENSE_TYPES),
        sa.CheckConstraint("expires_on > issued_on", name="expires_after_issue"),
        # A compact privilege always rests on a home-state license; other kinds never do.
        sa.CheckConstraint(
            "(kind = 'compact_privilege') = (home_license_id IS NOT NULL)", name="compact_home"
        ),
        sa.Index("ix_licenses_therapist_state", "therapist_id", "state"),
    )
    __audit_type__ = "license"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(sa.String(2))
    license_type: Mapped[str] = mapped_column(sa.String(20))
    number: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(20), default="state_license")
    issued_on: Mapped[date]
    expires_on: Mapped[date] = mapped_column(index=True)
    home_license_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("licenses.id", ondelete="RESTRICT"), index=True
    )
    verified_on: Mapped[date | None]
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    verification_source: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    therapist: Mapped[Therapist] = relationship(back_populates="licenses")
    # Self-referential joined loading needs a depth, or it silently loads lazily, a query per privilege;
    # one level is all there is: a home license is a full state license, resting on nothing.
    home_license: Mapped["License | None"] = relationship(remote_side=[id], lazy="joined", join_depth=1)
    verified_by = relationship("User")

    # A license's status, in Python and in SQL side by side: the lists filter on the same rule the badges show.
    @hybrid_property
    def effective_expires_on(self) -> date:
        """A compact privilege can never outlive the home-state license it rests on."""
        if self.home_license is not None:
            return min(self.expires_on, self.home_license.effective_expires_on)
        return self.expires_on

    @effective_expires_on.inplace.expression
    @classmethod
    def _effective_expires_on_expression(cls):
        # One level is all there is: a home license is a full state license, resting on nothing.
        home = aliased(License)
        earlier = sa.case((home.expires_on < cls.expires_on, home.expires_on), else_=cls.expires_on)
        of_home = sa.select(earlier).where(home.id == cls.home_license_id).scalar_subquery()
        # Only a privilege looks its home license up (CASE stops there); the foreign key keeps that home in place.
        return sa.case((cls.home_license_id.is_(None), cls.expires_on), else_=of_home)

    @hybrid_method
    def status_on(self, as_of: date) -> str:
        """Expired, expiring (within LICENSE_EXPIRING_DAYS) or active on that day, by the effective expiry."""
        expires, soon = self.effective_expires_on, _expiring_until(as_of)
        if expires < as_of:
            return "expired"
        if expires <= soon:
            return "expiring"
        return "active"

    @status_on.inplace.expression
    @classmethod
    def _status_on_expression(cls, as_of: date):
        expires, soon = cls.effective_expires_on, _expiring_until(as_of)
        return sa.case((expires < as_of, "expired"), (expires <= soon, "expiring"), else_="active")

    @property
    def status(self) -> str:
        return self.status_on(today())

    def covers(self, on: date) -> bool:
        """In force on that day: issued and not yet lapsed."""
        return self.issued_on <= on <= self.effective_expires_on


class CERule(db.Model):
    """A state board's CE requirement for one license type (editable reference data)."""

    __tablename__ = "ce_rules"
    __table_args__ = (
        sa.UniqueConstraint("state", "license_type"),
        one_of("license_type", LICENSE_TYPES),
        sa.CheckConstraint("hours_required > 0", name="hours_positive"),
        sa.CheckConstraint("cycle_months BETWEEN 1 AND 60", name="cycle_months"),
    )
    __audit_type__ = "ce_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(2))
    license_type: Mapped[str] = mapped_column(sa.String(20))
    hours_required: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))
    cycle_months: Mapped[int] = mapped_column(default=24)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # Where the rule comes from and when someone last checked it there; none on rules kept from before.
    source: Mapped[str | None] = mapped_column(sa.String(255))
    checked_on: Mapped[date | None]

    topics: Mapped[list["CETopicRequirement"]] = relationship(
        back_populates="rule", cascade="all, delete-orphan", order_by="CETopicRequirement.topic",
        lazy="selectin",
    )


class CETopicRequirement(db.Model):
    __tablename__ = "ce_topic_requirements"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "topic"),
        one_of("topic", CE_TOPICS),
        sa.CheckConstraint("hours > 0", name="hours_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("ce_rules.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(sa.String(40))
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))

    rule: Mapped[CERule] = relationship(back_populates="topics")


class CERecord(db.Model):
    __tablename__ = "ce_records"
    __table_args__ = (
        one_of("topic", CE_TOPICS),
        sa.CheckConstraint("hours > 0", name="hours_positive"),
        sa.Index("ix_ce_records_therapist_completed", "therapist_id", "completed_on"),
    )
    __audit_type__ = "ce_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(200))
    provider: Mapped[str] = mapped_column(sa.String(200))
    hours: Mapped[Decimal] = mapped_column(sa.Numeric(6, 2))
    topic: Mapped[str] = mapped_column(sa.String(40), default="general")
    completed_on: Mapped[date]
    certificate_document_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("documents.id", ondelete="SET NULL")
    )

    therapist: Mapped[Therapist] = relationship(back_populates="ce_records")
    certificate = relationship("Document")


class PanelEnrollment(db.Model):
    __tablename__ = "panel_enrollments"
    __table_args__ = (
        sa.UniqueConstraint("therapist_id", "payer"),
        one_of("status", PANEL_STATUSES),
        sa.CheckConstraint(
            "effective_on IS NULL OR submitted_on IS NULL OR effective_on >= submitted_on",
            name="effective_after_submitted",
        ),
        sa.Index("ix_panel_enrollments_follow_up", "next_follow_up_on"),
    )
    __audit_type__ = "panel"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"))
    payer: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(20), default="not_started")
    submitted_on: Mapped[date | None]
    effective_on: Mapped[date | None]
    # A date the payer gave, entered by staff: it wins over the payer's rule (recredential_due_on).
    recredential_due_override: Mapped[date | None]
    next_follow_up_on: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    therapist: Mapped[Therapist] = relationship(back_populates="panels")

    @property
    def recredential_months(self) -> int:
        """The re-credentialing interval of the payer's rule (PayerRule.months_for)."""
        if sa.inspect(self).persistent:
            months = self.payer_rule_months  # loaded with the row
        else:
            months = db.session.scalar(sa.select(PayerRule.months_for(sa.literal(self.payer))))
        return months if months is not None else current_app.config["RECREDENTIAL_MONTHS"]

    @hybrid_property
    def recredential_due_on(self) -> date | None:
        """The payer's date when staff entered one; otherwise, once approved, the effective date plus the
        payer's re-credentialing months (36 by default, the NCQA standard). It moves when the rule changes."""
        if self.recredential_due_override is not None:
            return self.recredential_due_override
        if self.status != "approved" or self.effective_on is None:
            return None
        return self.effective_on + relativedelta(months=self.recredential_months)

    @recredential_due_on.inplace.expression
    @classmethod
    def _recredential_due_on_expression(cls):
        months = sa.func.coalesce(cls.payer_rule_months, current_app.config["RECREDENTIAL_MONTHS"])
        by_rule = sa.case((sa.and_(cls.status == "approved", cls.effective_on.is_not(None)),
                           add_months(cls.effective_on, sa.cast(months, sa.Integer))))
        return sa.func.coalesce(cls.recredential_due_override, by_rule)

    @hybrid_method
    def in_effect_on(self, day: date) -> bool:
        """Approved, effective by the day (claims for sessions before the effective date are denied) and not
        past its re-credentialing due date (a payer drops a provider who misses it: NCQA re-credentialing)."""
        return (self.status == "approved" and (self.effective_on is None or self.effective_on <= day)
                and (self.recredential_due_on is None or day <= self.recredential_due_on))

    @in_effect_on.inplace.expression
    @classmethod
    def _in_effect_on_expression(cls, day):
        return cls.in_effect_where(cls.status, cls.effective_on, cls.recredential_due_on, day)

    @staticmethod
    def in_effect_where(status, effective_on, recredential_due_on, day):
        """in_effect_on over columns of any select: a query that reads the due dates once, in a CTE, keeps
        SQLite's parser within its depth (the derived date is a deep expression)."""
        return sa.and_(status == "approved", sa.or_(effective_on.is_(None), effective_on <= day),
                       sa.or_(recredential_due_on.is_(None), day <= recredential_due_on))

    @hybrid_property
    def cycle_days(self) -> int | None:
        """Days from submission to the effective date of an approved enrollment: the payer's cycle time."""
        if self.status != "approved" or self.submitted_on is None or self.effective_on is None:
            return None
        return (self.effective_on - self.submitted_on).days

    @cycle_days.inplace.expression
    @classmethod
    def _cycle_days_expression(cls):
        approved = sa.and_(cls.status == "approved", cls.submitted_on.is_not(None), cls.effective_on.is_not(None))
        return sa.case((approved, days_between(cls.submitted_on, cls.effective_on)))


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (
        one_of("doc_type", DOC_TYPES),
        one_of("owner_type", DOC_OWNER_TYPES),
        sa.CheckConstraint(
            "expires_on IS NULL OR issued_on IS NULL OR expires_on > issued_on",
            name="expires_after_issue",
        ),
        sa.CheckConstraint("size > 0", name="size_positive"),
        sa.Index("ix_documents_owner", "owner_type", "owner_id"),
    )
    __audit_type__ = "document"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(sa.String(20), default="therapist")
    owner_id: Mapped[int]
    doc_type: Mapped[str] = mapped_column(sa.String(30))
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(50))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    storage_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    issued_on: Mapped[date | None]
    expires_on: Mapped[date | None] = mapped_column(index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    uploaded_by = relationship("User")

    def is_current_on(self, on: date) -> bool:
        """In force on the day: already issued and not yet expired."""
        return (self.issued_on is None or self.issued_on <= on) and (self.expires_on is None or self.expires_on >= on)


class CredentialReminder(db.Model):
    """One reminder sent for one item, expiry and threshold: the guard against sending twice."""

    __tablename__ = "credential_reminders"
    __table_args__ = (sa.UniqueConstraint("item_kind", "item_id", "due_on", "threshold"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_kind: Mapped[str] = mapped_column(sa.String(30))
    item_id: Mapped[int]
    # The scan reads the keys of reminders for deadlines still ahead, once per run.
    due_on: Mapped[date] = mapped_column(index=True)
    threshold: Mapped[int]
    sent_on: Mapped[date]
    therapist_id: Mapped[int] = mapped_column(
        sa.ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )


SCREENING_SOURCES = ("oig_leie", "state_medicaid")
HIT_MATCHES = ("npi", "name")
# An NPI match is a hit outright; a name match waits for a person to confirm or dismiss it (the files carry no SSN).
HIT_STATUSES = ("confirmed", "pending", "dismissed")


class ExclusionScreening(db.Model):
    """One run of every therapist against one exclusion file: the dated evidence facilities ask for."""

    __tablename__ = "exclusion_screenings"
    __table_args__ = (
        one_of("source", SCREENING_SOURCES),
        sa.CheckConstraint("rows >= 0 AND therapists_screened >= 0", name="counts"),
    )
    __audit_type__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20))
    # The state whose Medicaid list this is; none for the federal OIG file.
    list_state: Mapped[str | None] = mapped_column(sa.String(2))
    filename: Mapped[str] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    rows: Mapped[int]
    therapists_screened: Mapped[int]
    screened_on: Mapped[date] = mapped_column(index=True)
    screened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    screened_by = relationship("User")
    hits: Mapped[list["ExclusionHit"]] = relationship(
        back_populates="screening", cascade="all, delete-orphan", order_by="ExclusionHit.id"
    )


class ExclusionHit(db.Model):
    """A therapist found on an exclusion file, by NPI (confirmed) or by name and state (pending a person)."""

    __tablename__ = "exclusion_hits"
    __table_args__ = (
        sa.UniqueConstraint("screening_id", "therapist_id"),
        one_of("match", HIT_MATCHES),
        one_of("status", HIT_STATUSES),
        sa.CheckConstraint("reinstated_on IS NULL OR reinstated_on > excluded_on", name="reinstated_after"),
        sa.Index("ix_exclusion_hits_therapist_status", "therapist_id", "status"),
    )
    __audit_type__ = "exclusion_hit"

    id: Mapped[int] = mapped_column(primary_key=True)
    screening_id: Mapped[int] = mapped_column(sa.ForeignKey("exclusion_screenings.id", ondelete="CASCADE"))
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"))
    match: Mapped[str] = mapped_column(sa.String(10))
    status: Mapped[str] = mapped_column(sa.String(20))
    # EXCLDATE: hours worked from this day on are not billable to federal health care programs.
    excluded_on: Mapped[date]
    reinstated_on: Mapped[date | None]
    exclusion_type: Mapped[str | None] = mapped_column(sa.String(20))
    # The file's row as it was read, the evidence of what was matched.
    record: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(sa.String(500))

    screening: Mapped[ExclusionScreening] = relationship(back_populates="hits")
    therapist: Mapped[Therapist] = relationship()
    decided_by = relationship("User")

    def excludes_on(self, day: date) -> bool:
        """A confirmed exclusion in force that day: from the exclusion date until any reinstatement."""
        return (self.status == "confirmed" and self.excluded_on <= day
                and (self.reinstated_on is None or day < self.reinstated_on))


# ----------------------------------------------------------------------------- rules as data


class CAQHRule(db.Model):
    """How often CAQH ProView wants a re-attestation in a state, and the reminders before the date.

    A therapist follows the rule of their home state, where CAQH knows them as practising;
    the row without a state is the default for every state without a rule of its own.
    """

    __tablename__ = "caqh_rules"
    __table_args__ = (
        sa.UniqueConstraint("state"),
        sa.CheckConstraint("interval_days BETWEEN 1 AND 3650", name="interval_days"),
    )
    __audit_type__ = "caqh_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str | None] = mapped_column(sa.String(2))
    interval_days: Mapped[int]
    # Days before the due date a reminder goes out, largest first (CAQH's own: 15, 10 and 5).
    reminder_days: Mapped[list] = mapped_column(sa.JSON, default=list)
    source: Mapped[str] = mapped_column(sa.String(255))
    checked_on: Mapped[date]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    @classmethod
    def days_for(cls, state):
        """The interval in force for a state (a column or value) in SQL: its own rule, else the default;
        NULL when neither is stored (then CAQH_ATTESTATION_DAYS applies)."""
        own = sa.select(cls.interval_days).where(cls.state == state).scalar_subquery()
        default = sa.select(cls.interval_days).where(cls.state.is_(None)).scalar_subquery()
        return sa.func.coalesce(own, default)


class PayerRule(db.Model):
    """How many months after approval a payer re-credentials; the row without a payer is the default."""

    __tablename__ = "payer_rules"
    __table_args__ = (
        sa.UniqueConstraint("payer"),
        sa.CheckConstraint("months BETWEEN 1 AND 120", name="months"),
    )
    __audit_type__ = "payer_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Matched to an enrollment's payer whatever the letter case.
    payer: Mapped[str | None] = mapped_column(sa.String(120))
    months: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(255))
    checked_on: Mapped[date]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    @classmethod
    def months_for(cls, payer):
        """The months in force for a payer (a column or value) in SQL: its own rule, else the default."""
        own = sa.select(cls.months).where(sa.func.lower(cls.payer) == sa.func.lower(payer)).scalar_subquery()
        default = sa.select(cls.months).where(cls.payer.is_(None)).scalar_subquery()
        return sa.func.coalesce(own, default)


# Read with every therapist and enrollment row, so every date derived from a rule is computed from the rule
# in force, in Python and in SQL alike, never copied at write time.
Therapist.caqh_rule_days = column_property(CAQHRule.days_for(Therapist.home_state))
PanelEnrollment.payer_rule_months = column_property(PayerRule.months_for(PanelEnrollment.payer))


# A request's link is live while open and unexpired; submitted, the uploads wait for review; reviewed, each
# upload was accepted or rejected (a rejection sends a fresh request of its own).
REQUEST_STATUSES = ("open", "submitted", "reviewed")
# Where a request came from: a person (from the therapist, the worklist or a placement), the daily scan,
# or a reviewer's rejection of an earlier upload.
REQUEST_SOURCES = ("staff", "worklist", "placement", "scan", "rejection")
# One document asked for: requested (no upload yet), uploaded (in the review queue), accepted (now a Document),
# rejected (asked again by a fresh request), expired (the link lapsed unanswered).
REQUEST_ITEM_STATUSES = ("requested", "uploaded", "accepted", "rejected", "expired")
# The items still in play: never two of them for one therapist and document type (a partial unique index).
OPEN_ITEM_STATUSES = ("requested", "uploaded")


class DocumentRequest(db.Model):
    """A private, expiring, single-use upload link sent to a therapist for the documents asked for."""

    __tablename__ = "document_requests"
    __table_args__ = (
        one_of("status", REQUEST_STATUSES),
        one_of("source", REQUEST_SOURCES),
        sa.CheckConstraint("expires_on >= sent_on", name="expires_after_sent"),
        sa.Index("ix_document_requests_therapist", "therapist_id", "id"),
        sa.Index("ix_document_requests_status_expires", "status", "expires_on"),
    )
    __audit_type__ = "document_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"))
    # SHA-256 of the link's token: the token itself is only ever in the therapist's email.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    source: Mapped[str] = mapped_column(sa.String(20), default="staff")
    sent_on: Mapped[date]
    # The link works through this day (DOCUMENT_REQUEST_DAYS after sending).
    expires_on: Mapped[date]
    # What staff wrote to the therapist; for a rejection's fresh request, the reviewer's reason.
    message: Mapped[str | None] = mapped_column(sa.String(1000))
    previous_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document_requests.id", ondelete="SET NULL"))
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    therapist: Mapped[Therapist] = relationship()
    requested_by = relationship("User")
    items: Mapped[list["DocumentRequestItem"]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="DocumentRequestItem.id",
        lazy="selectin",
    )

    @property
    def doc_types(self) -> list[str]:
        return [item.doc_type for item in self.items]

    def link_works_on(self, day: date) -> bool:
        return self.status == "open" and day <= self.expires_on

    def state_on(self, day: date) -> str:
        """open, expired, answered (uploads in review), accepted or rejected, as the therapist page shows it."""
        if self.status == "open":
            return "open" if day <= self.expires_on else "expired"
        statuses = {item.status for item in self.items}
        if "uploaded" in statuses:
            return "answered"
        return "rejected" if "rejected" in statuses else "accepted"


class DocumentRequestItem(db.Model):
    """One document type asked for by a request, and the therapist's upload of it once submitted."""

    __tablename__ = "document_request_items"
    __table_args__ = (
        sa.UniqueConstraint("request_id", "doc_type"),
        one_of("doc_type", DOC_TYPES),
        one_of("status", REQUEST_ITEM_STATUSES),
        # Never two requests in play for one therapist and document type, whoever sends them at once.
        sa.Index("uq_document_request_items_open", "therapist_id", "doc_type", unique=True,
                 postgresql_where=sa.text("status IN ('requested', 'uploaded')"),
                 sqlite_where=sa.text("status IN ('requested', 'uploaded')")),
        sa.Index("ix_document_request_items_status", "status", "id"),
        sa.CheckConstraint(
            "upload_expires_on IS NULL OR upload_issued_on IS NULL OR upload_expires_on > upload_issued_on",
            name="upload_expires_after_issue",
        ),
    )
    __audit_type__ = "document_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("document_requests.id", ondelete="CASCADE"))
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id", ondelete="CASCADE"))
    doc_type: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(20), default="requested")
    # The upload, checked as staff uploads are, stored privately until a reviewer decides.
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    content_type: Mapped[str | None] = mapped_column(sa.String(50))
    size: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    storage_name: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    upload_issued_on: Mapped[date | None]
    upload_expires_on: Mapped[date | None]
    uploaded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(sa.String(1000))
    # The therapist's document an accepted upload became.
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("documents.id", ondelete="SET NULL"))

    request: Mapped[DocumentRequest] = relationship(back_populates="items")
    therapist: Mapped[Therapist] = relationship()
    reviewed_by = relationship("User")
