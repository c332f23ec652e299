import os

# no test may reach the model hub; tokenizers must not fork worker threads under pytest
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tests.fakes.servers import chroma_server, redis_server, redis_url  # noqa: E402

__all__ = ["chroma_server", "redis_server", "redis_url"]
