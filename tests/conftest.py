import os

import pytest

# no test may reach the model hub; tokenizers must not fork worker threads under pytest
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tests.fakes.servers import chroma_server, redis_server, redis_url  # noqa: E402

__all__ = ["chroma_server", "redis_server", "redis_url"]


@pytest.fixture(scope="session", autouse=True)
def store_under_test(request: pytest.FixtureRequest) -> None:
    """YANBAO_TEST_STORE=server: every store the tests open (through tests.helpers) lives on one
    real Chroma server instead of an embedded one."""
    if os.environ.get("YANBAO_TEST_STORE") == "server":
        os.environ["YANBAO_TEST_CHROMA_URL"] = request.getfixturevalue("chroma_server").url
