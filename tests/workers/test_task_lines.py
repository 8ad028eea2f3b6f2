"""Celery's own line for every task (received, succeeded in) is written only when asked
(MENTORQ_LOG_EACH_TASK); a task's failure is written either way. The worker's log of a real run
without them: tests/metrics/test_prometheus.py."""

from __future__ import annotations

import logging

import celery.app.trace
import celery.worker.strategy
import pytest

from core.settings import Settings
from workers.signals import TASK_LINE_LOGGERS, choose_task_lines


@pytest.fixture
def task_loggers():
    loggers = [logging.getLogger(name) for name in TASK_LINE_LOGGERS]
    levels = [logger.level for logger in loggers]
    yield loggers
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def _settings(**env: str) -> Settings:
    return Settings(_env_file=None, SECRET_KEY="x" * 40, **env)


def test_the_quieted_loggers_are_the_ones_celery_writes_each_task_with() -> None:
    assert set(TASK_LINE_LOGGERS) == {celery.worker.strategy.logger.name, celery.app.trace.logger.name}


def test_each_task_line_is_off_by_default_and_a_failure_still_written(task_loggers) -> None:
    choose_task_lines(_settings())
    for logger in task_loggers:
        assert not logger.isEnabledFor(logging.INFO), logger.name
        assert logger.isEnabledFor(logging.WARNING), logger.name
        assert logger.isEnabledFor(logging.ERROR), logger.name


def test_each_task_line_follows_the_process_level_when_asked(task_loggers) -> None:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        choose_task_lines(_settings(MENTORQ_LOG_EACH_TASK="true"))
        assert all(logger.isEnabledFor(logging.INFO) for logger in task_loggers)
        root.setLevel(logging.WARNING)  # a worker started at --loglevel WARNING writes none
        assert not any(logger.isEnabledFor(logging.INFO) for logger in task_loggers)
    finally:
        root.setLevel(level)
