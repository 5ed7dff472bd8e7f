"""DPoP (client setting, family key binding, proofs seen) and back-channel logout settings

Revision ID: 0004_dpop_bcl
Revises: 0003_mail
Create Date: 2026-12-01 10:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0004_dpop_bcl'
down_revision = '0003_mail'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_bound_access_tokens', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_session_required', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('grant_families', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dpop_jkt', sa.String(length=43), nullable=True))
    op.create_table('dpop_proof_uses',
    sa.Column('proof_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('proof_hash', name=op.f('pk_dpop_proof_uses'))
    )
    with op.batch_alter_table('dpop_proof_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dpop_proof_uses_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dpop_proof_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dpop_proof_uses_expires_at'))
    op.drop_table('dpop_proof_uses')
    with op.batch_alter_table('grant_families', schema=None) as batch_op:
        batch_op.drop_column('dpop_jkt')
    with op.batch_alter_table('oauth_clients', schema=None) as batch_op:
        batch_op.drop_column('backchannel_logout_session_required')
        batch_op.drop_column('backchannel_logout_uri')
        batch_op.drop_column('dpop_bound_access_tokens')
