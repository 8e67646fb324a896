<?php

class SignerTest extends PsinforTestCase
{
    public function testStandardWebhooksReferenceVector()
    {
        // The example of the Standard Webhooks specification (a whsec_ secret is base64-decoded).
        $signature = PsinforSigner::signature(
            'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
            'msg_p5jXN8AQM9LWM0D4loKWxJek',
            1614265330,
            '{"test": 2432232314}'
        );
        $this->assertSame('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=', $signature);
    }

    public function testAPlainSecretIsUsedAsItsBytes()
    {
        $body = '{"event":"order.created","shop_id":1,"id_order":7}';
        $expected = 'v1,' . base64_encode(hash_hmac('sha256', 'msg_1.1700000000.' . $body, 'plain-secret-éà', true));
        $this->assertSame($expected, PsinforSigner::signature('plain-secret-éà', 'msg_1', '1700000000', $body));
    }

    public function testAWhsecSecretThatIsNotBase64IsUsedAsItIs()
    {
        // The receiver falls back to the raw bytes when the rest is not valid base64; so must the signer.
        foreach (['whsec_not base64!', 'whsec_abc', 'whsec_ab=c'] as $secret) {
            $this->assertSame($secret, PsinforSigner::key($secret));
        }
        $this->assertSame('hello', PsinforSigner::key('whsec_aGVsbG8='));
    }

    public function testHeadersCarryTheIdTheTimeOfTheAttemptAndTheSignature()
    {
        $headers = PsinforSigner::headers(self::SECRET, 'msg_abc', '{"a":1}', 1700000123);
        $this->assertSame('msg_abc', $headers['Webhook-Id']);
        $this->assertSame('1700000123', $headers['Webhook-Timestamp']);
        $this->assertSame(PsinforSigner::signature(self::SECRET, 'msg_abc', 1700000123, '{"a":1}'),
            $headers['Webhook-Signature']);
        $this->assertSame('application/json', $headers['Content-Type']);
        $this->assertSigned(['headers' => $headers, 'body' => '{"a":1}']);
    }

    public function testASignatureChangesWithEveryByteOfTheBody()
    {
        $a = PsinforSigner::signature(self::SECRET, 'msg_1', 1, '{"id_order":1}');
        $b = PsinforSigner::signature(self::SECRET, 'msg_1', 1, '{"id_order":2}');
        $c = PsinforSigner::signature(self::SECRET, 'msg_1', 2, '{"id_order":1}');
        $this->assertCount(3, array_unique([$a, $b, $c]));
    }

    public function testWebhookIdsAreUniqueAndShort()
    {
        $ids = [];
        for ($i = 0; $i < 100; ++$i) {
            $ids[] = PsinforSigner::newWebhookId();
        }
        $this->assertCount(100, array_unique($ids));
        $this->assertMatchesRegularExpression('/^msg_[0-9a-f]{32}$/', $ids[0]);
    }

    public function testAnIdLongerThanTheReceiverAllowsIsRefused()
    {
        $this->expectException(InvalidArgumentException::class);
        PsinforSigner::headers(self::SECRET, str_repeat('x', 129), '{}', 1);
    }
}
