"""Webhooks: payloads (legacy and signed V2), the signer, the URL guard, the delivery worker,
and the in-process cache of which endpoints want which events."""
