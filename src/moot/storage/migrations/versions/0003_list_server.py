"""list server: list settings, members, pending, held, bans, outbox, bounces, site

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 02:53:14.972596
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_site'))
    )
    op.create_table('bans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('pattern', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('by', sa.String(length=320), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('expires', sa.DateTime(), nullable=True),
    sa.Column('expulsion', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_bans_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bans')),
    sa.UniqueConstraint('list_id', 'pattern', name=op.f('uq_bans_list_id_pattern'))
    )
    op.create_table('bounces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=320), nullable=False),
    sa.Column('codec', sa.String(length=10), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('processed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_bounces_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounces'))
    )
    op.create_table('held',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=1000), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('envelope_sender', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('codec', sa.String(length=10), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('decided_by', sa.String(length=320), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_held_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held'))
    )
    with op.batch_alter_table('held', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_list_id_decision'), ['list_id', 'decision'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('delivery', sa.String(length=20), nullable=False),
    sa.Column('nomail', sa.Boolean(), nullable=False),
    sa.Column('receive_own', sa.Boolean(), nullable=False),
    sa.Column('moderated', sa.Boolean(), nullable=False),
    sa.Column('subscribed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_members_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('list_id', 'email', name=op.f('uq_members_list_id_email'))
    )
    op.create_table('pending',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('delivery', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_pending_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_pending'))
    )
    with op.batch_alter_table('pending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_list_id_email'), ['list_id', 'email'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=True),
    sa.Column('mail_from', sa.String(length=320), nullable=False),
    sa.Column('codec', sa.String(length=10), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_outbox_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_outbox_message_pk_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_table('outbox_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('rcpt', sa.String(length=320), nullable=False),
    sa.Column('personal', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_recipients_outbox_id_outbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_recipients'))
    )
    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_recipients_outbox_id'), ['outbox_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_recipients_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('mailing_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_prefix', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('footer', sa.Text(), nullable=False, server_default=sa.text("''")))
        batch_op.add_column(sa.Column('reply_to', sa.String(length=20), nullable=False, server_default=sa.text("'author'")))
        batch_op.add_column(sa.Column('max_size', sa.Integer(), nullable=False, server_default=sa.text("'512000'")))
        batch_op.add_column(sa.Column('content_types', sa.Text(), nullable=False, server_default=sa.text("''")))
        batch_op.add_column(sa.Column('max_recipients', sa.Integer(), nullable=False, server_default=sa.text("'10'")))
        batch_op.add_column(sa.Column('suspicious_headers', sa.Text(), nullable=False, server_default=sa.text("''")))



def downgrade() -> None:
    with op.batch_alter_table('mailing_lists', schema=None) as batch_op:
        batch_op.drop_column('suspicious_headers')
        batch_op.drop_column('max_recipients')
        batch_op.drop_column('content_types')
        batch_op.drop_column('max_size')
        batch_op.drop_column('reply_to')
        batch_op.drop_column('footer')
        batch_op.drop_column('subject_prefix')

    with op.batch_alter_table('outbox_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_recipients_status_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_recipients_outbox_id'))

    op.drop_table('outbox_recipients')
    op.drop_table('outbox')
    with op.batch_alter_table('pending', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_list_id_email'))

    op.drop_table('pending')
    op.drop_table('members')
    with op.batch_alter_table('held', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_list_id_decision'))

    op.drop_table('held')
    op.drop_table('bounces')
    op.drop_table('bans')
    op.drop_table('site')
