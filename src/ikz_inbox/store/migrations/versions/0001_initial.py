"""Initial schema: messages, questions, clusters, constraints, audit log, mailbox state, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ikz_inbox.store.models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_id", sa.String(998), index=True),
        sa.Column("content_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("from_name", sa.Text(), nullable=False),
        sa.Column("from_address", sa.String(320), nullable=False, index=True),
        sa.Column("sent_at", UtcDateTime()),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("sender_org", sa.Text()),
        sa.Column("kind", sa.String(32), index=True),
        sa.Column("event_id", sa.String(200), index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("error", sa.Text()),
        sa.Column("message_id_collision", sa.Boolean(), nullable=False),
        sa.Column("new_text", sa.Text(), nullable=False),
    )
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(200), index=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("representative_question_id", sa.Integer()),
        sa.Column("rank", sa.Integer()),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "message_pk",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer(), nullable=False),
        sa.Column("span_end", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False, index=True),
        sa.Column("secondary_topics", sa.JSON(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("topic_source", sa.String(16), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False, index=True),
        sa.Column(
            "cluster_id",
            sa.Integer(),
            sa.ForeignKey("clusters.id", ondelete="SET NULL"),
            index=True,
        ),
        sa.UniqueConstraint("message_pk", "position"),
    )
    op.create_table(
        "cluster_constraints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "question_a",
            sa.Integer(),
            sa.ForeignKey("questions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "question_b",
            sa.Integer(),
            sa.ForeignKey("questions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("must_link", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("question_a", "question_b"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text()),
    )
    op.create_table(
        "mailbox_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("mailbox", sa.String(200), nullable=False),
        sa.Column("folder", sa.String(500), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger()),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("last_poll_at", UtcDateTime()),
        sa.Column("last_success_at", UtcDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("backlog", sa.Integer(), nullable=False),
        sa.UniqueConstraint("mailbox", "folder"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("questions_from", sa.Date(), nullable=False),
        sa.Column("questions_until", sa.Date(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "events",
        "mailbox_state",
        "audit_log",
        "cluster_constraints",
        "questions",
        "clusters",
        "messages",
    ):
        op.drop_table(table)
