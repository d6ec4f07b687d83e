from sqlalchemy import create_engine, text


def test_redis_is_real(redis):
    assert redis.ping() is True
    assert "redis_version" in redis.info("server")


def test_database_answers(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
