"""The agent's durable state: atomic JSON file, ordering, GUID records, crash recovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simgate.agent.outbox import (
    STATE_FILE_NAME,
    UNKNOWN_OUTCOME_ERROR,
    AgentStateError,
    Outbox,
    PendingFrame,
)
from simgate.protocol import FailedFrame, ReceivedFrame, SentFrame

pytestmark = [pytest.mark.timeout(20)]


def received(frame_id: str) -> ReceivedFrame:
    return ReceivedFrame(id=frame_id, number="+1555", text="hi", at=1, sim=None)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(tmp_path)
    box.open()
    return box


class TestPendingFrames:
    def test_only_written_frames_are_offered_to_the_server(self, outbox: Outbox) -> None:
        outbox.append(received("a"))
        assert outbox.pending_after(0) == []
        outbox.close()
        assert [item.frame.id for item in outbox.pending_after(0)] == ["a"]

    @pytest.mark.anyio
    async def test_commit_makes_frames_durable_and_offered_in_order(
        self, outbox: Outbox, tmp_path: Path
    ) -> None:
        for frame_id in "abc":
            outbox.append(received(frame_id))
        await outbox.commit()
        assert [item.frame.id for item in outbox.pending_after(0)] == ["a", "b", "c"]
        first_seq = outbox.pending_after(0)[0].seq
        assert [item.frame.id for item in outbox.pending_after(first_seq)] == ["b", "c"]
        on_disk = json.loads((tmp_path / STATE_FILE_NAME).read_text())
        assert [entry["frame"]["id"] for entry in on_disk["pending"]] == ["a", "b", "c"]

    def test_ack_removes_a_frame_and_survives_a_restart(self, tmp_path: Path) -> None:
        first = Outbox(tmp_path)
        first.open()
        first.append(received("a"))
        first.append(received("b"))
        first.acknowledge("a")
        first.close()
        second = Outbox(tmp_path)
        second.open()
        assert [item.frame.id for item in second.pending_after(0)] == ["b"]
        assert second.acknowledge("missing") is None
        second.close()

    def test_no_temporary_file_is_left_behind(self, outbox: Outbox, tmp_path: Path) -> None:
        outbox.append(received("a"))
        outbox.close()
        assert sorted(path.name for path in tmp_path.iterdir()) == [STATE_FILE_NAME, "state.lock"]


class TestDriverRefsAndState:
    def test_an_ack_after_a_restart_still_hands_the_driver_its_ref(self, tmp_path: Path) -> None:
        """The ack of an SMS stored before a restart must still let a modem delete it."""
        first = Outbox(tmp_path)
        first.open()
        first.append(received("a"), ref="3:slot")
        first.append(received("b"))
        first.close()
        acked: list[PendingFrame] = []
        second = Outbox(tmp_path, on_acknowledged=acked.append)
        second.open()
        second.acknowledge("b")  # no ref: nothing for the driver
        second.acknowledge("a")
        second.acknowledge("a")  # a duplicate ack: not passed on twice
        second.close()
        assert [(item.frame.id, item.ref) for item in acked] == [("a", "3:slot")]

    def test_a_drivers_document_survives_a_restart(self, tmp_path: Path) -> None:
        first = Outbox(tmp_path)
        first.open()
        first.driver_state("modem").save({"references": [[7, "g" * 40]]})
        first.close()
        second = Outbox(tmp_path)
        second.open()
        assert second.driver_state("modem").load() == {"references": [[7, "g" * 40]]}
        assert second.driver_state("termux").load() is None
        second.close()

    def test_a_state_file_of_an_earlier_version_without_refs_or_drivers_loads(
        self, tmp_path: Path
    ) -> None:
        box = Outbox(tmp_path)
        box.open()
        box.append(received("a"))
        box.close()
        document = json.loads((tmp_path / STATE_FILE_NAME).read_text())
        del document["drivers"]
        (tmp_path / STATE_FILE_NAME).write_text(json.dumps(document))
        again = Outbox(tmp_path)
        again.open()
        [item] = again.pending_after(0)
        assert (item.frame.id, item.ref) == ("a", None)
        assert again.driver_state("modem").load() is None
        again.close()


class TestGuidRecords:
    def test_finish_records_the_outcome_and_queues_its_report(self, outbox: Outbox) -> None:
        outbox.begin("g1")
        item = outbox.finish("g1", ok=True, sim=2, at=123)
        assert item.frame == SentFrame(id=item.frame.id, guid="g1", sim=2, at=123)
        record = outbox.record("g1")
        assert record is not None
        assert (record.state, record.frame_id) == ("sent", item.frame.id)
        outbox.acknowledge(item.frame.id)
        assert record.frame_id is None
        assert not record.may_transmit_again

    def test_an_acked_failure_may_be_transmitted_again(self, outbox: Outbox) -> None:
        item = outbox.finish("g1", ok=False, error="refused", operator=True)
        record = outbox.record("g1")
        assert record is not None
        assert not record.may_transmit_again  # the server has not seen the failure yet
        outbox.acknowledge(item.frame.id)
        assert record.may_transmit_again

    def test_report_again_uses_a_fresh_id_and_the_same_outcome(self, outbox: Outbox) -> None:
        first = outbox.finish("g1", ok=True, sim=1, at=5)
        outbox.acknowledge(first.frame.id)
        again = outbox.report_again("g1")
        assert again.frame.id != first.frame.id
        assert again.frame == SentFrame(id=again.frame.id, guid="g1", sim=1, at=5)

    def test_a_send_interrupted_by_a_crash_becomes_an_unknown_failure(self, tmp_path: Path) -> None:
        crashed = Outbox(tmp_path)
        crashed.open()
        crashed.begin("g1")
        crashed.close()  # as if the process died while the driver had the message
        restarted = Outbox(tmp_path)
        restarted.open()
        [item] = restarted.pending_after(0)
        assert isinstance(item.frame, FailedFrame)
        assert item.frame.guid == "g1"
        assert item.frame.error == UNKNOWN_OUTCOME_ERROR
        assert item.frame.operator is False
        restarted.close()

    def test_acked_records_are_pruned_beyond_the_limit(self, tmp_path: Path) -> None:
        box = Outbox(tmp_path, keep_done=10)
        box.open()
        for number in range(150):
            item = box.finish(f"g{number}", ok=True)
            box.acknowledge(item.frame.id)
        box.close()
        kept = json.loads((tmp_path / STATE_FILE_NAME).read_text())["messages"]
        assert len(kept) == 10
        assert "g149" in kept
        assert "g0" not in kept


class TestRefusals:
    def test_a_second_agent_on_the_same_directory_is_refused(self, outbox: Outbox) -> None:
        other = Outbox(outbox.state_dir)
        with pytest.raises(AgentStateError, match="another agent"):
            other.open()
        outbox.close()
        other.open()  # free again once the first one closed
        other.close()

    def test_an_unreadable_state_file_stops_the_agent(self, tmp_path: Path) -> None:
        (tmp_path / STATE_FILE_NAME).write_text("{ not json")
        with pytest.raises(AgentStateError, match="Move it away"):
            Outbox(tmp_path).open()
        # the lock was released: once the file is moved away the agent can start
        (tmp_path / STATE_FILE_NAME).unlink()
        box = Outbox(tmp_path)
        box.open()
        box.close()
