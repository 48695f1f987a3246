"""The pure and local parts of the webhooks: guard, signer, secret box, retry rules, cache."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from pathlib import Path

import anyio
import pytest

from simgate.bus import WEBHOOKS_CHANGED, InProcessBus
from simgate.domain.errors import IllegalTransition, InvalidParameter, SecretUnreadable
from simgate.domain.webhooks import (
    DeliveryState,
    EventType,
    Format,
    after_failure,
    check_delivery_transition,
    delivery_sources,
    message_events,
    retry_delay_ms,
    wanted_events,
)
from simgate.secretbox import SecretBox
from simgate.webhooks import guard, payloads, signer
from simgate.webhooks.subscriptions import Subscription, Subscriptions
from tests.contract import validate


class TestGuard:
    @pytest.mark.parametrize(
        "address",
        ["169.254.169.254", "fe80::1", "100.100.100.200", "fd00:ec2::254", "0.0.0.0"],  # noqa: S104
    )
    def test_metadata_and_link_local_are_refused_even_when_private_is_allowed(
        self, address: str
    ) -> None:
        ip = ipaddress.ip_address(address)
        assert guard.check_address(ip, allow_private=True) is not None
        assert guard.check_address(ip, allow_private=False) is not None

    @pytest.mark.parametrize(
        "address", ["127.0.0.1", "10.1.2.3", "192.168.1.10", "172.16.0.5", "::1", "fd12::1"]
    )
    def test_loopback_and_private_need_the_setting(self, address: str) -> None:
        ip = ipaddress.ip_address(address)
        assert guard.check_address(ip, allow_private=False) is not None
        assert guard.check_address(ip, allow_private=True) is None

    def test_a_mapped_ipv4_address_is_judged_as_ipv4(self) -> None:
        ip = ipaddress.ip_address("::ffff:169.254.169.254")
        assert guard.check_address(ip, allow_private=True) is not None

    def test_a_public_address_is_allowed(self) -> None:
        assert (
            guard.check_address(ipaddress.ip_address("93.184.216.34"), allow_private=False) is None
        )

    @pytest.mark.parametrize(
        "url",
        [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pw@example.com/",
            "http:///x",
            "gopher://127.0.0.1/",
            "http://[::1/x",
        ],
    )
    def test_urls_that_are_not_plain_http_are_refused(self, url: str) -> None:
        with pytest.raises(InvalidParameter):
            guard.parse(url)

    def test_a_name_is_resolved_and_every_address_checked(self) -> None:
        async def check() -> None:
            with pytest.raises(InvalidParameter, match=r"resolves to 127\.0\.0\.1"):
                await guard.check_url("http://localhost:9/", allow_private=False)
            await guard.check_url("http://localhost:9/", allow_private=True)

        anyio.run(check)


class TestSigner:
    def test_the_signature_is_the_published_formula(self) -> None:
        body = b'{"id":"x"}'
        expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
        assert signer.signature("s3cret", 1_700_000_000, body) == f"v1={expected}"
        assert signer.verify("s3cret", 1_700_000_000, body, f"v1={expected}")
        assert not signer.verify("s3cret", 1_700_000_001, body, f"v1={expected}")

    def test_new_secrets_carry_at_least_128_random_bits(self) -> None:
        secret = signer.new_secret()
        assert secret.startswith("whsec_")
        assert len(secret.removeprefix("whsec_")) * 6 >= 128
        assert secret != signer.new_secret()


class TestPayloads:
    EVENT = payloads.Event(
        id="6f1c1a4e-8a53-4c4e-9a59-1f0c8f6d2b11",
        type="sms.received",
        created_ms=1_737_368_100_123,
        occurred_ms=1_737_368_090_000,
        data={
            "guid": "g",
            "from": "+32470",
            "message": "Hi",
            "received_at": "2025-01-20T10:14:50.000Z",
            "alias": None,
            "device_id": "sid",
        },
    )

    def test_the_v2_body_is_the_envelope_and_nothing_else(self) -> None:
        request = payloads.build(self.EVENT, Format.V2, "k", now_ms=1_737_368_101_000, zone=_utc())
        validate(payloads.envelope(self.EVENT), "official.WebhookEnvelope")
        assert request.headers["X-SMSMobileAPI-Timestamp"] == "1737368101"
        assert request.headers["Idempotency-Key"] == self.EVENT.id
        again = payloads.build(self.EVENT, Format.V2, "k", now_ms=1_737_368_999_000, zone=_utc())
        assert again.body == request.body  # retries send the same bytes

    def test_the_legacy_body_is_the_documented_json(self) -> None:
        body = payloads.legacy_body(self.EVENT, _utc())
        assert body == {
            "date": "2025-01-20",
            "hour": "10:15:00",
            "time_received": "2025-01-20 10:14:50",
            "message": "Hi",
            "number": "+32470",
            "guid": "g",
        }


def _utc() -> object:
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


class TestSecretBox:
    def test_a_sealed_secret_opens_and_is_not_in_clear(self, tmp_path: Path) -> None:
        box = SecretBox(key_file=tmp_path / "simgate.key")
        token = box.seal("whsec_abc")
        assert "whsec_abc" not in token
        assert SecretBox(key_file=tmp_path / "simgate.key").open(token) == "whsec_abc"

    def test_the_key_file_is_created_0600_on_first_use_only(self, tmp_path: Path) -> None:
        path = tmp_path / "data" / "simgate.key"
        box = SecretBox(key_file=path)
        assert not path.exists()
        box.seal("x")
        assert path.stat().st_mode & 0o777 == 0o600

    def test_another_key_cannot_open_it(self, tmp_path: Path) -> None:
        token = SecretBox(key="a" * 40).seal("x")
        with pytest.raises(SecretUnreadable):
            SecretBox(key="b" * 40).open(token)

    def test_a_short_passphrase_is_refused(self) -> None:
        with pytest.raises(ValueError, match="32"):
            SecretBox(key="short").seal("x")


class TestRules:
    def test_waits_grow_with_every_attempt_whatever_the_jitter(self) -> None:
        rng = random.Random(7)
        for _ in range(200):
            waits = [retry_delay_ms(n, rng=rng) for n in range(1, 10)]
            assert waits == sorted(waits)
            assert len(set(waits)) == len(waits)

    def test_the_retries_last_about_a_day_then_the_delivery_is_dead(self) -> None:
        now, deadline, attempts = 0, 86_400_000, 0
        state: DeliveryState = DeliveryState.PENDING
        while state is DeliveryState.PENDING:
            attempts += 1
            state, next_ms = after_failure(now, retry_delay_ms(attempts), deadline)
            now = next_ms if next_ms is not None else now
        assert 10 <= attempts <= 20
        assert now > 12 * 3600_000

    def test_the_state_table(self) -> None:
        assert delivery_sources(DeliveryState.DELIVERING) == {
            DeliveryState.PENDING,
            DeliveryState.DELIVERING,
        }
        with pytest.raises(IllegalTransition):
            check_delivery_transition(DeliveryState.DELIVERED, DeliveryState.PENDING)
        check_delivery_transition(DeliveryState.DEAD, DeliveryState.PENDING)

    def test_events_follow_the_channel(self) -> None:
        assert message_events("sent", "both") == (EventType.SMS_SENT, EventType.WHATSAPP_SENT)
        assert message_events("submitted", "whatsapp") == (EventType.WHATSAPP_SUBMITTED,)

    def test_legacy_carries_received_sms_only(self) -> None:
        assert wanted_events(Format.LEGACY, None) == {EventType.SMS_RECEIVED}
        with pytest.raises(ValueError, match="cannot carry"):
            wanted_events(Format.LEGACY, ["sms.sent"])
        with pytest.raises(ValueError, match="unknown"):
            wanted_events(Format.V2, ["sms.delivered"])


class TestSubscriptions:
    def test_a_change_notified_on_the_bus_drops_the_cached_answer(self) -> None:
        events = InProcessBus()
        cache = Subscriptions(events)
        sub = Subscription(1, Format.V2, frozenset(EventType))
        cache.put(7, cache.generation(7), (sub,))
        assert cache.get(7) == (sub,)
        events.publish(WEBHOOKS_CHANGED, "7")
        assert cache.get(7) is None

    def test_a_load_that_raced_with_a_change_is_not_kept(self) -> None:
        cache = Subscriptions(InProcessBus())
        generation = cache.generation(7)
        cache.invalidate(7)
        cache.put(7, generation, ())
        assert cache.get(7) is None

    def test_answers_expire_so_other_processes_changes_are_seen(self) -> None:
        now = [0.0]
        cache = Subscriptions(InProcessBus(), ttl=2.0, monotonic=lambda: now[0])
        cache.put(7, cache.generation(7), ())
        assert cache.get(7) == ()
        now[0] = 2.5
        assert cache.get(7) is None
