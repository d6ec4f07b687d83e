"""How bootstrap makes Redis clients from the settings (no server needed: clients connect lazily)."""

from __future__ import annotations

import pytest
from redis.sentinel import SentinelConnectionPool

from callrouter.bootstrap import build, readiness_probes, redis_client, rq_redis_client
from callrouter.config import Settings


def test_a_plain_url_with_password_and_tls() -> None:
    settings = Settings(redis_url="redis://10.0.0.9:6380/2", redis_password="s3cret", redis_tls=True,
                        redis_tls_ca_file="/etc/ssl/redis-ca.pem")
    kwargs = redis_client(settings).connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == ("10.0.0.9", 6380, 2, "s3cret")
    assert kwargs["ssl_ca_certs"] == "/etc/ssl/redis-ca.pem"  # rediss://: an SSL connection
    assert kwargs["socket_timeout"] == 5.0


def test_sentinels_give_a_client_of_the_service_primary() -> None:
    settings = Settings(redis_sentinels="10.0.0.5:26379, 10.0.0.6:26379,[::1]:26380", redis_sentinel_service="cr",
                        redis_password="s3cret", redis_sentinel_password="other", redis_tls=True, redis_db=3)
    assert settings.sentinel_addresses == [("10.0.0.5", 26379), ("10.0.0.6", 26379), ("::1", 26380)]
    client = redis_client(settings)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "cr"
    assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("s3cret", 3)
    assert "SSL" in pool.connection_class.__name__
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert sentinel["password"] == "other" and sentinel["host"] == "10.0.0.5"


def test_rq_uses_the_live_redis_unless_told_otherwise(tmp_path) -> None:  # noqa: ANN001
    common = {"database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}", "redis_url": "redis://10.0.0.9:6379/0"}
    same = build(Settings(**common))  # type: ignore[arg-type]
    assert same.rq_redis is None and same.jobs_redis is same.redis
    assert set(same.readiness()) == {"redis", "database", "migrations"}
    same.close()
    apart = build(Settings(**common, rq_redis_url="redis://10.0.0.10:6379/1"))  # type: ignore[arg-type]
    assert apart.jobs_redis.connection_pool.connection_kwargs["host"] == "10.0.0.10"
    assert apart.voice.jobs._queue.connection is apart.jobs_redis  # type: ignore[attr-defined]
    apart.close()
    via_sentinel = Settings(redis_sentinels="10.0.0.5:26379", rq_redis_sentinel_service="jobs")
    assert rq_redis_client(via_sentinel).connection_pool.service_name == "jobs"  # type: ignore[attr-defined]
    assert set(readiness_probes(via_sentinel)) == {"redis", "rq_redis", "database", "migrations"}


@pytest.mark.parametrize("values, setting", [
    ({"redis_sentinels": "10.0.0.5"}, "CALLROUTER_REDIS_SENTINELS"),
    ({"redis_sentinels": "10.0.0.5:0"}, "CALLROUTER_REDIS_SENTINELS"),
    ({"rq_redis_sentinel_service": "jobs"}, "CALLROUTER_RQ_REDIS_SENTINEL_SERVICE"),
    ({"redis_sentinels": "10.0.0.5:26379", "rq_redis_sentinel_service": "jobs", "rq_redis_url": "redis://x"},
     "CALLROUTER_RQ_REDIS_URL"),
])
def test_bad_redis_settings_stop_start_up_naming_the_setting(values: dict[str, str], setting: str) -> None:
    with pytest.raises(ValueError, match=setting):
        Settings(**values)  # type: ignore[arg-type]


def test_the_failover_retry_tries_a_refused_write_again_and_raises_any_other_error_at_once() -> None:
    from redis.backoff import NoBackoff
    from redis.exceptions import ResponseError

    from callrouter.adapters.redis_retry import FailoverRetry

    retry = FailoverRetry(NoBackoff(), 3)
    answers: list[object] = [ResponseError("NOREPLICAS Not enough good replicas to write."),
                             ResponseError("NOREPLICAS Not enough good replicas to write."), "OK"]
    closed: list[Exception] = []

    def do() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry.call_with_retry(do, closed.append) == "OK"
    assert len(closed) == 2  # the connection closed before each retry: the sentinels are asked again

    def wrong() -> object:
        raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    with pytest.raises(ResponseError, match="WRONGTYPE"):
        retry.call_with_retry(wrong, closed.append)
    assert len(closed) == 2
