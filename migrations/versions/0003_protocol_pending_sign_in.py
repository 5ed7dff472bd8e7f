"""pending authorizations remember the session signed in for them

Revision ID: 0003_protocol
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0003_protocol'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pending_authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_in_session_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pending_authorizations', schema=None) as batch_op:
        batch_op.drop_column('signed_in_session_id')
