"""Markers Keras's own tests use (registered so pytest knows them)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_trainable_backend: Keras marker (every rnnkit backend trains)")
