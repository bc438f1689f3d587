"""links: quotes, references and republications between messages

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 10:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('source_pk', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target_pk', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('candidates', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_links_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_pk'], ['messages.id'], name=op.f('fk_links_source_pk_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_pk'], ['messages.id'], name=op.f('fk_links_target_pk_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_links'))
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_links_source_pk'), ['source_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_links_target_pk_kind'), ['target_pk', 'kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_links_target_pk_kind'))
        batch_op.drop_index(batch_op.f('ix_links_source_pk'))
    op.drop_table('links')
