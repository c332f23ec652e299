"""The local server fixtures start real servers that the real clients can use."""

from __future__ import annotations


def test_redis_server_answers_the_redis_client(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ping() is True
        assert client.dbsize() == 0
    finally:
        client.close()


def test_chroma_server_answers_the_http_client(chroma_server) -> None:
    import chromadb

    client = chromadb.HttpClient(host=chroma_server.host, port=chroma_server.port)
    collection = client.get_or_create_collection("fixture-smoke")
    collection.add(ids=["a"], documents=["中信证券 周报"], embeddings=[[0.1, 0.2, 0.3]])
    assert collection.count() == 1
    client.delete_collection("fixture-smoke")
