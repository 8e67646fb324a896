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
 * One HTTP POST with cURL, bounded in time, that never throws.
 *
 * Invariant: whatever happens on the wire — refused connection, DNS failure, TLS error, timeout, a receiver that
 * answers slowly — post() returns an answer array (status 0 when there was none); redirects are not followed
 * (a POST turned into a GET would be lost) and only http/https are spoken.
 */
class PsinforTransport
{
    const USER_AGENT = 'psinfor-prestashop-module';
    const MAX_BODY = 2048;

    /** @var float */
    private $connectTimeout;

    /** @var float */
    private $timeout;

    /**
     * @param float $connectTimeout seconds to establish the connection
     * @param float $timeout seconds for the whole exchange
     */
    public function __construct($connectTimeout = 2.0, $timeout = 5.0)
    {
        $this->connectTimeout = (float) $connectTimeout;
        $this->timeout = (float) $timeout;
    }

    /**
     * @param string $url
     * @param array<string, string> $headers
     * @param string $body
     *
     * @return array ['status' => int, 'body' => string (first 2 KiB), 'error' => string|null,
     *               'retry_after' => string|null]
     */
    public function post($url, array $headers, $body)
    {
        $answer = ['status' => 0, 'body' => '', 'error' => null, 'retry_after' => null];
        if (!function_exists('curl_init')) {
            $answer['error'] = 'the PHP cURL extension is not installed';

            return $answer;
        }
        try {
            $lines = [];
            foreach ($headers as $name => $value) {
                $lines[] = $name . ': ' . $value;
            }
            $lines[] = 'Expect:'; // no "100-continue" round trip
            $retryAfter = null;
            $handle = curl_init();
            curl_setopt_array($handle, [
                CURLOPT_URL => (string) $url,
                CURLOPT_POST => true,
                CURLOPT_POSTFIELDS => (string) $body,
                CURLOPT_HTTPHEADER => $lines,
                CURLOPT_RETURNTRANSFER => true,
                CURLOPT_FOLLOWLOCATION => false,
                CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
                CURLOPT_CONNECTTIMEOUT_MS => (int) round($this->connectTimeout * 1000),
                CURLOPT_TIMEOUT_MS => (int) round($this->timeout * 1000),
                CURLOPT_NOSIGNAL => true,
                CURLOPT_SSL_VERIFYPEER => true,
                CURLOPT_SSL_VERIFYHOST => 2,
                CURLOPT_USERAGENT => self::USER_AGENT,
                CURLOPT_HEADERFUNCTION => function ($curl, $line) use (&$retryAfter) {
                    if (stripos($line, 'retry-after:') === 0) {
                        $retryAfter = trim(substr($line, strlen('retry-after:')));
                    }

                    return strlen($line);
                },
            ]);
            $response = curl_exec($handle);
            if ($response === false) {
                $answer['error'] = 'no answer: ' . curl_error($handle) . ' (cURL ' . curl_errno($handle) . ')';
            } else {
                $answer['status'] = (int) curl_getinfo($handle, CURLINFO_HTTP_CODE);
                $answer['body'] = substr((string) $response, 0, self::MAX_BODY);
                $answer['retry_after'] = $retryAfter;
            }
            curl_close($handle);
        } catch (Throwable $e) {
            $answer['status'] = 0;
            $answer['error'] = 'no answer: ' . get_class($e) . ': ' . $e->getMessage();
        }

        return $answer;
    }
}
