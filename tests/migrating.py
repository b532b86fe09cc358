"""Data-migration tests: move some apps to given migrations (every other app at its latest) and always
leave the database at the latest migrations for the tests that follow, whatever the test did."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets):
    """Migrate the apps named in `targets` to those nodes, every other app to its latest; returns the
    apps registry of that state."""
    executor = MigrationExecutor(connection)
    pinned = {app for app, _ in targets}
    nodes = [node for node in executor.loader.graph.leaf_nodes() if node[0] not in pinned] + list(targets)
    executor.migrate(nodes)
    executor.loader.build_graph()
    return executor.loader.project_state(nodes).apps


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture(autouse=True)
def back_to_the_latest():
    """Autouse where imported: the next test finds every table as the models say."""
    yield
    migrate_to_latest()
