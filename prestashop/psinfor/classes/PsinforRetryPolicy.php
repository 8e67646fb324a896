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
 * What an answer means for an outbox row, and when to try again.
 *
 * Invariant: only a 2xx acknowledges a row. A 429, a 5xx or no answer at all (refused, timed out, TLS) is retried
 * with capped exponential backoff, forever until acknowledged (the receiver deduplicates on Webhook-Id, so a
 * retry is always safe). Any other answer (3xx, 4xx) cannot get better by itself: the row is failed, not retried,
 * and shown in the back office until someone fixes the cause and re-queues it.
 */
class PsinforRetryPolicy
{
    const DELIVERED = 'delivered';
    const RETRY = 'retry';
    const FAILED = 'failed';

    /** First retry after a minute, doubling up to six hours. */
    const BASE_DELAY = 60;
    const MAX_DELAY = 21600;

    /**
     * @param int $status the HTTP status, 0 when no answer came
     *
     * @return string one of DELIVERED, RETRY, FAILED
     */
    public static function outcome($status)
    {
        $status = (int) $status;
        if ($status >= 200 && $status < 300) {
            return self::DELIVERED;
        }
        if ($status === 0 || $status === 429 || $status >= 500) {
            return self::RETRY;
        }

        return self::FAILED;
    }

    /**
     * Seconds until the next attempt after `$attempts` failed ones: 60, 120, 240, ... capped at six hours.
     * A Retry-After from the receiver is honoured when it asks for longer (within the same cap).
     *
     * @param int $attempts attempts made so far (>= 1)
     * @param int|null $retryAfter seconds, from the answer's Retry-After header
     *
     * @return int
     */
    public static function delay($attempts, $retryAfter = null)
    {
        $exponent = max(0, min(20, (int) $attempts - 1));
        $delay = min(self::MAX_DELAY, self::BASE_DELAY * (1 << $exponent));
        if ($retryAfter !== null && (int) $retryAfter > $delay) {
            $delay = min(self::MAX_DELAY, (int) $retryAfter);
        }

        return (int) $delay;
    }

    /**
     * A Retry-After header value in seconds (delta-seconds or an HTTP date), or null.
     *
     * @param string|null $value
     * @param int $now
     *
     * @return int|null
     */
    public static function parseRetryAfter($value, $now)
    {
        $value = trim((string) $value);
        if ($value === '') {
            return null;
        }
        if (ctype_digit($value)) {
            return (int) $value;
        }
        $at = strtotime($value);

        return $at === false ? null : max(0, $at - (int) $now);
    }

    /**
     * The operator's hint for an answer that is not retried.
     *
     * @param int $status
     *
     * @return string
     */
    public static function hint($status)
    {
        $status = (int) $status;
        if ($status >= 300 && $status < 400) {
            return 'the receiver URL redirects: enter the final URL (https, no trailing path)';
        }
        switch ($status) {
            case 401:
                return 'signature refused: the secret must equal the connection\'s WEBHOOK_SECRET, '
                    . 'and the shop\'s clock must be right (5-minute window)';
            case 404:
                return 'unknown connection or wrong URL: check the connection name and the receiver URL';
            case 413:
            case 422:
            case 400:
                return 'the receiver refused the body: update the module or the middleware so they match';
        }

        return 'the receiver refused the event';
    }
}
