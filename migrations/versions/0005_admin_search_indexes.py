"""admin console: people search and audit target indexes

Revision ID: 0003_admin
Revises: 0003_mfa
Create Date: 2026-12-01 09:10:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0003_admin'
down_revision = '0003_mfa'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        # People search: LIKE 'prefix%' and ORDER BY ... USING ~<~ on PostgreSQL need the
        # pattern operator class (whatever the database collation).
        batch_op.create_index(
            'ix_users_email_prefix', ['email'], postgresql_ops={'email': 'varchar_pattern_ops'}
        )
    if op.get_bind().dialect.name == 'postgresql':
        # Names match case-insensitively; SQLite cannot reflect an expression index.
        op.create_index(
            'ix_users_name_prefix', 'users', [sa.text('lower(display_name) varchar_pattern_ops')]
        )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(
            'ix_audit_events_target_time', ['target_type', 'target_id', 'occurred_at']
        )


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_target_time')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_users_name_prefix', table_name='users')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_email_prefix')
