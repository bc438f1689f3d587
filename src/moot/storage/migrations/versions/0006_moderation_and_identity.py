"""moderation and identity

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 06:25:17.163875
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=1000), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_audit_log_list_id_mailing_lists'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_list_id_at'), ['list_id', 'at'], unique=False)

    op.create_table('sender_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('pattern', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('by', sa.String(length=320), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_sender_rules_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sender_rules')),
    sa.UniqueConstraint('list_id', 'pattern', name=op.f('uq_sender_rules_list_id_pattern'))
    )
    with op.batch_alter_table('bans', schema=None) as batch_op:
        batch_op.alter_column('list_id',
               existing_type=sa.INTEGER(),
               nullable=True)

    with op.batch_alter_table('mailing_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nonmember_action', sa.String(length=20), nullable=False, server_default='hold'))
        batch_op.add_column(sa.Column('new_member_posts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('ban_action', sa.String(length=20), nullable=False, server_default='refuse'))
        batch_op.add_column(sa.Column('held_expire_days', sa.Integer(), nullable=False, server_default='14'))
        batch_op.add_column(sa.Column('identity_policy', sa.String(length=20), nullable=False, server_default='accept'))
        batch_op.add_column(sa.Column('spam_action', sa.String(length=20), nullable=False, server_default='hold'))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_posts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('auth_passes', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_auth_pass_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('identity')

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('last_auth_pass_at')
        batch_op.drop_column('auth_passes')
        batch_op.drop_column('accepted_posts')

    with op.batch_alter_table('mailing_lists', schema=None) as batch_op:
        batch_op.drop_column('spam_action')
        batch_op.drop_column('identity_policy')
        batch_op.drop_column('held_expire_days')
        batch_op.drop_column('ban_action')
        batch_op.drop_column('new_member_posts')
        batch_op.drop_column('nonmember_action')

    with op.batch_alter_table('bans', schema=None) as batch_op:
        batch_op.alter_column('list_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    op.drop_table('sender_rules')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_list_id_at'))

    op.drop_table('audit_log')
