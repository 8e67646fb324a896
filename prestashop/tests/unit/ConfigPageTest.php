<?php

class ConfigPageTest extends PsinforTestCase
{
    private function valid(array $input = [])
    {
        return $input + ['enabled' => true, 'url' => 'https://psinfor.example.com/', 'secret' => self::SECRET,
            'connection' => 'default', 'events' => ['order.created'], 'retention_days' => '14'];
    }

    private function submit(array $fields)
    {
        Tools::$input = ['submitPsinforSettings' => '1'] + $fields;
    }

    private function fields(array $values = [])
    {
        $values += ['enabled' => '1', 'url' => self::URL, 'secret' => self::SECRET, 'connection' => 'default',
            'events' => PsinforEvents::names(), 'retention_days' => '14'];
        $fields = [PsinforSettings::ENABLED => $values['enabled'], PsinforSettings::URL => $values['url'],
            PsinforSettings::SECRET => $values['secret'], PsinforSettings::CONNECTION => $values['connection'],
            PsinforSettings::RETENTION_DAYS => $values['retention_days']];
        foreach ($values['events'] as $event) {
            $fields['PSINFOR_EVENTS_' . PsinforEvents::formKey($event)] = 'on';
        }

        return $fields;
    }

    public function testValidValuesAreNormalised()
    {
        $result = PsinforConfigForm::validate($this->valid(['connection' => '']), false);
        $this->assertSame([], $result['errors']);
        $this->assertSame('https://psinfor.example.com', $result['values']['url']);
        $this->assertSame('default', $result['values']['connection']);
        $this->assertSame(14, $result['values']['retention_days']);
    }

    public function testTheReceiverUrlIsCheckedAndNeverCarriesCredentials()
    {
        $bad = ['', 'psinfor.example.com', 'ftp://psinfor.example.com', 'https://user:pw@psinfor.example.com',
            'https://psinfor.example.com/?x=1', 'https://psinfor.example.com/webhooks/prestashop/default',
            'javascript:alert(1)', 'https://' . str_repeat('a', 300) . '.com'];
        foreach ($bad as $url) {
            $this->assertCount(1, PsinforConfigForm::validate($this->valid(['url' => $url]), true)['errors'], $url);
        }
        foreach (['http://127.0.0.1:8000', 'https://erp.example.com/psinfor'] as $url) {
            $this->assertSame([], PsinforConfigForm::validate($this->valid(['url' => $url]), true)['errors'], $url);
        }
    }

    public function testTheSecretIsRequiredOnceAndCheckedWithoutBeingRepeated()
    {
        $this->assertCount(1, PsinforConfigForm::validate($this->valid(['secret' => '']), false)['errors']);
        $this->assertSame([], PsinforConfigForm::validate($this->valid(['secret' => '']), true)['errors']);
        $bad = ['short', 'has a space in the middle!', "line\nbreak-0123456789", 'whsec_!!notbase64!!!!!',
            'whsec_' . base64_encode('too short'), str_repeat('x', 256), "latin1-\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9\xe9"];
        foreach ($bad as $secret) {
            $errors = PsinforConfigForm::validate($this->valid(['secret' => $secret]), true)['errors'];
            $this->assertCount(1, $errors, $secret);
            $this->assertStringNotContainsString($secret, $errors[0]);
        }
        $this->assertSame([], PsinforConfigForm::validate($this->valid([
            'secret' => 'whsec_' . base64_encode(random_bytes(32))]), false)['errors']);
    }

    public function testConnectionEventsAndRetentionAreChecked()
    {
        $this->assertCount(1, PsinforConfigForm::validate($this->valid(['connection' => 'a/b']), true)['errors']);
        $unknownEvent = $this->valid(['events' => ['order.deleted']]);
        $this->assertCount(1, PsinforConfigForm::validate($unknownEvent, true)['errors']);
        $this->assertCount(1, PsinforConfigForm::validate($this->valid(['retention_days' => '0']), true)['errors']);
        $this->assertCount(1, PsinforConfigForm::validate($this->valid(['retention_days' => 'x']), true)['errors']);
        $this->assertSame(['order.created'], PsinforConfigForm::validate($this->valid(['events' => ['order.created',
            'order.created']]), true)['values']['events']);
    }

    public function testASwitchedOffShopNeedsNoReceiver()
    {
        $off = ['enabled' => false, 'url' => '', 'secret' => ''];
        $this->assertSame([], PsinforConfigForm::validate($off, false)['errors']);
    }

    public function testSavingStoresTheSettingsAndTheSecretIsNeverShownAgain()
    {
        $module = $this->installedModule();
        $this->submit($this->fields(['events' => ['order.created', 'order.status_changed']]));
        $page = $module->getContent();
        $this->assertStringContainsString('Settings saved.', $page);
        $settings = PsinforSettings::forShop(1);
        $this->assertSame([true, self::URL, self::SECRET, ['order.created', 'order.status_changed']],
            [$settings['enabled'], $settings['url'], $settings['secret'], $settings['events']]);
        $this->assertStringNotContainsString(self::SECRET, $page);
        $this->assertStringContainsString('A secret is saved', $page);

        // saved again with the field left empty: the secret stays, and is still not shown
        Tools::$input = [];
        $this->submit($this->fields(['secret' => '', 'connection' => 'outlet']));
        $page = $module->getContent();
        $this->assertSame([self::SECRET, 'outlet'], [PsinforSettings::forShop(1)['secret'],
            PsinforSettings::forShop(1)['connection']]);
        $this->assertStringNotContainsString(self::SECRET, $page);
    }

    public function testAnInvalidSubmissionSavesNothingAndEscapesItsMessages()
    {
        $module = $this->installedModule();
        $this->submit($this->fields(['url' => '<script>x</script>', 'secret' => 'short']));
        $page = $module->getContent();
        $this->assertStringContainsString('alert-danger', $page);
        $this->assertStringNotContainsString('<script>', $page);
        $this->assertSame('', PsinforSettings::forShop(1)['url']);
        $this->assertSame('', PsinforSettings::forShop(1)['secret']);
    }

    public function testMultistoreTheEditedShopGetsItsOwnValues()
    {
        Shop::$featureActive = true;
        Shop::$groups = [1 => 1, 2 => 1];
        $module = $this->installedModule();
        Shop::setContext(Shop::CONTEXT_ALL);
        $this->submit($this->fields());
        $module->getContent();
        Shop::setContext(Shop::CONTEXT_SHOP, 2);
        Tools::$input = [];
        $this->submit($this->fields(['connection' => 'outlet', 'secret' => '']));
        $page = $module->getContent();
        $this->assertStringContainsString('apply to the shop', $page);
        $this->assertSame(['default', 'outlet'], [PsinforSettings::forShop(1)['connection'],
            PsinforSettings::forShop(2)['connection']]);
        $this->assertSame(self::SECRET, PsinforSettings::forShop(2)['secret']);
    }

    public function testTheTestEventShowsTheReceiversAnswer()
    {
        $module = $this->installedModule();
        Tools::$input = ['submitPsinforTest' => '1'];
        $this->assertStringContainsString('Save a receiver URL', $module->getContent());
        $this->configure();
        $this->transport->script = [RecordingTransport::answer(200, '{"pong": true}'),
            RecordingTransport::answer(401, '{"error": "invalid signature"}')];
        $page = $module->getContent();
        $this->assertStringContainsString('alert-success', $page);
        $this->assertStringContainsString('answered HTTP 200: {&quot;pong&quot;: true}', $page);
        $page = $module->getContent();
        $this->assertStringContainsString('alert-danger', $page);
        $this->assertStringContainsString('HTTP 401', $page);
        $this->assertStringContainsString('WEBHOOK_SECRET', $page);
        $this->assertSame([], $this->rows());
    }

    public function testSendPendingNowDoesNotWaitForTheBackoff()
    {
        $module = $this->installedModule();
        $this->configure();
        $module->hookActionValidateOrder(['order' => new Order(['id' => 42, 'id_shop' => 1])]);
        $this->transport->script = [RecordingTransport::answer(0)];
        $module->deliverAfterResponse();
        $this->assertSame(1, $this->outbox()->stats()['retrying']);
        Tools::$input = ['submitPsinforSendNow' => '1'];
        $page = $module->getContent();
        $this->assertStringContainsString('Delivered 1, to retry 0, failed 0', $page);
        $this->assertSame('delivered', $this->rows()[0]['status']);
    }

    public function testTheOutboxPanelShowsFailuresAndTheyCanBeQueuedAgain()
    {
        $module = $this->installedModule();
        $this->configure();
        $module->hookActionValidateOrder(['order' => new Order(['id' => 42, 'id_shop' => 1])]);
        $this->transport->script = [RecordingTransport::answer(404, '{"error": "unknown connection"}')];
        $module->deliverAfterResponse();
        $page = $module->getContent();
        $this->assertStringContainsString('Failed, not retried: 1', $page);
        $this->assertStringContainsString('unknown connection', $page);
        $this->assertStringContainsString('Send pending now', $page);
        $this->assertStringContainsString('controller=cron', $page);
        $this->assertStringContainsString(PsinforSettings::cronToken(), $page);
        Tools::$input = ['submitPsinforRetryFailed' => '1'];
        $this->assertStringContainsString('1 failed event(s) queued again', $module->getContent());
        $this->assertSame('pending', $this->rows()[0]['status']);
    }
}
