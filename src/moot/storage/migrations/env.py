"""Alembic environment: the connection comes from moot.storage.db.migrate(), never a file."""

from alembic import context

from moot.storage.schema import metadata_for

connection = context.config.attributes.get("connection")
if connection is None:  # e.g. `alembic revision --autogenerate` run by a developer
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(connection=connection,
                          target_metadata=metadata_for(connection.dialect.name),
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection,
                      target_metadata=metadata_for(connection.dialect.name), render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
