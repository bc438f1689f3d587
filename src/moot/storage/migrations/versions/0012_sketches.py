"""sketches: MinHash signatures and LSH band keys for finding republished letters

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 12:10:00

Messages archived before this revision are sketched by the linker's next run (`moot relink`,
or `moot serve`'s housekeeping), from the first message on.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sketches',
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.Column('words', sa.Integer(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_sketches_message_pk_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_pk', name=op.f('pk_sketches'))
    )
    op.create_table('sketch_bands',
    sa.Column('key', sa.BigInteger(), nullable=False),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_sketch_bands_message_pk_messages'), ondelete='CASCADE')
    )
    with op.batch_alter_table('sketch_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sketch_bands_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_sketch_bands_message_pk'), ['message_pk'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sketch_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sketch_bands_message_pk'))
        batch_op.drop_index(batch_op.f('ix_sketch_bands_key'))
    op.drop_table('sketch_bands')
    op.drop_table('sketches')
