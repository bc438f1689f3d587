"""bounces and digests: member bounce state, bounce events, digest queue, delivery settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:50:46.469775
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('digest_queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('codec', sa.String(length=10), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_digest_queue_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_queue'))
    )
    with op.batch_alter_table('digest_queue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_queue_list_id'), ['list_id'], unique=False)

    op.create_table('bounce_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('bounce_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['bounce_id'], ['bounces.id'], name=op.f('fk_bounce_events_bounce_id_bounces'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_bounce_events_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bounce_events'))
    )
    with op.batch_alter_table('bounce_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounce_events_list_id_email'), ['list_id', 'email'], unique=False)

    with op.batch_alter_table('mailing_lists', schema=None) as batch_op:
        batch_op.add_column(sa.Column('personalize', sa.String(length=20), nullable=False, server_default='member'))
        batch_op.add_column(sa.Column('dmarc_mitigation', sa.String(length=20), nullable=False, server_default='munge'))
        batch_op.add_column(sa.Column('bounce_threshold', sa.Integer(), nullable=False, server_default='5'))
        batch_op.add_column(sa.Column('bounce_warnings', sa.Integer(), nullable=False, server_default='3'))
        batch_op.add_column(sa.Column('digest_size', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('digest_period', sa.String(length=20), nullable=False, server_default='daily'))
        batch_op.add_column(sa.Column('digest_format', sa.String(length=20), nullable=False, server_default='mime'))
        batch_op.add_column(sa.Column('digest_volume', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('digest_issue', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('digest_last_sent_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bounce_score', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_bounce_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('bounce_disabled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('bounce_warnings_sent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_warning_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_members_bounce_disabled_at'),
                              ['bounce_disabled_at'], unique=False)

    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bounces_processed'), ['processed'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounces_processed'))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_bounce_disabled_at'))
        batch_op.drop_column('last_warning_at')
        batch_op.drop_column('bounce_warnings_sent')
        batch_op.drop_column('bounce_disabled_at')
        batch_op.drop_column('last_bounce_at')
        batch_op.drop_column('bounce_score')

    with op.batch_alter_table('mailing_lists', schema=None) as batch_op:
        batch_op.drop_column('digest_last_sent_at')
        batch_op.drop_column('digest_issue')
        batch_op.drop_column('digest_volume')
        batch_op.drop_column('digest_format')
        batch_op.drop_column('digest_period')
        batch_op.drop_column('digest_size')
        batch_op.drop_column('bounce_warnings')
        batch_op.drop_column('bounce_threshold')
        batch_op.drop_column('dmarc_mitigation')
        batch_op.drop_column('personalize')

    with op.batch_alter_table('bounce_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bounce_events_list_id_email'))

    op.drop_table('bounce_events')
    with op.batch_alter_table('digest_queue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_queue_list_id'))

    op.drop_table('digest_queue')
