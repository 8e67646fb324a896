<?php

class RetryPolicyTest extends PsinforTestCase
{
    public function testOnlyA2xxAcknowledges()
    {
        foreach ([200, 201, 202, 204] as $status) {
            $this->assertSame(PsinforRetryPolicy::DELIVERED, PsinforRetryPolicy::outcome($status));
        }
    }

    public function testNoAnswerA429AndA5xxAreRetried()
    {
        foreach ([0, 429, 500, 502, 503, 504] as $status) {
            $this->assertSame(PsinforRetryPolicy::RETRY, PsinforRetryPolicy::outcome($status), (string) $status);
        }
    }

    public function testOther4xxAndRedirectsAreNotRetried()
    {
        foreach ([301, 302, 307, 400, 401, 403, 404, 405, 413, 422] as $status) {
            $this->assertSame(PsinforRetryPolicy::FAILED, PsinforRetryPolicy::outcome($status), (string) $status);
        }
    }

    public function testBackoffDoublesFromAMinuteUpToSixHours()
    {
        $delays = [];
        for ($attempts = 1; $attempts <= 12; ++$attempts) {
            $delays[] = PsinforRetryPolicy::delay($attempts);
        }
        $this->assertSame([60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600], $delays);
        $this->assertSame(21600, PsinforRetryPolicy::delay(1000));
    }

    public function testRetryAfterIsHonouredWhenLongerAndCapped()
    {
        $this->assertSame(600, PsinforRetryPolicy::delay(1, 600));
        $this->assertSame(240, PsinforRetryPolicy::delay(3, 10));
        $this->assertSame(21600, PsinforRetryPolicy::delay(1, 999999));
    }

    public function testRetryAfterIsReadAsSecondsOrAnHttpDate()
    {
        $now = 1700000000;
        $this->assertSame(120, PsinforRetryPolicy::parseRetryAfter('120', $now));
        $this->assertSame(30, PsinforRetryPolicy::parseRetryAfter(gmdate('D, d M Y H:i:s', $now + 30) . ' GMT', $now));
        $this->assertNull(PsinforRetryPolicy::parseRetryAfter(null, $now));
        $this->assertNull(PsinforRetryPolicy::parseRetryAfter('soon', $now));
    }
}
