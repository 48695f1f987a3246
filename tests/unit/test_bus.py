"""The in-process bus: a failing subscriber is logged and isolated from the publisher."""

from __future__ import annotations

from structlog.testing import capture_logs

from simgate.bus import Bus, InProcessBus


class TestInProcessBus:
    def test_a_failing_handler_neither_reaches_the_publisher_nor_stops_the_others(self) -> None:
        bus: Bus = InProcessBus()
        seen: list[str] = []

        def broken(_payload: str) -> None:
            raise RuntimeError("boom")

        bus.subscribe("work", broken)
        bus.subscribe("work", seen.append)
        with capture_logs() as logs:
            bus.publish("work", "7")
        assert seen == ["7"]
        assert [entry["event"] for entry in logs] == ["bus_handler_failed"]
        assert logs[0]["topic"] == "work"

    def test_unsubscribing_stops_delivery_and_twice_is_harmless(self) -> None:
        bus = InProcessBus()
        seen: list[str] = []
        unsubscribe = bus.subscribe("work", seen.append)
        bus.publish("work", "1")
        unsubscribe()
        unsubscribe()
        bus.publish("work", "2")
        assert seen == ["1"]
