<?php

class CronTest extends PsinforTestCase
{
    /** @var Psinfor */
    private $module;

    protected function setUp(): void
    {
        parent::setUp();
        $this->module = $this->installedModule();
        $this->configure();
    }

    private function failOnce()
    {
        $this->module->hookActionValidateOrder(['order' => new Order(['id' => 42, 'id_shop' => 1])]);
        $this->transport->script = [RecordingTransport::answer(502, 'bad gateway')];
        $this->module->deliverAfterResponse();
    }

    public function testWithoutTheRightTokenNothingHappens()
    {
        $this->failOnce();
        $this->now += 3600;
        foreach ([null, '', 'wrong', ['array'], substr(PsinforSettings::cronToken(), 0, -1)] as $token) {
            $this->assertSame(['status' => 403, 'body' => ['error' => 'invalid token']],
                $this->module->runCron($token));
        }
        $this->assertCount(1, $this->transport->requests);
    }

    public function testTheCronRetriesWhatIsDueAndPrunesOldRows()
    {
        $this->failOnce();
        $result = $this->module->runCron(PsinforSettings::cronToken());
        $this->assertSame(200, $result['status']);
        $this->assertSame(0, $result['body']['delivered'], 'not due yet: the backoff is kept');
        $this->assertSame(1, $result['body']['pending']);

        $this->now += 60;
        $result = $this->module->runCron(PsinforSettings::cronToken());
        $this->assertSame([1, 0], [$result['body']['delivered'], $result['body']['pending']]);
        $this->assertSame($this->transport->requests[0]['headers']['Webhook-Id'],
            $this->transport->requests[1]['headers']['Webhook-Id']);

        $this->now += 15 * 86400;
        $this->assertSame(1, $this->module->runCron(PsinforSettings::cronToken())['body']['pruned']);
        $this->assertSame([], $this->rows());
    }

    public function testADatabaseFailureIsA500WithoutDetails()
    {
        $token = PsinforSettings::cronToken();
        Db::getInstance()->failing = true;
        $this->assertSame(500, $this->module->runCron($token)['status']);
        $this->assertCount(1, PrestaShopLogger::$logs);
    }

    /**
     * @runInSeparateProcess
     * @preserveGlobalState disabled
     */
    public function testTheFrontControllerAnswersJson()
    {
        $this->failOnce();
        $this->now += 60;
        $controller = new PsinforCronModuleFrontController();
        $controller->module = $this->module;
        Tools::$input = ['token' => PsinforSettings::cronToken()];
        ob_start();
        $controller->initContent();
        $body = json_decode(ob_get_clean(), true);
        $this->assertSame(200, http_response_code());
        $this->assertSame(1, $body['delivered']);

        Tools::$input = ['token' => 'nope'];
        ob_start();
        $controller->initContent();
        $this->assertSame(['error' => 'invalid token'], json_decode(ob_get_clean(), true));
        $this->assertSame(403, http_response_code());
    }
}
