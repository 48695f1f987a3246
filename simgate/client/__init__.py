"""simgate's Python client for the SMSMobileAPI-compatible HTTP API, blocking and asyncio.

It needs only ``httpx`` (the base install), never the server's dependencies::

    from simgate.client import Client

    with Client("http://127.0.0.1:8000", "YOUR_API_KEY") as sms:
        sent = sms.send(["+32470123456", "+32470123457"], "Hello", sim=1)
        for row in sms.iter_sent_log():
            print(row.guid, row.status)

The implementation lives in private modules; everything public is re-exported here, and a test
pins ``__all__`` so that nothing is added or removed by accident.
"""

from simgate.client._async_client import AsyncClient
from simgate.client._client import Client
from simgate.client._errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    SimgateClientError,
    TransportError,
    UnexpectedResponseError,
)
from simgate.client._models import (
    Conversation,
    ConversationMessage,
    Device,
    FailedMessage,
    MobileSentSms,
    ReceivedSms,
    RejectedRecipient,
    SendResult,
    SentSms,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "Conversation",
    "ConversationMessage",
    "Device",
    "FailedMessage",
    "InvalidRequestError",
    "MobileSentSms",
    "NotFoundError",
    "RateLimitError",
    "ReceivedSms",
    "RejectedRecipient",
    "SendResult",
    "SentSms",
    "SimgateClientError",
    "TransportError",
    "UnexpectedResponseError",
]
