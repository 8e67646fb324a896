import pytest

from integration.connectors.prestashop import webhooks


def test_signed_request_verifies():
    body = b'{"event":"order.created","shop_id":1,"id_order":5}'
    headers = webhooks.sign_headers("s3cret", "evt-1", body, timestamp=1_700_000_000)
    webhooks.verify("s3cret", "evt-1", headers["Webhook-Timestamp"], headers["Webhook-Signature"], body,
                    now=1_700_000_010)


@pytest.mark.parametrize(
    ("secret", "body", "now", "message"),
    [
        ("wrong", b"{}", 1_700_000_000, "does not match"),
        ("s3cret", b"{ }", 1_700_000_000, "does not match"),
        ("s3cret", b"{}", 1_700_000_301, "replay window"),
    ],
)
def test_tampered_or_stale_request_is_refused(secret, body, now, message):
    headers = webhooks.sign_headers("s3cret", "evt-1", b"{}", timestamp=1_700_000_000)
    with pytest.raises(webhooks.SignatureError, match=message):
        webhooks.verify(secret, "evt-1", headers["Webhook-Timestamp"], headers["Webhook-Signature"], body, now=now)


def test_rotated_secret_any_signature_may_match():
    headers = webhooks.sign_headers("new", "evt-2", b"{}", timestamp=100)
    old = webhooks.compute_signature("old", "evt-2", "100", b"{}")
    webhooks.verify("new", "evt-2", "100", f"{old} {headers['Webhook-Signature']}", b"{}", now=100)


def test_standard_webhooks_whsec_secret_is_base64_decoded():
    import base64
    import hashlib
    import hmac

    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    expected = "v1," + base64.b64encode(hmac.new(key, b"id.100.{}", hashlib.sha256).digest()).decode()
    assert webhooks.compute_signature(secret, "id", "100", b"{}") == expected


def test_an_overlong_webhook_id_is_refused():
    long_id = "x" * 200
    headers = webhooks.sign_headers("s", long_id, b"{}", timestamp=100)
    with pytest.raises(webhooks.SignatureError, match="longer than"):
        webhooks.verify("s", long_id, "100", headers["Webhook-Signature"], b"{}", now=100)
