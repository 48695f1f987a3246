"""The contract schemas themselves: well-formed, and able both to accept and to reject.

Every valid sample is built from the documents (the official OpenAPI file, the developer
documentation's examples, shared/API-NOTES.md). Every invalid sample is a valid one with exactly
one thing broken, so each test proves that one constraint of the schema really bites.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from tests.contract import SCHEMAS, schema_id, validate

GUID = "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
GUID_2 = "5d41402abc4b2a76b9719d911017c592a1b2c3d4"

_DELETE = object()


def changed(base: Any, path: str, value: object = _DELETE) -> Any:
    """A deep copy of ``base`` with the value at dotted ``path`` replaced (or deleted)."""
    result = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return result


# --- samples from the documents ------------------------------------------------------------------

# API-NOTES.md, "Responses", /sendsms/ success.
SEND_SUCCESS = {
    "result": {
        "error": 0,
        "sent": "1",
        "id": GUID,
        "note": "Message queued",
        "datetime": "2026-03-13T08:45:12Z",
        "datetimeLocal": "2026-03-13 09:45:12",
        "port": None,
        "send_with_whatsapp": "0",
        "encrypted": {"status": "0"},
    }
}
SEND_SUCCESS_TWO_RECIPIENTS = changed(
    changed(SEND_SUCCESS, "result.ids", [GUID, GUID_2]), "result.port", 2
)

# API-NOTES.md, "Errors".
ERROR = {
    "success": False,
    "error": "missing_apikey",
    "message": "The apikey parameter is required.",
}
SEND_ERROR = {
    "success": False,
    "error": "invalid_parameter",
    "message": "port must be 1, 2 or empty.",
    "result": {"error": "invalid_parameter", "sent": "0"},
}
# The developer documentation's own error example (/conversation/sms/list/).
DOCS_ERROR_EXAMPLE = {"success": False, "error": "Missing required parameter: apikey"}

# API-NOTES.md, "Responses", /getsms/ (with the legacy webhook's example times of the docs).
RECEIVED_SMS = {
    "result": {
        "error": "",
        "sms": [
            {
                "id": 12,
                "sIdentifiantPhone": "device_sid_1",
                "timestamp_unix": 1737368090,
                "message": "Hello, this is a test.",
                "number": "+123456789",
                "guid": GUID,
                "alias": None,
                "date": "2025-01-20",
                "hour": "10:15:00",
                "time_received": "2025-01-20 10:14:50",
                "read": 0,
            }
        ],
    }
}
RECEIVED_SMS_EMPTY = {"result": {"error": "", "sms": []}}

# API-NOTES.md, "Responses", /log/sent/sms/.
SENT_LOG = {
    "result": {
        "error": "",
        "sms": [
            {
                "guid": GUID,
                "recipients": "+32470000001",
                "message": "Hello World",
                "date": "2026-03-13 08:45:12",
                "timestamp_unix": 1773391512,
                "status": "sent",
                "error_api": "",
                "send_from_mobile": "1",
                "send_from_mobile_erreur": "",
                "send_from_mobile_sIdentifiant": "device_sid_1",
                "port": 1,
                "send_with_whatsapp": "0",
                "schedule_timestamp": None,
                "retries": 0,
                "parts": 1,
                "encoding": "GSM-7",
            },
            {
                "guid": GUID_2,
                "recipients": "+32470000002",
                "message": "Ça coûte 10 €",
                "date": "2026-03-13 08:40:00",
                "timestamp_unix": 1773391200,
                "status": "failed",
                "error_api": "",
                "send_from_mobile": "0",
                "send_from_mobile_erreur": "generic_failure",
                "send_from_mobile_sIdentifiant": "",
                "port": None,
                "send_with_whatsapp": "0",
                "schedule_timestamp": 1773391000,
                "retries": 3,
                "parts": 1,
                "encoding": "UCS-2",
            },
        ],
    }
}
SENT_LOG_NO_RESULT = {"result": {"error": "no_result", "sms": []}}

# API-NOTES.md, "Responses", /gateway/mobile/list/.
MOBILE_LIST = {
    "success": True,
    "connected_available": 1,
    "connected_limit": 5,
    "connected_now": 1,
    "filters": {"sid": None, "search": None},
    "items": [
        {
            "sid": "device_sid_1",
            "sIdentifiant": "device_sid_1",
            "label": "OfficePhone",
            "phone_number": "+32470000000",
            "online": True,
            "last_seen": "2026-03-13T08:45:12Z",
            "battery": 87,
            "signal": 4,
            "version": "0.1.0",
            "sims": [{"port": 1, "operator": "Proximus"}],
            "sent_today": 3,
            "received_today": 1,
        }
    ],
    "note": "Received SMS statistics count today's messages (UTC).",
}

# reference/smsmobileapi-docs.txt, /conversation/sms/list/, "Successful response example",
# verbatim.
CONVERSATIONS = {
    "success": True,
    "origineConversation": "received",
    "resume": 0,
    "resume_line_how": None,
    "conversations": [
        {
            "phone_number": "+10470000001",
            "contact_alias": "John Doe",
            "messages": [
                {
                    "direction": "incoming",
                    "message_id": "msg_1001",
                    "date": "2026-03-13 08:45:12",
                    "timestamp_utc": "2026-03-13T08:45:12Z",
                    "message": "Hello, I would like more information.",
                    "status": "received",
                    "mobile_sid": "device_sid_1",
                },
                {
                    "direction": "outgoing",
                    "message_id": "msg_1002",
                    "date": "2026-03-13 10:46:03",
                    "timestamp_utc": "2026-03-13T08:46:03Z",
                    "message": "Of course, what would you like to know?",
                    "status": "sent",
                    "mobile_sid": "device_sid_2",
                },
            ],
        }
    ],
}

# API-NOTES.md, "Responses", /log/sent/frommobile/ (values from the docs' filter example).
FROM_MOBILE_ROW = {
    "sIdentifiant": "device_sid_1",
    "number": "32470000000",
    "message": "See you at 10",
    "mobile_date_ms": 1773391512000,
    "mobile_date_formatted": "2026-03-13 08:45:12",
    "synchro_time": "2026-03-13 08:46:00",
}
FROM_MOBILE = {"success": True, "count": 1, "data": [FROM_MOBILE_ROW]}

# API-NOTES.md, "Responses", mutations.
MUTATION = {"success": True, "deleted": 12}

# The OpenAPI file's `webhooks: mobileEvent` body, carrying the legacy "SMS received" payload.
WEBHOOK = {
    "id": "0b9d6c1e-3f4a-4e8b-9a7c-2d5e6f708192",
    "type": "sms.received",
    "api_version": "2026-09-23",
    "created_at": "2025-01-20T10:15:00Z",
    "occurred_at": "2025-01-20T10:14:50Z",
    "data": {
        "date": "2025-01-20",
        "hour": "10:15:00",
        "time_received": "2025-01-20 10:14:50",
        "message": "Hello, this is a test.",
        "number": "+123456789",
        "guid": GUID,
    },
}

WEBHOOK_HEADERS = {
    "x-smsmobileapi-event": "sms.received",
    "x-smsmobileapi-event-id": "6f1c1a4e-8a53-4c4e-9a59-1f0c8f6d2b11",
    "x-smsmobileapi-timestamp": "1737368090",
    "x-smsmobileapi-signature": "v1=" + "0123456789abcdef" * 4,
    "idempotency-key": "6f1c1a4e-8a53-4c4e-9a59-1f0c8f6d2b11",
    "content-type": "application/json",
}

# --- what each schema must accept, and what it must refuse --------------------------------------

VALID: dict[str, dict[str, object]] = {
    "official.ErrorResponse": {
        "docs-example": DOCS_ERROR_EXAMPLE,
        "simgate-error": ERROR,
        "integer-code": {"error": 1, "message": "Invalid API key"},
        "empty": {},
    },
    "official.SendMessageResponse": {
        "simgate-success": SEND_SUCCESS,
        "simgate-two-recipients": SEND_SUCCESS_TWO_RECIPIENTS,
        "simgate-send-error": SEND_ERROR,
        "string-error": {"result": {"error": "", "sent": "1", "id": "abcde12345"}},
        "empty": {},
    },
    "official.ReceivedSmsResponse": {
        "simgate": RECEIVED_SMS,
        "simgate-empty": RECEIVED_SMS_EMPTY,
        "loose-item": {"result": {"sms": [{"guid": "abcde12345"}]}},
    },
    "official.WebhookEnvelope": {
        "sms-received": WEBHOOK,
        "offset-time": changed(WEBHOOK, "occurred_at", "2025-01-20T11:14:50.250+01:00"),
        "empty-data": changed(changed(WEBHOOK, "type", "call.missed"), "data", {}),
    },
    "official.WebhookHeaders": {"v2-delivery": WEBHOOK_HEADERS},
    "simgate.Error": {
        "notes": ERROR,
        "extra-keys": {**ERROR, "error": "rate_limited", "retry_after": 30},
    },
    "simgate.SendError": {"notes": SEND_ERROR},
    "simgate.SendSuccess": {
        "one-recipient": SEND_SUCCESS,
        "two-recipients": SEND_SUCCESS_TWO_RECIPIENTS,
        "whatsapp-encrypted": changed(
            changed(SEND_SUCCESS, "result.send_with_whatsapp", "1"),
            "result.encrypted",
            {"status": "1"},
        ),
        "success-true": {**SEND_SUCCESS, "success": True},
    },
    "simgate.ReceivedSms": {
        "one": RECEIVED_SMS,
        "empty": RECEIVED_SMS_EMPTY,
        "alias-and-read": changed(
            changed(RECEIVED_SMS, "result.sms.0.alias", "John Doe"), "result.sms.0.read", 1
        ),
    },
    "simgate.SentLog": {"two-rows": SENT_LOG, "no-result": SENT_LOG_NO_RESULT},
    "simgate.MobileList": {
        "one-online": MOBILE_LIST,
        "never-seen": changed(
            changed(
                changed(MOBILE_LIST, "items.0.last_seen", None),
                "items.0.battery",
                None,
            ),
            "items.0.online",
            False,
        ),
        "none": {**MOBILE_LIST, "items": [], "connected_now": 0},
    },
    "simgate.Conversations": {
        "docs-example": CONVERSATIONS,
        "resume": {
            **CONVERSATIONS,
            "origineConversation": "sent",
            "resume": 1,
            "resume_line_how": 3,
        },
        "no-alias": changed(CONVERSATIONS, "conversations.0.contact_alias", None),
    },
    "simgate.FromMobile": {
        "one": FROM_MOBILE,
        "empty": {"success": True, "count": 0, "data": []},
        "limit": {"success": True, "count": 200, "data": [FROM_MOBILE_ROW] * 200},
    },
    "simgate.Mutation": {
        "deleted": MUTATION,
        "bare": {"success": True},
    },
}

INVALID: dict[str, dict[str, object]] = {
    "official.ErrorResponse": {
        "float-code": {"error": 1.5},
        "boolean-code": {"error": True},
        "message-integer": {"error": "x", "message": 42},
        "not-an-object": ["error"],
    },
    "official.SendMessageResponse": {
        "sent-integer": changed(SEND_SUCCESS, "result.sent", 1),
        "datetime-not-rfc3339": changed(SEND_SUCCESS, "result.datetime", "2026-03-13 08:45:12"),
        "datetime-month-13": changed(SEND_SUCCESS, "result.datetime", "2026-13-13T08:45:12Z"),
        "result-array": {"result": []},
    },
    "official.ReceivedSmsResponse": {
        "id-string": changed(RECEIVED_SMS, "result.sms.0.id", "12"),
        "sms-object": {"result": {"sms": {}}},
        "alias-integer": changed(RECEIVED_SMS, "result.sms.0.alias", 0),
    },
    "official.WebhookEnvelope": {
        "extra-key": {**WEBHOOK, "signature": "v1=00"},
        "unknown-type": changed(WEBHOOK, "type", "sms.delivered"),
        "id-not-uuid": changed(WEBHOOK, "id", "evt_123"),
        "created-at-not-date-time": changed(WEBHOOK, "created_at", "2025-01-20 10:15:00"),
        "missing-data": changed(WEBHOOK, "data"),
        "data-string": changed(WEBHOOK, "data", "{}"),
    },
    "official.WebhookHeaders": {
        "signature-upper-hex": {
            **WEBHOOK_HEADERS,
            "x-smsmobileapi-signature": "v1=" + "0123456789ABCDEF" * 4,
        },
        "signature-unversioned": {
            **WEBHOOK_HEADERS,
            "x-smsmobileapi-signature": "0123456789abcdef" * 4,
        },
        "timestamp-iso": {**WEBHOOK_HEADERS, "x-smsmobileapi-timestamp": "2025-01-20T10:14:50Z"},
        "missing-idempotency-key": {
            k: v for k, v in WEBHOOK_HEADERS.items() if k != "idempotency-key"
        },
    },
    "simgate.Error": {
        "docs-example": DOCS_ERROR_EXAMPLE,
        "missing-message": changed(ERROR, "message"),
        "empty-message": changed(ERROR, "message", ""),
        "camel-case-code": changed(ERROR, "error", "InvalidApiKey"),
        "integer-code": changed(ERROR, "error", 403),
        "success-true": changed(ERROR, "success", True),
        "success-missing": changed(ERROR, "success"),
    },
    "simgate.SendError": {
        "plain-error": ERROR,
        "sent-1": changed(SEND_ERROR, "result.sent", "1"),
        "sent-integer": changed(SEND_ERROR, "result.sent", 0),
        "result-code-missing": changed(SEND_ERROR, "result.error"),
        "message-missing": changed(SEND_ERROR, "message"),
    },
    "simgate.SendSuccess": {
        "sent-integer": changed(SEND_SUCCESS, "result.sent", 1),
        "error-string": changed(SEND_SUCCESS, "result.error", "0"),
        "error-false": changed(SEND_SUCCESS, "result.error", False),
        "guid-39-chars": changed(SEND_SUCCESS, "result.id", GUID[:39]),
        "guid-uppercase": changed(SEND_SUCCESS, "result.id", GUID.upper()),
        "ids-bad-guid": changed(SEND_SUCCESS_TWO_RECIPIENTS, "result.ids.1", "abcde12345"),
        "top-level-error": {**SEND_SUCCESS, "error": 0},
        "success-false": {**SEND_SUCCESS, "success": False},
        "port-3": changed(SEND_SUCCESS, "result.port", 3),
        "port-string": changed(SEND_SUCCESS, "result.port", "1"),
        "port-true": changed(SEND_SUCCESS, "result.port", True),
        "whatsapp-integer": changed(SEND_SUCCESS, "result.send_with_whatsapp", 0),
        "encrypted-status-integer": changed(SEND_SUCCESS, "result.encrypted.status", 0),
        "datetime-not-rfc3339": changed(SEND_SUCCESS, "result.datetime", "13/03/2026 08:45"),
        "missing-datetime-local": changed(SEND_SUCCESS, "result.datetimeLocal"),
        "missing-encrypted": changed(SEND_SUCCESS, "result.encrypted"),
    },
    "simgate.ReceivedSms": {
        "sms-missing": changed(RECEIVED_SMS_EMPTY, "result.sms"),
        "sms-null": changed(RECEIVED_SMS_EMPTY, "result.sms", None),
        "error-integer": changed(RECEIVED_SMS_EMPTY, "result.error", 0),
        "id-string": changed(RECEIVED_SMS, "result.sms.0.id", "12"),
        "timestamp-string": changed(RECEIVED_SMS, "result.sms.0.timestamp_unix", "1737368090"),
        "guid-39-chars": changed(RECEIVED_SMS, "result.sms.0.guid", GUID[:39]),
        "date-european": changed(RECEIVED_SMS, "result.sms.0.date", "20/01/2025"),
        "date-impossible": changed(RECEIVED_SMS, "result.sms.0.date", "2025-02-30"),
        "hour-24": changed(RECEIVED_SMS, "result.sms.0.hour", "24:00:00"),
        "time-received-iso": changed(
            RECEIVED_SMS, "result.sms.0.time_received", "2025-01-20T10:14:50Z"
        ),
        "read-boolean": changed(RECEIVED_SMS, "result.sms.0.read", True),
        "read-2": changed(RECEIVED_SMS, "result.sms.0.read", 2),
        "alias-missing": changed(RECEIVED_SMS, "result.sms.0.alias"),
    },
    "simgate.SentLog": {
        "sms-missing": changed(SENT_LOG_NO_RESULT, "result.sms"),
        "send-from-mobile-integer": changed(SENT_LOG, "result.sms.0.send_from_mobile", 1),
        "error-api-integer": changed(SENT_LOG, "result.sms.0.error_api", 0),
        "parts-0": changed(SENT_LOG, "result.sms.0.parts", 0),
        "retries-string": changed(SENT_LOG, "result.sms.0.retries", "0"),
        "encoding-utf8": changed(SENT_LOG, "result.sms.0.encoding", "UTF-8"),
        "schedule-empty-string": changed(SENT_LOG, "result.sms.0.schedule_timestamp", ""),
        "port-string": changed(SENT_LOG, "result.sms.0.port", "1"),
        "guid-uppercase": changed(SENT_LOG, "result.sms.0.guid", GUID.upper()),
        "encoding-missing": changed(SENT_LOG, "result.sms.1.encoding"),
        "erreur-missing": changed(SENT_LOG, "result.sms.1.send_from_mobile_erreur"),
    },
    "simgate.MobileList": {
        "success-false": changed(MOBILE_LIST, "success", False),
        "online-string": changed(MOBILE_LIST, "items.0.online", "1"),
        "battery-101": changed(MOBILE_LIST, "items.0.battery", 101),
        "sims-missing": changed(MOBILE_LIST, "items.0.sims"),
        "sidentifiant-missing": changed(MOBILE_LIST, "items.0.sIdentifiant"),
        "connected-now-string": changed(MOBILE_LIST, "connected_now", "1"),
        "note-missing": changed(MOBILE_LIST, "note"),
    },
    "simgate.Conversations": {
        "timestamp-utc-offset": changed(
            CONVERSATIONS,
            "conversations.0.messages.0.timestamp_utc",
            "2026-03-13T10:45:12+02:00",
        ),
        "direction-inbound": changed(
            CONVERSATIONS, "conversations.0.messages.0.direction", "inbound"
        ),
        "date-with-t": changed(
            CONVERSATIONS, "conversations.0.messages.1.date", "2026-03-13T10:46:03"
        ),
        "mobile-sid-missing": changed(CONVERSATIONS, "conversations.0.messages.1.mobile_sid"),
        "resume-string": changed(CONVERSATIONS, "resume", "0"),
        "resume-line-how-missing": changed(CONVERSATIONS, "resume_line_how"),
        "origine-both": changed(CONVERSATIONS, "origineConversation", "both"),
        "messages-missing": changed(CONVERSATIONS, "conversations.0.messages"),
    },
    "simgate.FromMobile": {
        "success-false": changed(FROM_MOBILE, "success", False),
        "count-negative": changed(FROM_MOBILE, "count", -1),
        "date-ms-string": changed(FROM_MOBILE, "data.0.mobile_date_ms", "1773391512000"),
        "synchro-time-missing": changed(FROM_MOBILE, "data.0.synchro_time"),
        "over-limit": {"success": True, "count": 201, "data": [FROM_MOBILE_ROW] * 201},
    },
    "simgate.Mutation": {
        "success-false": {"success": False, "error": "not_found", "message": "No such GUID."},
        "success-string": {"success": "true"},
        "empty": {},
    },
}

# Our schema, and the official one that everything it accepts must also satisfy.
STRICTER_THAN = {
    "simgate.Error": "official.ErrorResponse",
    "simgate.SendError": "official.ErrorResponse",
    "simgate.SendSuccess": "official.SendMessageResponse",
    "simgate.ReceivedSms": "official.ReceivedSmsResponse",
}

EXPECTED_SCHEMAS = {
    "official.ErrorResponse",
    "official.SendMessageResponse",
    "official.ReceivedSmsResponse",
    "official.WebhookEnvelope",
    "official.WebhookHeaders",
    "simgate.Error",
    "simgate.SendError",
    "simgate.SendSuccess",
    "simgate.ReceivedSms",
    "simgate.SentLog",
    "simgate.MobileList",
    "simgate.Conversations",
    "simgate.FromMobile",
    "simgate.Mutation",
}


def _cases(table: dict[str, dict[str, object]]) -> list[Any]:
    return [
        pytest.param(name, sample, id=f"{name}-{case}")
        for name, samples in table.items()
        for case, sample in samples.items()
    ]


class TestSchemaFiles:
    def test_the_expected_schemas_exist(self) -> None:
        """The set of schemas is pinned: adding or dropping one is a deliberate change here."""
        assert set(SCHEMAS) == EXPECTED_SCHEMAS

    @pytest.mark.parametrize("name", sorted(SCHEMAS))
    def test_schema_is_a_valid_draft_2020_12_schema(self, name: str) -> None:
        Draft202012Validator.check_schema(SCHEMAS[name])

    @pytest.mark.parametrize("name", sorted(SCHEMAS))
    def test_schema_declares_its_dialect_id_and_source(self, name: str) -> None:
        schema = SCHEMAS[name]
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == schema_id(name)
        source = "OpenAPI" if name.startswith("official.") else "API-NOTES.md"
        assert source in schema["$comment"]

    @pytest.mark.parametrize("name", sorted(SCHEMAS))
    def test_every_schema_has_samples_both_ways(self, name: str) -> None:
        """A schema without an invalid sample has never been shown able to fail."""
        assert VALID.get(name), f"no valid sample for {name}"
        assert INVALID.get(name), f"no invalid sample for {name}"


class TestSamples:
    @pytest.mark.parametrize(("name", "sample"), _cases(VALID))
    def test_documented_sample_is_accepted(self, name: str, sample: object) -> None:
        validate(sample, name)

    @pytest.mark.parametrize(("name", "sample"), _cases(INVALID))
    def test_broken_sample_is_refused(self, name: str, sample: object) -> None:
        with pytest.raises(ValidationError):
            validate(sample, name)

    @pytest.mark.parametrize(("ours", "official"), sorted(STRICTER_THAN.items()))
    def test_what_we_accept_the_official_schema_accepts(self, ours: str, official: str) -> None:
        """simgate's schemas only narrow the official ones: a valid body stays compatible."""
        for sample in VALID[ours].values():
            validate(sample, official)


class TestValidate:
    def test_error_names_the_schema_and_the_path(self) -> None:
        with pytest.raises(ValidationError) as caught:
            validate(changed(SEND_SUCCESS, "result.sent", 1), "simgate.SendSuccess")
        text = str(caught.value)
        assert text.startswith("simgate.SendSuccess: ")
        assert "$.result.sent" in text
        assert list(caught.value.path) == ["result", "sent"]

    def test_error_lists_every_problem(self) -> None:
        broken = changed(changed(SEND_SUCCESS, "result.sent", 1), "result.id", "x")
        with pytest.raises(ValidationError) as caught:
            validate(broken, "simgate.SendSuccess")
        text = str(caught.value)
        assert "$.result.sent" in text
        assert "$.result.id" in text

    def test_forbidden_shape_is_described_without_echoing_the_body(self) -> None:
        with pytest.raises(ValidationError) as caught:
            validate({**SEND_SUCCESS, "error": 0}, "simgate.SendSuccess")
        text = str(caught.value)
        assert "must not match" in text
        assert GUID not in text

    def test_unknown_schema_name_is_a_key_error(self) -> None:
        with pytest.raises(KeyError, match=r"simgate\.NoSuchThing"):
            validate({}, "simgate.NoSuchThing")

    @pytest.mark.parametrize(
        "value",
        ["2026-03-13T08:45:12Z", "2026-03-13t08:45:12.5z", "2026-03-13T08:45:12-05:30"],
    )
    def test_date_time_format_accepts_rfc3339(self, value: str) -> None:
        validate(changed(SEND_SUCCESS, "result.datetime", value), "simgate.SendSuccess")

    @pytest.mark.parametrize(
        "value",
        [
            "2026-03-13",
            "2026-03-13 08:45:12Z",
            "2026-03-13T08:45:12",
            "2026-03-32T08:45:12Z",
            "2026-03-13T25:45:12Z",
            "1773391512",
        ],
    )
    def test_date_time_format_is_checked(self, value: str) -> None:
        """jsonschema skips date-time without an optional package; ours always checks it."""
        with pytest.raises(ValidationError, match="date-time"):
            validate(changed(SEND_SUCCESS, "result.datetime", value), "simgate.SendSuccess")
