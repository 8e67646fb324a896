<?php

class OutboxTest extends PsinforTestCase
{
    /** @var PsinforOutbox */
    private $box;

    protected function setUp(): void
    {
        parent::setUp();
        $this->box = new PsinforOutbox();
        $this->assertTrue($this->box->createTable());
    }

    private function add($event = 'order.created', $idShop = 1, $at = null)
    {
        $body = PsinforEvents::body($event, $idShop, ['id_order' => 1], $at ?: $this->now);

        return $this->box->enqueue($idShop, $event, PsinforSigner::newWebhookId(), $body, $at ?: $this->now);
    }

    public function testARowIsPendingAndDueAtOnce()
    {
        $id = $this->add();
        $row = $this->box->find($id);
        $this->assertSame('pending', $row['status']);
        $this->assertSame(0, (int) $row['attempts']);
        $due = array_column($this->box->due($this->now, 10), 'id_psinfor_outbox');
        $this->assertSame([$id], array_map('intval', $due));
    }

    public function testTheWebhookIdIsUniquePerRow()
    {
        $this->box->enqueue(1, 'order.created', 'msg_same', '{}', $this->now);
        $this->expectException(PrestaShopDatabaseException::class);
        $this->box->enqueue(1, 'order.created', 'msg_same', '{}', $this->now);
    }

    public function testAClaimedRowIsNotClaimedAgainUntilItsLeaseEnds()
    {
        $id = $this->add();
        $this->assertTrue($this->box->claim($id, $this->now));
        $this->assertFalse($this->box->claim($id, $this->now + 1));
        $this->assertSame([], $this->box->due($this->now + 1, 10));
        $this->assertTrue($this->box->claim($id, $this->now + PsinforOutbox::LEASE_SECONDS));
    }

    public function testARetryWaitsForItsTimeUnlessSentNow()
    {
        $id = $this->add();
        $this->box->claim($id, $this->now);
        $this->box->markRetry($id, 503, 'HTTP 503', $this->now + 60, $this->now);
        $row = $this->box->find($id);
        $this->assertSame(['pending', 1, 503, 'HTTP 503', 0], [$row['status'], (int) $row['attempts'],
            (int) $row['last_status'], $row['last_error'], (int) $row['locked_until']]);
        $this->assertSame([], $this->box->due($this->now + 59, 10));
        $this->assertCount(1, $this->box->due($this->now + 59, 10, true));
        $this->assertCount(1, $this->box->due($this->now + 60, 10));
    }

    public function testDeliveredAndFailedRowsAreNeverDueAgain()
    {
        $delivered = $this->add();
        $failed = $this->add();
        $this->box->markDelivered($delivered, 202, $this->now);
        $this->box->markFailed($failed, 401, 'HTTP 401', $this->now);
        $this->assertSame([], $this->box->due($this->now + 86400, 10, true));
        $this->assertFalse($this->box->claim($delivered, $this->now));
        $this->assertSame('failed', $this->box->find($failed)['status']);
        $this->assertNull($this->box->find($delivered)['last_error']);
    }

    public function testPruneDeletesOldDeliveredAndFailedRowsButKeepsEveryPendingOne()
    {
        $old = $this->now - 20 * 86400;
        $oldDelivered = $this->add('order.created', 1, $old);
        $this->box->markDelivered($oldDelivered, 202, $old);
        $oldFailed = $this->add('order.created', 1, $old);
        $this->box->markFailed($oldFailed, 404, 'HTTP 404', $old);
        $oldPending = $this->add('order.created', 1, $old);
        $this->box->markRetry($oldPending, 0, 'no answer', $old + 60, $old);
        $recentDelivered = $this->add();
        $this->box->markDelivered($recentDelivered, 202, $this->now - 86400);

        $this->assertSame(2, $this->box->prune(14, $this->now));
        $this->assertEqualsCanonicalizing([$oldPending, $recentDelivered],
            array_map('intval', array_column($this->rows(), 'id_psinfor_outbox')));
    }

    public function testFailedRowsCanBeQueuedAgainPerShop()
    {
        $shop1 = $this->add('order.created', 1);
        $shop2 = $this->add('order.created', 2);
        $this->box->markFailed($shop1, 401, 'HTTP 401', $this->now);
        $this->box->markFailed($shop2, 401, 'HTTP 401', $this->now);
        $this->assertSame(1, $this->box->requeueFailed(2, $this->now + 5));
        $this->assertSame(['failed', 'pending'],
            [$this->box->find($shop1)['status'], $this->box->find($shop2)['status']]);
        $this->assertCount(1, $this->box->due($this->now + 5, 10));
    }

    public function testStatsCountEachStatusAndShowTheLatestError()
    {
        $a = $this->add();
        $b = $this->add();
        $c = $this->add();
        $this->add('customer.created', 2);
        $this->box->markRetry($a, 0, 'no answer: Connection refused', $this->now + 60, $this->now);
        $this->box->markFailed($b, 404, 'HTTP 404: unknown connection', $this->now + 1);
        $this->box->markDelivered($c, 202, $this->now);
        $stats = $this->box->stats();
        $this->assertSame([2, 1, 1, 1, $this->now], [$stats['pending'], $stats['retrying'], $stats['failed'],
            $stats['delivered'], $stats['oldest_pending_at']]);
        $this->assertSame('HTTP 404: unknown connection', $stats['last_error']['last_error']);
        $this->assertSame(1, $this->box->stats(2)['pending']);
        $this->assertNull($this->box->stats(2)['last_error']);
        $this->assertCount(1, $this->box->rows('failed', 10));
    }

    public function testErrorsAreStoredShortAndOnOneLine()
    {
        $id = $this->add();
        $this->box->markRetry($id, 500, "HTTP 500:\n" . str_repeat('x', 1000) . " it's", $this->now + 60, $this->now);
        $error = $this->box->find($id)['last_error'];
        $this->assertSame(PsinforOutbox::ERROR_LENGTH, strlen($error));
        $this->assertStringStartsWith('HTTP 500: xxx', $error);
    }

    public function testTheTableIsDropped()
    {
        $this->assertTrue(Db::getInstance()->tableExists(PsinforOutbox::table()));
        $this->assertTrue($this->box->dropTable());
        $this->assertFalse(Db::getInstance()->tableExists(PsinforOutbox::table()));
    }
}
