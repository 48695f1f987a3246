"""The simulated phone: outbox file lines, seeded operator failures, injected traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simgate.agent.drivers.base import InboundSms, OutgoingSms, OwnerSentSms, StatusUpdate
from simgate.agent.drivers.simulator import SIMULATED_OPERATOR_ERROR, SimulatorDriver

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


def message(number: int, sim: int | None = None) -> OutgoingSms:
    return OutgoingSms(guid=f"{number:040x}", to="+32470123456", text=f"text {number}", sim=sim)


async def test_each_transmitted_message_is_one_flushed_json_line(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "outbox.jsonl"
    driver = SimulatorDriver(outbox_file=path)
    await driver.start()
    try:
        outcome = await driver.send(message(1, sim=2))
        assert outcome.ok
        assert outcome.sim == 2
        lines = path.read_text().splitlines()  # readable before close: nothing buffered
        outcome = await driver.send(message(2))
        assert outcome.sim == 1  # no SIM asked for: the phone's first SIM
    finally:
        await driver.close()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert set(line) == {"guid", "to", "text", "sim", "at", "sid"}
    assert line["sid"] is None  # this phone was never welcomed
    assert line["guid"] == f"{1:040x}"
    assert line["at"].endswith("Z")
    assert len(path.read_text().splitlines()) == 2


async def test_the_same_seed_gives_the_same_failures() -> None:
    async def outcomes(seed: int) -> list[bool]:
        driver = SimulatorDriver(failure_rate=0.5, seed=seed)
        return [(await driver.send(message(n))).ok for n in range(40)]

    first = await outcomes(7)
    assert first == await outcomes(7)
    assert True in first
    assert False in first


async def test_failures_are_operator_errors_and_write_no_line(tmp_path: Path) -> None:
    driver = SimulatorDriver(failure_rate=1.0, outbox_file=tmp_path / "o.jsonl")
    await driver.start()
    outcome = await driver.send(message(1))
    await driver.close()
    assert not outcome.ok
    assert outcome.operator is True
    assert outcome.error == SIMULATED_OPERATOR_ERROR
    assert (tmp_path / "o.jsonl").read_text() == ""


async def test_injected_events_come_out_in_order() -> None:
    driver = SimulatorDriver(inject_inbound=2)
    await driver.on_connected("sid")
    await driver.on_connected("sid")  # once only
    driver.inject_mobile_sent("+1", "typed", at_ms=5)
    driver.set_status(battery=50, signal=None)
    events = driver.events()
    got = [await anext(events) for _ in range(4)]
    assert isinstance(got[0], InboundSms)
    assert got[0] == InboundSms(
        number="+155501001", text="Simulated inbound message 1", at_ms=got[0].at_ms, sim=1
    )
    assert isinstance(got[1], InboundSms)
    assert got[1].number == "+155501002"
    assert got[2] == OwnerSentSms(number="+1", text="typed", at_ms=5)
    assert got[3] == StatusUpdate(battery=50, signal=None)
    assert await driver.read_status() == StatusUpdate(battery=50, signal=None)


@pytest.mark.parametrize(
    "options", [{"delay": -1.0}, {"failure_rate": 1.5}, {"inject_inbound": -1}]
)
def test_nonsense_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r">=|between"):
        SimulatorDriver(**options)  # type: ignore[arg-type]
