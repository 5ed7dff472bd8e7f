"""client page URIs (RFC 7591 logo_uri, client_uri, policy_uri, tos_uri)

Revision ID: 0007_pages_client_uris
Revises: 0008_teams_keys_api_keys
"""

from alembic import op
import sqlalchemy as sa

revision = "0007_pages_client_uris"
down_revision = "0008_teams_keys_api_keys"
branch_labels = None
depends_on = None

COLUMNS = ("logo_uri", "client_uri", "policy_uri", "tos_uri")


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
