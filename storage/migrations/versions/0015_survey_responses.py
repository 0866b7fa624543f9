"""survey responses: the SKM as its own rows (any service user, a profile, a service and
a unit); the answers kept on ratings move there

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""
import json

from alembic import op
import sqlalchemy as sa

import storage.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

ELEMENTS = [f"u{n}" for n in range(1, 10)]
_when = storage.types.UTCDateTime(timezone=True)
ratings = sa.table("ratings", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer),
                   sa.column("solved", sa.Boolean), sa.column("skm", sa.JSON), sa.column("created_at", _when))
cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("citizen_id", sa.Integer),
                 sa.column("channel", sa.String), sa.column("category", sa.String), sa.column("unit_id", sa.Integer))


def upgrade() -> None:
    table = op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("service", sa.String(60), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("age_group", sa.String(10), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("education", sa.String(10), nullable=True),
        sa.Column("occupation", sa.String(20), nullable=True),
        *(sa.Column(u, sa.SmallInteger(), nullable=True) for u in ELEMENTS),
        sa.Column("created_at", _when, nullable=False),
        *(sa.CheckConstraint(f"{u} IS NULL OR {u} BETWEEN 1 AND 4", name=op.f(f"ck_survey_responses_{u}"))
          for u in ELEMENTS),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], name=op.f("fk_survey_responses_citizen_id_citizens"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_survey_responses_case_id_cases"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_survey_responses_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
    )
    op.create_index("ix_survey_responses_created", "survey_responses", ["created_at"])
    op.create_index("ix_survey_responses_citizen", "survey_responses", ["citizen_id", "created_at"])
    op.create_index("ix_survey_responses_case_id", "survey_responses", ["case_id"])
    # The answers given after a rating become responses like any other, so the IKM has one
    # source (two would be counted twice, or read twice over). The case gives the channel,
    # the unit and, as the service, its category.
    conn = op.get_bind()
    moved = conn.execute(sa.select(ratings.c.id, ratings.c.case_id, ratings.c.skm, ratings.c.created_at,
                                   cases.c.citizen_id, cases.c.channel, cases.c.category, cases.c.unit_id)
                         .join(cases, cases.c.id == ratings.c.case_id)
                         .where(ratings.c.skm.is_not(None)).order_by(ratings.c.id)).all()
    rows = []
    for _, case_id, skm, at, citizen_id, channel, category, unit_id in moved:
        answers = json.loads(skm) if isinstance(skm, str) else (skm or {})
        values = {u: answers[u] if isinstance(answers.get(u), int) and 1 <= answers[u] <= 4 else None
                  for u in ELEMENTS}
        if not any(values.values()):
            continue  # a JSON null or an empty survey: no respondent
        rows.append({"citizen_id": citizen_id, "case_id": case_id, "channel": channel, "service": category,
                     "unit_id": unit_id, "created_at": at, **values})
    if rows:
        op.bulk_insert(table, rows)
        op.execute(ratings.update().where(ratings.c.skm.is_not(None)).values(skm=sa.null()))  # SQL NULL, not JSON null


def downgrade() -> None:
    # Answers given after a rating go back onto the case's last "solved" rating; answers
    # given with /survei have no rating to go to and are lost with the table.
    conn = op.get_bind()
    responses = sa.table("survey_responses", sa.column("case_id", sa.Integer), *(sa.column(u) for u in ELEMENTS))
    for case_id, *values in conn.execute(sa.select(responses.c.case_id, *(responses.c[u] for u in ELEMENTS))
                                         .where(responses.c.case_id.is_not(None))):
        last = conn.scalar(sa.select(sa.func.max(ratings.c.id)).where(ratings.c.case_id == case_id,
                                                                       ratings.c.solved.is_(True)))
        answers = {u: v for u, v in zip(ELEMENTS, values) if v is not None}
        if last is not None and answers:
            conn.execute(ratings.update().where(ratings.c.id == last).values(skm=answers))
    op.drop_table("survey_responses")
