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
 * Sends outbox rows: sign at the time of the attempt, POST, record what the answer means.
 *
 * Invariants: a row is sent only after it was claimed; its outcome is written whatever the answer; a receiver
 * that failed in a run (no answer, 429, 5xx) gets nothing more in that run (its other rows wait for the next run,
 * untouched), so a dead receiver costs one timeout per run, not one per row; a run stops at its row limit and
 * time budget. Errors recorded for the back office never contain the secret.
 */
class PsinforDelivery
{
    const BATCH = 50;

    /** @var PsinforOutbox */
    private $outbox;

    /** @var object with post($url, array $headers, $body): array (PsinforTransport) */
    private $transport;

    /** @var callable int $idShop => settings array (PsinforSettings::forShop) */
    private $settingsFor;

    /** @var callable => int unix seconds */
    private $clock;

    /**
     * @param PsinforOutbox $outbox
     * @param object $transport
     * @param callable|null $settingsFor
     * @param callable|null $clock
     */
    public function __construct(PsinforOutbox $outbox, $transport, $settingsFor = null, $clock = null)
    {
        $this->outbox = $outbox;
        $this->transport = $transport;
        $this->settingsFor = $settingsFor ?: ['PsinforSettings', 'forShop'];
        $this->clock = $clock ?: 'time';
    }

    /**
     * Deliver due rows.
     *
     * @param array $options 'limit' (rows, default 200), 'budget' (seconds, default 50),
     *                       'ignore_schedule' (bool: "send pending now"), 'only_ids' (int[]: this request's rows)
     *
     * @return array ['delivered' => int, 'retrying' => int, 'failed' => int, 'deferred' => int,
     *               'errors' => string[]]
     */
    public function run(array $options = [])
    {
        $limit = isset($options['limit']) ? (int) $options['limit'] : 200;
        $budget = isset($options['budget']) ? (float) $options['budget'] : 50.0;
        $ignoreSchedule = !empty($options['ignore_schedule']);
        $onlyIds = isset($options['only_ids']) ? $options['only_ids'] : null;
        $summary = ['delivered' => 0, 'retrying' => 0, 'failed' => 0, 'deferred' => 0, 'errors' => []];
        $started = microtime(true);
        $down = [];
        $settingsCache = [];
        $afterId = 0;
        $attempted = 0;
        while ($attempted < $limit && microtime(true) - $started < $budget) {
            $rows = $this->outbox->due($this->now(), self::BATCH, $ignoreSchedule, $afterId, $onlyIds);
            if (!$rows) {
                break;
            }
            foreach ($rows as $row) {
                if ($attempted >= $limit || microtime(true) - $started >= $budget) {
                    break 2;
                }
                $afterId = (int) $row['id_psinfor_outbox'];
                $idShop = (int) $row['id_shop'];
                if (!isset($settingsCache[$idShop])) {
                    $settingsCache[$idShop] = call_user_func($this->settingsFor, $idShop);
                }
                $settings = $settingsCache[$idShop];
                if ($settings['url'] === '' || $settings['secret'] === '') {
                    ++$summary['deferred'];
                    self::note($summary, 'shop ' . $idShop . ': no receiver URL or secret configured');
                    continue;
                }
                $endpoint = PsinforSettings::endpoint($settings);
                if (isset($down[$endpoint])) {
                    ++$summary['deferred'];
                    continue;
                }
                if (!$this->outbox->claim($afterId, $this->now())) {
                    continue;
                }
                ++$attempted;
                $result = $this->attempt($row, $settings, $endpoint);
                if ($result['outcome'] === PsinforRetryPolicy::DELIVERED) {
                    ++$summary['delivered'];
                } elseif ($result['outcome'] === PsinforRetryPolicy::RETRY) {
                    ++$summary['retrying'];
                    $down[$endpoint] = true;
                    self::note($summary, $result['error']);
                } else {
                    ++$summary['failed'];
                    self::note($summary, $result['error']);
                }
            }
        }

        return $summary;
    }

    /**
     * One attempt at one claimed row, and its outcome written to the outbox.
     *
     * @param array $row
     * @param array $settings
     * @param string $endpoint
     *
     * @return array ['outcome' => string, 'status' => int, 'error' => string|null]
     */
    public function attempt(array $row, array $settings, $endpoint)
    {
        $id = (int) $row['id_psinfor_outbox'];
        $sentAt = $this->now();
        $headers = PsinforSigner::headers($settings['secret'], $row['webhook_id'], $row['body'], $sentAt);
        $answer = $this->transport->post($endpoint, $headers, $row['body']);
        $status = (int) $answer['status'];
        $outcome = PsinforRetryPolicy::outcome($status);
        $now = $this->now();
        $error = null;
        if ($outcome === PsinforRetryPolicy::DELIVERED) {
            $this->outbox->markDelivered($id, $status, $now);
        } elseif ($outcome === PsinforRetryPolicy::RETRY) {
            $retryAfter = PsinforRetryPolicy::parseRetryAfter(
                isset($answer['retry_after']) ? $answer['retry_after'] : null,
                $now
            );
            $delay = PsinforRetryPolicy::delay((int) $row['attempts'] + 1, $retryAfter);
            $error = self::describe($answer);
            $this->outbox->markRetry($id, $status, $error, $now + $delay, $now);
        } else {
            $error = self::describe($answer) . ' - ' . PsinforRetryPolicy::hint($status);
            $this->outbox->markFailed($id, $status, $error, $now);
        }

        return ['outcome' => $outcome, 'status' => $status, 'error' => $error];
    }

    /**
     * The "send test event": a signed ping, not stored, answered synchronously.
     *
     * @param int $idShop
     * @param array $settings
     *
     * @return array ['ok' => bool, 'status' => int, 'body' => string, 'error' => string|null, 'url' => string]
     */
    public function ping($idShop, array $settings)
    {
        $endpoint = PsinforSettings::endpoint($settings);
        $now = $this->now();
        $body = PsinforEvents::body(PsinforEvents::PING, $idShop, [], $now);
        $headers = PsinforSigner::headers($settings['secret'], PsinforSigner::newWebhookId(), $body, $now);
        $answer = $this->transport->post($endpoint, $headers, $body);
        $status = (int) $answer['status'];

        return [
            'ok' => $status >= 200 && $status < 300,
            'status' => $status,
            'body' => (string) $answer['body'],
            'error' => $answer['error'],
            'url' => $endpoint,
        ];
    }

    /**
     * @param array $answer from the transport
     *
     * @return string
     */
    public static function describe(array $answer)
    {
        if ((int) $answer['status'] === 0) {
            return $answer['error'] ? (string) $answer['error'] : 'no answer';
        }
        $body = trim(preg_replace('/\s+/', ' ', (string) $answer['body']));

        return 'HTTP ' . (int) $answer['status'] . ($body !== '' ? ': ' . substr($body, 0, 160) : '');
    }

    private function now()
    {
        return (int) call_user_func($this->clock);
    }

    private static function note(array &$summary, $error)
    {
        if ($error !== null && $error !== '' && count($summary['errors']) < 5
            && !in_array($error, $summary['errors'], true)) {
            $summary['errors'][] = $error;
        }
    }
}
