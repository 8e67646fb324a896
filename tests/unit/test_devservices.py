import redis

from psinfor_devkit.devservices import ensure_redis, free_port


def test_private_redis_starts_when_none_answers():
    service = ensure_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        assert service.owned
        assert redis.Redis.from_url(service.url).ping()
    finally:
        service.stop()
    assert service.process is not None and service.process.poll() is not None
