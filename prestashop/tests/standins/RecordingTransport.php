<?php
/**
 * A receiver stand-in at the HTTP edge: records each request and answers from a script (default 202).
 * The real cURL transport is tested against a real HTTP server in TransportTest.
 */
class RecordingTransport
{
    /** @var array[] each ['url' => string, 'headers' => array, 'body' => string] */
    public $requests = [];

    /** @var array[] answers still to give, first first */
    public $script = [];

    /** @var array the answer once the script is used up */
    public $default = ['status' => 202, 'body' => '{"event_id": 1, "duplicate": false}', 'error' => null,
        'retry_after' => null];

    public static function answer($status, $body = '', $retryAfter = null)
    {
        return ['status' => $status, 'body' => $body, 'error' => $status ? null : 'no answer: Connection refused',
            'retry_after' => $retryAfter];
    }

    public function post($url, array $headers, $body)
    {
        $this->requests[] = ['url' => $url, 'headers' => $headers, 'body' => $body];

        return $this->script ? array_shift($this->script) : $this->default;
    }
}
