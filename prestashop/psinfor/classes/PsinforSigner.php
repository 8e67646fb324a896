<?php
/**
 * psinfor — PrestaShop module: signed, ids-only webhooks to the psinfor middleware.
 *
 * @license AGPL-3.0-or-later
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

/**
 * Standard Webhooks signing, byte for byte what psinfor's receiver verifies
 * (integration/connectors/prestashop/webhooks.py).
 *
 * Invariant: the signature covers id + "." + timestamp + "." + the exact body bytes that are sent; the key is the
 * secret's bytes, or for a "whsec_<base64>" secret the decoded base64 (the rule the Python side applies).
 */
class PsinforSigner
{
    const HEADER_ID = 'Webhook-Id';
    const HEADER_TIMESTAMP = 'Webhook-Timestamp';
    const HEADER_SIGNATURE = 'Webhook-Signature';
    const MAX_ID_LENGTH = 128;
    const WHSEC_PREFIX = 'whsec_';

    /**
     * The HMAC key. A "whsec_" secret whose rest is canonical base64 is decoded (as Standard Webhooks libraries
     * do); anything else is used as it is, like the receiver does when the decoding fails.
     *
     * @param string $secret
     *
     * @return string raw key bytes
     */
    public static function key($secret)
    {
        $secret = (string) $secret;
        if (strpos($secret, self::WHSEC_PREFIX) === 0) {
            $rest = substr($secret, strlen(self::WHSEC_PREFIX));
            $decoded = self::strictBase64Decode($rest === false ? '' : $rest);
            if ($decoded !== null) {
                return $decoded;
            }
        }

        return $secret;
    }

    /**
     * Base64 as Python's b64decode(validate=True) accepts it: the alphabet, at most two "=" at the end, and a
     * length that is a multiple of four. Null when it is not.
     *
     * @param string $value
     *
     * @return string|null
     */
    public static function strictBase64Decode($value)
    {
        if (strlen($value) % 4 !== 0 || !preg_match('#^[A-Za-z0-9+/]*={0,2}$#', $value)) {
            return null;
        }
        $decoded = base64_decode($value, true);

        return $decoded === false ? null : $decoded;
    }

    /**
     * "v1," + base64(HMAC-SHA256(key, id.timestamp.body)).
     *
     * @param string $secret
     * @param string $webhookId
     * @param int|string $timestamp unix seconds
     * @param string $body the raw bytes that are sent
     *
     * @return string
     */
    public static function signature($secret, $webhookId, $timestamp, $body)
    {
        $signed = $webhookId . '.' . $timestamp . '.' . $body;

        return 'v1,' . base64_encode(hash_hmac('sha256', $signed, self::key($secret), true));
    }

    /**
     * The headers of one delivery attempt. The id is the outbox row's (reused on every retry); the timestamp is
     * the time of this attempt, so a retry hours later is still inside the receiver's replay window.
     *
     * @param string $secret
     * @param string $webhookId
     * @param string $body
     * @param int|null $timestamp
     *
     * @return array<string, string> header name => value
     */
    public static function headers($secret, $webhookId, $body, $timestamp = null)
    {
        if ($webhookId === '' || strlen($webhookId) > self::MAX_ID_LENGTH) {
            throw new InvalidArgumentException('a webhook id has 1 to ' . self::MAX_ID_LENGTH . ' characters');
        }
        $ts = (string) ($timestamp === null ? time() : (int) $timestamp);

        return [
            self::HEADER_ID => $webhookId,
            self::HEADER_TIMESTAMP => $ts,
            self::HEADER_SIGNATURE => self::signature($secret, $webhookId, $ts, $body),
            'Content-Type' => 'application/json',
        ];
    }

    /**
     * A new delivery id: unique per outbox row, and 36 characters (well under the 128 allowed).
     *
     * @return string
     */
    public static function newWebhookId()
    {
        return 'msg_' . bin2hex(random_bytes(16));
    }
}
