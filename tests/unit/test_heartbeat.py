"""The watchdog is fed only while the daemon makes progress."""

from __future__ import annotations

from syncd.daemon.heartbeat import Heartbeat


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_daemon_is_healthy_however_long_it_waits() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock)
    clock.now += 10_000
    assert heartbeat.healthy(max_silence=60)


def test_a_job_that_keeps_beating_is_healthy() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock)
    heartbeat.start_job()
    for _ in range(10):
        clock.now += 30
        heartbeat.beat()
    assert heartbeat.healthy(max_silence=60)


def test_a_hung_job_stops_the_pings() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock)
    heartbeat.start_job()
    clock.now += 61
    assert not heartbeat.healthy(max_silence=60)
    heartbeat.end_job()
    assert heartbeat.healthy(max_silence=60)


def test_an_announced_wait_is_not_a_hang_but_silence_after_it_is() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock)
    heartbeat.start_job()
    heartbeat.quiet_for(300)
    clock.now += 299
    assert heartbeat.healthy(max_silence=60)
    clock.now += 62
    assert not heartbeat.healthy(max_silence=60)
