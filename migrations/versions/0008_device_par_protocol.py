"""device authorization grant, pushed authorization requests, private_key_jwt clients

Revision ID: 0004_device_par
Revises: 0004_dpop_bcl
Create Date: 2026-12-01 10:00:00
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004_device_par"
down_revision = "0004_dpop_bcl"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)
OLD_METHODS = "token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')"
OLD_SECRET = "(token_endpoint_auth_method = 'none') = (client_secret_hash IS NULL)"
NEW_METHODS = (
    "token_endpoint_auth_method IN "
    "('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')"
)
NEW_SECRET = (
    "(token_endpoint_auth_method IN ('none', 'private_key_jwt')) = (client_secret_hash IS NULL)"
)


def _client_constraints(methods: str, secret: str) -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_oauth_clients_auth_method_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_oauth_clients_secret_matches_auth_method"), type_="check")
        batch_op.create_check_constraint(op.f("ck_oauth_clients_auth_method_known"), methods)
        batch_op.create_check_constraint(
            op.f("ck_oauth_clients_secret_matches_auth_method"), secret
        )


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("jwks", JSON, nullable=True))
        batch_op.add_column(sa.Column("jwks_uri", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "require_pushed_authorization_requests",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    _client_constraints(NEW_METHODS, NEW_SECRET)
    with op.batch_alter_table("pending_authorizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pushed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "device_authorizations",
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", UTC, nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("auth_time", UTC, nullable=True),
        sa.Column("auth_methods", JSON, nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("used_at", UTC, nullable=True),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oauth_clients.id"],
            name=op.f("fk_device_authorizations_client_id_oauth_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["grant_families.id"],
            name=op.f("fk_device_authorizations_family_id_grant_families"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_device_authorizations_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_authorizations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_authorizations")),
        sa.UniqueConstraint(
            "device_code_hash", name=op.f("uq_device_authorizations_device_code_hash")
        ),
        sa.UniqueConstraint("user_code_hash", name=op.f("uq_device_authorizations_user_code_hash")),
    )
    for column in ("client_id", "expires_at", "family_id", "session_id", "user_id"):
        op.create_index(
            op.f(f"ix_device_authorizations_{column}"), "device_authorizations", [column]
        )
    op.create_table(
        "pushed_authorization_requests",
        sa.Column("request_uri_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_authorization_requests")),
        sa.UniqueConstraint(
            "request_uri_hash", name=op.f("uq_pushed_authorization_requests_request_uri_hash")
        ),
    )
    for column in ("client_id", "expires_at"):
        op.create_index(
            op.f(f"ix_pushed_authorization_requests_{column}"),
            "pushed_authorization_requests",
            [column],
        )
    op.create_table(
        "used_client_assertions",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_used_client_assertions")),
        sa.UniqueConstraint(
            "client_id", "jti", name=op.f("uq_used_client_assertions_client_id_jti")
        ),
    )
    op.create_index(
        op.f("ix_used_client_assertions_expires_at"), "used_client_assertions", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_table("used_client_assertions")
    op.drop_table("pushed_authorization_requests")
    op.drop_table("device_authorizations")
    with op.batch_alter_table("pending_authorizations", schema=None) as batch_op:
        batch_op.drop_column("pushed")
    op.execute("DELETE FROM oauth_clients WHERE token_endpoint_auth_method = 'private_key_jwt'")
    _client_constraints(OLD_METHODS, OLD_SECRET)
    with op.batch_alter_table("oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("require_pushed_authorization_requests")
        batch_op.drop_column("jwks_uri")
        batch_op.drop_column("jwks")
