"""search: the PostgreSQL full-text index (search_docs, search_state), PostgreSQL only

On SQLite the search index is a tantivy directory beside the database, so this revision does
nothing there (the tables are in moot.storage.schema.postgres_metadata, not in ``metadata``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 02:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    op.create_table('search_docs',
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.DateTime(), nullable=False),
    sa.Column('tsv', postgresql.TSVECTOR(), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_search_docs_message_pk_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_pk', name=op.f('pk_search_docs'))
    )
    op.create_index(op.f('ix_search_docs_tsv'), 'search_docs', ['tsv'], unique=False, postgresql_using='gin')
    op.create_index(op.f('ix_search_docs_list_id_date'), 'search_docs', ['list_id', 'date'], unique=False)
    op.create_table('search_state',
    sa.Column('engine', sa.String(length=40), nullable=False),
    sa.Column('last_pk', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('engine', name=op.f('pk_search_state'))
    )


def downgrade() -> None:
    if not _postgres():
        return
    op.drop_table('search_state')
    op.drop_index(op.f('ix_search_docs_list_id_date'), table_name='search_docs')
    op.drop_index(op.f('ix_search_docs_tsv'), table_name='search_docs')
    op.drop_table('search_docs')
