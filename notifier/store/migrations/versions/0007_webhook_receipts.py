"""Webhook receipts: each provider callback or reply (its SID and status) is applied once.

Twilio may deliver a webhook more than once (its retries, a replay, our own spool re-applying what
a crash left unconfirmed); a reply stored and acted on twice is a second confirmation or decline.
A receipt is written in the same transaction as the callback's effect; a webhook whose receipt
exists is acknowledged and ignored.

Revision ID: 0007_webhook_receipts
Revises: 0006_activation_documents
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_webhook_receipts"
down_revision = "0006_activation_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("provider_sid", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(48), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_receipts")
