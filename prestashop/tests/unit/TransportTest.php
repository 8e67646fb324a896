<?php

/**
 * The real cURL transport against a real HTTP server (php -S on the loopback).
 */
class TransportTest extends PsinforTestCase
{
    /** @var resource|null */
    private static $server;

    /** @var string */
    private static $base;

    public static function setUpBeforeClass(): void
    {
        $port = self::freePort();
        self::$base = 'http://127.0.0.1:' . $port;
        $command = 'PHP_CLI_SERVER_WORKERS=4 exec ' . escapeshellarg(PHP_BINARY) . ' -S 127.0.0.1:' . $port . ' '
            . escapeshellarg(dirname(__DIR__) . '/standins/receiver.php');
        self::$server = proc_open($command, [0 => ['pipe', 'r'], 1 => ['file', '/dev/null', 'w'],
            2 => ['file', '/dev/null', 'w']], $pipes);
        for ($i = 0; $i < 100; ++$i) {
            $probe = @fsockopen('127.0.0.1', $port, $errno, $errstr, 0.1);
            if ($probe) {
                fclose($probe);

                return;
            }
            usleep(50000);
        }
        self::fail('php -S did not start');
    }

    public static function tearDownAfterClass(): void
    {
        if (self::$server) {
            proc_terminate(self::$server);
            proc_close(self::$server);
        }
    }

    public function testItPostsTheExactBodyWithTheHeaders()
    {
        $headers = PsinforSigner::headers(self::SECRET, 'msg_1', '{"event":"ping","shop_id":1}', $this->now);
        $answer = (new PsinforTransport())->post(self::$base . '/echo', $headers, '{"event":"ping","shop_id":1}');
        $this->assertSame(202, $answer['status']);
        $this->assertNull($answer['error']);
        $seen = json_decode($answer['body'], true);
        $this->assertSame('POST', $seen['method']);
        $this->assertSame('{"event":"ping","shop_id":1}', $seen['body']);
        $this->assertSame('msg_1', $seen['headers']['HTTP_WEBHOOK_ID']);
        $this->assertSame((string) $this->now, $seen['headers']['HTTP_WEBHOOK_TIMESTAMP']);
        $this->assertSame($headers['Webhook-Signature'], $seen['headers']['HTTP_WEBHOOK_SIGNATURE']);
        $this->assertSame('application/json', $seen['headers']['CONTENT_TYPE']);
    }

    public function testItReportsTheStatusAndRetryAfter()
    {
        $answer = (new PsinforTransport())->post(self::$base . '/status/429?retry_after=120', [], '{}');
        $this->assertSame([429, '120'], [$answer['status'], $answer['retry_after']]);
        $this->assertSame(503, (new PsinforTransport())->post(self::$base . '/status/503', [], '{}')['status']);
    }

    public function testARedirectIsNotFollowed()
    {
        $answer = (new PsinforTransport())->post(self::$base . '/redirect', [], '{}');
        $this->assertSame(302, $answer['status']);
        $this->assertSame(PsinforRetryPolicy::FAILED, PsinforRetryPolicy::outcome($answer['status']));
    }

    public function testARefusedConnectionIsAnAnswerNotAnException()
    {
        $answer = (new PsinforTransport())->post('http://127.0.0.1:' . self::freePort() . '/webhooks', [], '{}');
        $this->assertSame(0, $answer['status']);
        $this->assertStringStartsWith('no answer: ', $answer['error']);
    }

    public function testASlowReceiverIsCutOffByTheTimeout()
    {
        $answer = (new PsinforTransport(0.5, 0.3))->post(self::$base . '/slow', [], '{}');
        $this->assertSame(0, $answer['status']);
        $this->assertStringContainsString('timed out', $answer['error']);
    }

    public function testOnlyHttpIsSpoken()
    {
        $answer = (new PsinforTransport())->post('file:///etc/passwd', [], '{}');
        $this->assertSame(0, $answer['status']);
        $this->assertSame('', $answer['body']);
    }
}
