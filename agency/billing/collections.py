"""What collections holds back and who acts: the one place that says which invoices are not chased on a
day (an open dispute, a promise to pay whose day has not come), how a promise is judged, and the tasks
the ladder, broken promises and late disputes put on a person's dashboard."""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agency.auth.models import User
from agency.billing.models import COLLECTED, CollectionTask, Dispute, Invoice, Payment, PaymentPromise
from agency.core import audit
from agency.core.dates import utcnow
from agency.core.errors import Conflict, NotFound
from agency.core.money import to_cents
from agency.core.persistence import lock
from agency.extensions import db


def disputed(as_of: date | None = None):
    """SQL: the invoice has an open dispute (it is neither chased nor counted as collectible); with as_of,
    one open on that day (opened by then and not resolved by then), so a past day reads as it stood."""
    return sa.exists().where(Dispute.invoice_id == Invoice.id,
                             Dispute.status == "open" if as_of is None else dispute_open_on(as_of))


def dispute_open_on(as_of: date):
    """SQL: the dispute was open on the day: opened by then and not resolved by then."""
    return sa.and_(Dispute.opened_on <= as_of, sa.or_(Dispute.resolved_on.is_(None), Dispute.resolved_on > as_of))


def promised(as_of: date):
    """SQL: the invoice has an open promise to pay whose day is as_of or later: no reminder before it."""
    return sa.exists().where(PaymentPromise.invoice_id == Invoice.id, PaymentPromise.status == "open",
                             PaymentPromise.promised_on >= as_of)


def held_back(as_of: date):
    """SQL: the invoice is not chased on as_of: disputed, or promised for a day not yet past."""
    return sa.or_(disputed(), promised(as_of))


def paid_toward(promise: PaymentPromise) -> tuple[Decimal, Decimal]:
    """(paid and credited on the invoice, payments recorded since the promise) received by the promise's
    day: a credit settles what is owed but is no money paid, and a payment received late keeps nothing."""
    by_day = Payment.received_on <= promise.promised_on
    since = sa.and_(by_day, COLLECTED, Payment.created_at >= promise.created_at)
    settled, paid = db.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(sa.case((by_day, Payment.amount), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((since, Payment.amount), else_=0)), 0),
    ).where(Payment.invoice_id == promise.invoice_id)).one()
    # SQLite sums NUMERIC as a float: back to exact cents.
    return to_cents(Decimal(str(settled))), to_cents(Decimal(str(paid)))


def promise_kept(promise: PaymentPromise, invoice: Invoice) -> bool:
    """Kept when by its day the invoice was settled, or the payments since the promise reach its amount."""
    settled, paid = paid_toward(promise)
    return settled >= invoice.total or paid >= promise.amount


def add_task(*, key: str, kind: str, facility_id: int, owner_role: str, title: str, due_on: date,
             created_on: date, owner_id: int | None = None, invoice_id: int | None = None,
             detail: str | None = None) -> CollectionTask | None:
    """Add a task once: the same key (a job run twice, two at once) finds the first and adds nothing.
    In the caller's transaction, under a savepoint; the new task, or None when it existed."""
    task = CollectionTask(key=key, kind=kind, facility_id=facility_id, owner_role=owner_role, owner_id=owner_id,
                          invoice_id=invoice_id, title=title, detail=detail, due_on=due_on, created_on=created_on)
    try:
        with db.session.begin_nested():
            db.session.add(task)
    except IntegrityError:
        return None
    return task


def tasks_for(user):
    """SQL: the tasks a user owns: their own, and those of their role that no one active owns (a task of
    someone deactivated since falls to the team, so it is never left unseen). Leadership's are the admins'."""
    role = "leadership" if user.role == "admin" else user.role
    owner_active = sa.exists().where(User.id == CollectionTask.owner_id, User.active.is_(True))
    return sa.select(CollectionTask).where(sa.or_(
        CollectionTask.owner_id == user.id,
        sa.and_(CollectionTask.owner_role == role, sa.or_(CollectionTask.owner_id.is_(None), ~owner_active))))


def open_tasks_for(user):
    """SQL: the open tasks a user sees on the dashboard, the soonest due first."""
    return tasks_for(user).where(CollectionTask.done_at.is_(None)).order_by(CollectionTask.due_on,
                                                                            CollectionTask.id)


def complete_task(task_id: int, actor) -> CollectionTask:
    """Mark one of the actor's tasks done, once: a second click (or two at once) finds it done; another's
    task is NotFound."""
    if db.session.scalar(tasks_for(actor).with_only_columns(CollectionTask.id)
                         .where(CollectionTask.id == task_id)) is None:
        raise NotFound(f"no task with id {task_id} on your dashboard")
    task = lock(CollectionTask, task_id)
    if task.done_at is not None:
        raise Conflict("the task is done already")
    task.done_at, task.done_by_id = utcnow(), actor.id
    audit.record("update", task, f"collection task done: {task.title}", actor=actor)
    db.session.commit()
    return task
