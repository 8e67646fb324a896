<?php

class ModuleTest extends PsinforTestCase
{
    public function testInstallCreatesTheOutboxRegistersTheHooksAndSetsDefaults()
    {
        $module = $this->installedModule();
        $this->assertTrue(Db::getInstance()->tableExists(PsinforOutbox::table()));
        $this->assertSame(PsinforEvents::hooks(), $module->registeredHooks);
        $this->assertSame(implode(',', PsinforEvents::names()), Configuration::getGlobalValue(PsinforSettings::EVENTS));
        $token = Configuration::getGlobalValue(PsinforSettings::CRON_TOKEN);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{48}$/', $token);
        $this->assertSame('default', PsinforSettings::forShop(1)['connection']);
    }

    public function testUninstallDropsTheOutboxAndForgetsTheSettings()
    {
        $module = $this->installedModule();
        $this->configure();
        $this->assertTrue($module->uninstall());
        $this->assertFalse(Db::getInstance()->tableExists(PsinforOutbox::table()));
        foreach (PsinforSettings::keys() as $key) {
            $this->assertArrayNotHasKey($key, Configuration::$values, $key);
        }
    }

    public function testANewOrderIsWrittenInTheRequestAndSentOnlyAfterTheResponse()
    {
        $module = $this->installedModule();
        $this->configure();
        $module->hookActionValidateOrder(['order' => new Order(['id' => 42, 'id_shop' => 1]),
            'customer' => new Customer(['id' => 3])]);
        $this->assertSame([], $this->transport->requests, 'nothing may be sent while the hook runs');
        [$row] = $this->rows();
        $this->assertSame(['order.created', 'pending'], [$row['event'], $row['status']]);
        $this->assertSame(['event' => 'order.created', 'shop_id' => 1, 'id_order' => 42,
            'occurred_at' => date(DATE_ATOM, $this->now)], json_decode($row['body'], true));

        $module->deliverAfterResponse();
        [$request] = $this->transport->requests;
        $this->assertSame($row['body'], $request['body']);
        $this->assertSame($row['webhook_id'], $request['headers']['Webhook-Id']);
        $this->assertSigned($request);
        $this->assertSame('delivered', $this->rows()[0]['status']);
    }

    public function testAReceiverThatIsDownNeverRaisesIntoTheHookNorTheResponse()
    {
        $module = $this->installedModule();
        $this->configure(['url' => 'http://127.0.0.1:' . self::freePort()]);
        $module->setTransport(new PsinforTransport(0.5, 1.0)); // the real one, to a closed port
        $module->hookActionValidateOrder(['order' => new Order(['id' => 42, 'id_shop' => 1])]);
        $module->deliverAfterResponse();
        $row = $this->rows()[0];
        $this->assertSame(['pending', 1, 0], [$row['status'], (int) $row['attempts'], (int) $row['last_status']]);
        $this->assertStringStartsWith('no answer: ', $row['last_error']);
        $this->assertSame($this->now + 60, (int) $row['next_attempt_at']);
    }

    public function testABrokenDatabaseNeverRaisesIntoTheHookEither()
    {
        $module = $this->installedModule();
        $this->configure();
        Db::getInstance()->failing = true;
        $this->assertSame([], $module->handleHook('actionValidateOrder', ['order' => new Order(['id' => 42,
            'id_shop' => 1])]));
        $module->hookActionObjectCustomerAddAfter(['object' => new Customer(['id' => 3, 'id_shop' => 1])]);
        $module->deliverAfterResponse();
        $this->assertCount(2, PrestaShopLogger::$logs);
        $this->assertStringContainsString('not recorded', PrestaShopLogger::$logs[0]['message']);
        $this->assertStringNotContainsString(self::SECRET, json_encode(PrestaShopLogger::$logs));
        $this->assertSame([], $this->transport->requests);
    }

    public function testNothingIsRecordedUntilTheShopIsConfiguredOrWhenAnEventIsOff()
    {
        $module = $this->installedModule();
        $module->hookActionValidateOrder(['order' => new Order(['id' => 1, 'id_shop' => 1])]);
        $this->configure(['enabled' => false]);
        $module->hookActionValidateOrder(['order' => new Order(['id' => 2, 'id_shop' => 1])]);
        $this->configure(['events' => ['customer.created']]);
        $module->hookActionValidateOrder(['order' => new Order(['id' => 3, 'id_shop' => 1])]);
        $this->assertSame([], $this->rows());
        $module->hookActionCustomerAccountAdd(['newCustomer' => new Customer(['id' => 3, 'id_shop' => 1])]);
        $this->assertCount(1, $this->rows());
    }

    public function testOneChangeSeenByTwoHooksIsOneEvent()
    {
        $module = $this->installedModule();
        $this->configure();
        $customer = new Customer(['id' => 3, 'id_shop' => 1]);
        $module->hookActionObjectCustomerAddAfter(['object' => $customer]);
        $module->hookActionCustomerAccountAdd(['newCustomer' => $customer]);
        $module->hookActionUpdateQuantity(['id_product' => 27, 'id_product_attribute' => 40, 'quantity' => 2]);
        $module->hookActionObjectStockAvailableUpdateAfter(['object' => new StockAvailable(['id' => 1,
            'id_product' => 27, 'id_product_attribute' => 40, 'id_shop' => 1])]);
        $module->hookActionObjectCustomerUpdateAfter(['object' => $customer]);
        $this->assertSame(['customer.created', 'stock.changed', 'customer.updated'],
            array_column($this->rows(), 'event'));
        $module->deliverAfterResponse();
        // a new request may send the same change again
        $module->hookActionObjectCustomerUpdateAfter(['object' => $customer]);
        $this->assertCount(4, $this->rows());
    }

    public function testAStatusChangeAndARefundBelongToTheOrdersShop()
    {
        Shop::$featureActive = true;
        Shop::$groups = [1 => 1, 2 => 1];
        $module = $this->installedModule();
        $this->configure([], null);
        Db::getInstance()->execute('CREATE TABLE `ps_orders` (`id_order` INTEGER PRIMARY KEY, `id_shop` INTEGER)');
        Db::getInstance()->execute('INSERT INTO `ps_orders` VALUES (42, 2)');
        Shop::setContext(Shop::CONTEXT_ALL);
        $module->hookActionOrderStatusPostUpdate(['newOrderStatus' => new OrderState(['id' => 4]), 'id_order' => 42]);
        $module->hookActionObjectOrderSlipAddAfter(['object' => new OrderSlip(['id' => 3, 'id_order' => 42])]);
        $bodies = array_map(function ($row) {
            return json_decode($row['body'], true);
        }, $this->rows());
        $this->assertSame([2, 2], array_column($bodies, 'shop_id'));
        $this->assertSame([2, 2], array_map('intval', array_column($this->rows(), 'id_shop')));
        $this->assertSame(['id_order' => 42, 'new_state' => 4], ['id_order' => $bodies[0]['id_order'],
            'new_state' => $bodies[0]['new_state']]);
        $this->assertSame(3, $bodies[1]['id_order_slip']);
    }

    public function testMultistoreEachShopUsesItsOwnSettings()
    {
        Shop::$featureActive = true;
        Shop::$groups = [1 => 1, 2 => 1, 3 => 2];
        $module = $this->installedModule();
        $this->configure();                                     // defaults for every shop
        $this->configure(['connection' => 'outlet', 'secret' => 'outlet-secret-0123456789'], 2);
        $this->configure(['enabled' => false], 3);
        Shop::setContext(Shop::CONTEXT_SHOP, 2);
        $module->hookActionObjectAddressAddAfter(['object' => new Address(['id' => 5, 'id_customer' => 9])]);
        Shop::setContext(Shop::CONTEXT_SHOP, 3);
        $module->hookActionObjectAddressAddAfter(['object' => new Address(['id' => 6, 'id_customer' => 9])]);
        Shop::setContext(Shop::CONTEXT_SHOP, 1);
        $module->hookActionObjectProductUpdateAfter(['object' => new Product(['id' => 27])]);
        $module->deliverAfterResponse();
        $sent = array_map(function ($request) {
            return [$request['url'], json_decode($request['body'], true)['shop_id']];
        }, $this->transport->requests);
        $this->assertSame([
            [self::URL . '/webhooks/prestashop/outlet', 2],
            [self::URL . '/webhooks/prestashop/default', 1],
        ], $sent);
        $this->assertSigned($this->transport->requests[0], 'outlet-secret-0123456789');
    }

    public function testOnlyTheFirstRowsOfARequestAreSentAfterItTheRestWaitForTheCron()
    {
        $module = $this->installedModule();
        $this->configure();
        for ($id = 1; $id <= Psinfor::AFTER_RESPONSE_LIMIT + 5; ++$id) {
            $module->hookActionObjectProductUpdateAfter(['object' => new Product(['id' => $id])]);
        }
        $module->deliverAfterResponse();
        $this->assertCount(Psinfor::AFTER_RESPONSE_LIMIT, $this->transport->requests);
        $this->assertSame(5, $this->outbox()->stats()['pending']);
    }
}
