"""issues: edited issues of a periodical composed from list posts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('introduction', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_title', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_issues_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issues')),
    sa.UniqueConstraint('list_id', 'number', name=op.f('uq_issues_list_id_number'))
    )
    op.create_table('issue_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('editor_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_issue_items_issue_id_issues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_issue_items_message_pk_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_items'))
    )
    with op.batch_alter_table('issue_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_items_issue_id_position'), ['issue_id', 'position'], unique=False)
    op.create_table('issue_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.Column('published_by', sa.String(length=320), nullable=False),
    sa.Column('snapshot', sa.Text(), nullable=False),
    sa.Column('change_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_issue_versions_issue_id_issues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issue_versions')),
    sa.UniqueConstraint('issue_id', 'version', name=op.f('uq_issue_versions_issue_id_version'))
    )
    op.create_table('issue_published',
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_issue_published_issue_id_issues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_issue_published_message_pk_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('issue_id', 'message_pk', name=op.f('pk_issue_published'))
    )
    with op.batch_alter_table('issue_published', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_published_message_pk'), ['message_pk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('issue_published', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_published_message_pk'))
    op.drop_table('issue_published')
    op.drop_table('issue_versions')
    with op.batch_alter_table('issue_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_items_issue_id_position'))
    op.drop_table('issue_items')
    op.drop_table('issues')
