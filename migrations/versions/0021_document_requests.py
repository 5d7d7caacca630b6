"""document requests: private upload links sent to therapists, and the uploads waiting for review

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 16:53:54.631496

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=True),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('staff', 'worklist', 'placement', 'scan', 'rejection')", name=op.f('ck_document_requests_source')),
    sa.CheckConstraint("status IN ('open', 'submitted', 'reviewed')", name=op.f('ck_document_requests_status')),
    sa.CheckConstraint('expires_on >= sent_on', name=op.f('ck_document_requests_expires_after_sent')),
    sa.ForeignKeyConstraint(['previous_id'], ['document_requests.id'], name=op.f('fk_document_requests_previous_id_document_requests'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_document_requests_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_document_requests_therapist_id_therapists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_requests')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_document_requests_token_hash'))
    )
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.create_index('ix_document_requests_status_expires', ['status', 'expires_on'], unique=False)
        batch_op.create_index('ix_document_requests_therapist', ['therapist_id', 'id'], unique=False)

    op.create_table('document_request_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('therapist_id', sa.Integer(), nullable=False),
    sa.Column('doc_type', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('content_type', sa.String(length=50), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('storage_name', sa.String(length=64), nullable=True),
    sa.Column('upload_issued_on', sa.Date(), nullable=True),
    sa.Column('upload_expires_on', sa.Date(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.String(length=1000), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("doc_type IN ('license_copy', 'ce_certificate', 'malpractice_coi', 'bls_card', 'tb_test', 'background_check', 'exclusion_check', 'drug_screen', 'hipaa_training', 'i9', 'references', 'orientation', 'placement_agreement', 'other')", name=op.f('ck_document_request_items_doc_type')),
    sa.CheckConstraint("status IN ('requested', 'uploaded', 'accepted', 'rejected', 'expired')", name=op.f('ck_document_request_items_status')),
    sa.CheckConstraint('upload_expires_on IS NULL OR upload_issued_on IS NULL OR upload_expires_on > upload_issued_on', name=op.f('ck_document_request_items_upload_expires_after_issue')),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_request_items_document_id_documents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['document_requests.id'], name=op.f('fk_document_request_items_request_id_document_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_document_request_items_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'], name=op.f('fk_document_request_items_therapist_id_therapists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_request_items')),
    sa.UniqueConstraint('request_id', 'doc_type', name=op.f('uq_document_request_items_request_id_doc_type')),
    sa.UniqueConstraint('storage_name', name=op.f('uq_document_request_items_storage_name'))
    )
    with op.batch_alter_table('document_request_items', schema=None) as batch_op:
        batch_op.create_index('ix_document_request_items_status', ['status', 'id'], unique=False)
        batch_op.create_index('uq_document_request_items_open', ['therapist_id', 'doc_type'], unique=True, postgresql_where=sa.text("status IN ('requested', 'uploaded')"), sqlite_where=sa.text("status IN ('requested', 'uploaded')"))



def downgrade():
    with op.batch_alter_table('document_request_items', schema=None) as batch_op:
        batch_op.drop_index('uq_document_request_items_open', postgresql_where=sa.text("status IN ('requested', 'uploaded')"), sqlite_where=sa.text("status IN ('requested', 'uploaded')"))
        batch_op.drop_index('ix_document_request_items_status')

    op.drop_table('document_request_items')
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_document_requests_therapist')
        batch_op.drop_index('ix_document_requests_status_expires')

    op.drop_table('document_requests')
