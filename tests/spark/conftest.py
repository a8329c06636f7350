"""One local SparkSession for the whole test run (local[2], UI off, few shuffle partitions).

Spark tests carry `@pytest.mark.spark` and the xdist group "spark", so with `--dist loadgroup` they all
run on one worker and share this session. PySpark is part of the test install (`.[dev,spark]`): when
it is missing the Spark tests fail at import rather than vanish from the run.
"""

from __future__ import annotations

import pytest

#: small-data settings: tiny plans run faster without adaptive execution and with one shuffle partition
TEST_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.memory": "2g",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
}


@pytest.hookimpl(tryfirst=True)  # before xdist turns the group marker into the node id's @group suffix
def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def spark():
    from fundguard.engine.backends.spark import spark_session

    session = spark_session("local[2]", app_name="fundguard-tests", conf=TEST_CONF)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
