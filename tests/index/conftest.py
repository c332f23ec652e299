import pytest

from tests.index.libraries import close_opened


@pytest.fixture(autouse=True)
def _close_libraries():
    """Close the stores a test opened with tests.index.libraries.open_library."""
    yield
    close_opened()
