"""archive numbers: HyperKitty hashes of messages, and where imported messages stood in their files

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 11:50:00

Messages archived before this revision get their HyperKitty hash here.  Their import
positions cannot be known any more (the files are not kept): pipermail URLs into an archive
imported before it stay unresolved until the archive is imported again.
"""

import base64
import hashlib

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _hyperkitty_id(message_id: str) -> str:
    # A copy of moot.core.references.hyperkitty_id: a migration must not change when the
    # code does.
    bare = message_id.strip()
    if bare.startswith("<") and bare.endswith(">"):
        bare = bare[1:-1]
    digest = hashlib.sha1(bare.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(digest).decode("ascii")


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hyperkitty_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_list_id_hyperkitty_id'),
                              ['list_id', 'hyperkitty_id'], unique=False)
    op.create_table('import_positions',
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('message_pk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mailing_lists.id'], name=op.f('fk_import_positions_list_id_mailing_lists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_pk'], ['messages.id'], name=op.f('fk_import_positions_message_pk_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('list_id', 'source', 'position', name=op.f('pk_import_positions'))
    )
    with op.batch_alter_table('import_positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_positions_list_id_period_position'), ['list_id', 'period', 'position'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_positions_message_pk'), ['message_pk'], unique=False)
    # Existing messages: their hashes, a few thousand rows at a time.
    conn = op.get_bind()
    messages = sa.table('messages', sa.column('id', sa.Integer),
                        sa.column('message_id', sa.String),
                        sa.column('hyperkitty_id', sa.String))
    last = 0
    while True:
        rows = conn.execute(sa.select(messages.c.id, messages.c.message_id)
                            .where(messages.c.id > last).order_by(messages.c.id)
                            .limit(5000)).all()
        if not rows:
            break
        conn.execute(messages.update().where(messages.c.id == sa.bindparam('pk'))
                     .values(hyperkitty_id=sa.bindparam('hk')),
                     [{'pk': r.id, 'hk': _hyperkitty_id(r.message_id)} for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table('import_positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_positions_message_pk'))
        batch_op.drop_index(batch_op.f('ix_import_positions_list_id_period_position'))
    op.drop_table('import_positions')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_list_id_hyperkitty_id'))
        batch_op.drop_column('hyperkitty_id')
