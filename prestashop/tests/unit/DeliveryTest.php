<?php

class DeliveryTest extends PsinforTestCase
{
    /** @var PsinforOutbox */
    private $box;

    protected function setUp(): void
    {
        parent::setUp();
        $this->box = new PsinforOutbox();
        $this->box->createTable();
        $this->configure();
    }

    private function delivery()
    {
        return new PsinforDelivery($this->box, $this->transport, null, function () {
            return $this->now;
        });
    }

    private function add($idShop = 1, $idOrder = 1)
    {
        $body = PsinforEvents::body('order.created', $idShop, ['id_order' => $idOrder], $this->now);

        return $this->box->enqueue($idShop, 'order.created', PsinforSigner::newWebhookId(), $body, $this->now);
    }

    public function testA202AcknowledgesTheRow()
    {
        $id = $this->add();
        $summary = $this->delivery()->run();
        $this->assertSame(1, $summary['delivered']);
        [$request] = $this->transport->requests;
        $this->assertSame(self::URL . '/webhooks/prestashop/default', $request['url']);
        $this->assertSigned($request);
        $this->assertSame($this->box->find($id)['body'], $request['body']);
        $this->assertSame((string) $this->now, $request['headers']['Webhook-Timestamp']);
        $this->assertSame('delivered', $this->box->find($id)['status']);
        $this->delivery()->run(['ignore_schedule' => true]);
        $this->assertCount(1, $this->transport->requests);
    }

    public function testARetryReusesTheWebhookIdAndSignsAgainAtItsOwnTime()
    {
        $id = $this->add();
        $this->transport->script = [RecordingTransport::answer(503, 'busy')];
        $this->delivery()->run();
        $row = $this->box->find($id);
        $this->assertSame(['pending', 1, $this->now + 60], [$row['status'], (int) $row['attempts'],
            (int) $row['next_attempt_at']]);
        $this->assertSame('HTTP 503: busy', $row['last_error']);

        $this->now += 30;
        $this->delivery()->run();
        $this->assertCount(1, $this->transport->requests);
        $this->now += 30;
        $this->delivery()->run();
        [$first, $second] = $this->transport->requests;
        $this->assertSame($first['headers']['Webhook-Id'], $second['headers']['Webhook-Id']);
        $this->assertSame($first['body'], $second['body']);
        $this->assertNotSame($first['headers']['Webhook-Timestamp'], $second['headers']['Webhook-Timestamp']);
        $this->assertNotSame($first['headers']['Webhook-Signature'], $second['headers']['Webhook-Signature']);
        $this->assertSigned($second);
        $this->assertSame('delivered', $this->box->find($id)['status']);
    }

    public function testBackoffGrowsWithEachFailedAttempt()
    {
        $id = $this->add();
        $this->transport->default = RecordingTransport::answer(0);
        $waits = [];
        for ($i = 0; $i < 5; ++$i) {
            $this->delivery()->run();
            $next = (int) $this->box->find($id)['next_attempt_at'];
            $waits[] = $next - $this->now;
            $this->now = $next;
        }
        $this->assertSame([60, 120, 240, 480, 960], $waits);
        $this->assertSame(5, (int) $this->box->find($id)['attempts']);
        $this->assertSame('pending', $this->box->find($id)['status']);
    }

    public function testA429WaitsAtLeastItsRetryAfter()
    {
        $id = $this->add();
        $this->transport->script = [RecordingTransport::answer(429, 'slow down', '900')];
        $this->assertSame(1, $this->delivery()->run()['retrying']);
        $this->assertSame($this->now + 900, (int) $this->box->find($id)['next_attempt_at']);
    }

    public function testA4xxIsNotRetriedAndSaysWhy()
    {
        $id = $this->add();
        $this->transport->script = [RecordingTransport::answer(401, '{"error": "invalid signature"}')];
        $summary = $this->delivery()->run();
        $this->assertSame(1, $summary['failed']);
        $row = $this->box->find($id);
        $this->assertSame('failed', $row['status']);
        $this->assertSame(401, (int) $row['last_status']);
        $this->assertStringContainsString('invalid signature', $row['last_error']);
        $this->assertStringContainsString('WEBHOOK_SECRET', $row['last_error']);
        $this->assertStringContainsString('invalid signature', $summary['errors'][0]);

        $this->now += 86400;
        $this->delivery()->run(['ignore_schedule' => true]);
        $this->assertCount(1, $this->transport->requests);
    }

    public function testADownReceiverCostsOneAttemptPerRunNotOnePerRow()
    {
        $ids = [$this->add(1, 1), $this->add(1, 2), $this->add(1, 3)];
        $this->transport->default = RecordingTransport::answer(0);
        $summary = $this->delivery()->run();
        $this->assertSame([0, 1, 0, 2], [$summary['delivered'], $summary['retrying'], $summary['failed'],
            $summary['deferred']]);
        $this->assertCount(1, $this->transport->requests);
        $this->assertSame([1, 0, 0], array_map(function ($id) {
            return (int) $this->box->find($id)['attempts'];
        }, $ids));
        $this->assertStringContainsString('Connection refused', $summary['errors'][0]);

        // back up: the next run sends all of them, the waiting ones first in line
        $this->transport->default = RecordingTransport::answer(202, '{}');
        $this->now += 60;
        $this->assertSame(3, $this->delivery()->run()['delivered']);
    }

    public function testEachShopIsSentToItsOwnReceiverWithItsOwnSecret()
    {
        Shop::$featureActive = true;
        Shop::$groups = [1 => 1, 2 => 1];
        $this->configure(['url' => 'https://eu.psinfor.test', 'secret' => 'shop-two-secret-abcdefgh',
            'connection' => 'outlet'], 2);
        $this->add(1, 1);
        $this->add(2, 7);
        $this->assertSame(2, $this->delivery()->run()['delivered']);
        [$one, $two] = $this->transport->requests;
        $this->assertSame(self::URL . '/webhooks/prestashop/default', $one['url']);
        $this->assertSame('https://eu.psinfor.test/webhooks/prestashop/outlet', $two['url']);
        $this->assertSigned($one);
        $this->assertSigned($two, 'shop-two-secret-abcdefgh');
        $this->assertSame(2, json_decode($two['body'], true)['shop_id']);
    }

    public function testAShopWithoutAReceiverKeepsItsRowsPending()
    {
        Configuration::reset();
        $id = $this->add();
        $summary = $this->delivery()->run();
        $this->assertSame(1, $summary['deferred']);
        $this->assertSame([], $this->transport->requests);
        $this->assertSame(['pending', 0], [$this->box->find($id)['status'], (int) $this->box->find($id)['attempts']]);
    }

    public function testARunStopsAtItsLimitAndCanBeLimitedToSomeRows()
    {
        $ids = [$this->add(1, 1), $this->add(1, 2), $this->add(1, 3)];
        $this->assertSame(1, $this->delivery()->run(['only_ids' => [$ids[2]]])['delivered']);
        $this->assertSame(1, $this->delivery()->run(['limit' => 1])['delivered']);
        $this->assertSame(['delivered', 'pending', 'delivered'], array_map(function ($id) {
            return $this->box->find($id)['status'];
        }, [$ids[0], $ids[1], $ids[2]]));
    }

    public function testThePingIsSignedAndNotStored()
    {
        $this->transport->script = [RecordingTransport::answer(200, '{"pong": true}')];
        $answer = $this->delivery()->ping(1, PsinforSettings::forShop(1));
        $this->assertTrue($answer['ok']);
        $this->assertSame('{"pong": true}', $answer['body']);
        [$request] = $this->transport->requests;
        $this->assertSigned($request);
        $this->assertSame(['event' => 'ping', 'shop_id' => 1, 'occurred_at' => date(DATE_ATOM, $this->now)],
            json_decode($request['body'], true));
        $this->assertSame([], $this->rows());
    }
}
