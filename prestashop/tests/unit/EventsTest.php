<?php

class EventsTest extends PsinforTestCase
{
    public function testEveryHookMapsToItsEventWithIdsOnly()
    {
        $cases = [
            ['actionValidateOrder', ['order' => new Order(['id' => 5, 'id_shop' => 2, 'total_paid' => '99.90'])],
                'order.created', ['id_order' => 5], 2],
            ['actionOrderStatusPostUpdate', ['newOrderStatus' => new OrderState(['id' => 4]), 'id_order' => 5],
                'order.status_changed', ['id_order' => 5, 'new_state' => 4], null],
            ['actionObjectOrderSlipAddAfter', ['object' => new OrderSlip(['id' => 3, 'id_order' => 5])],
                'order.refunded', ['id_order' => 5, 'id_order_slip' => 3], null],
            ['actionCustomerAccountAdd', ['newCustomer' => new Customer(['id' => 8, 'id_shop' => 1,
                'email' => 'a@b.c'])], 'customer.created', ['id_customer' => 8], 1],
            ['actionObjectCustomerAddAfter', ['object' => new Customer(['id' => 8, 'id_shop' => 1])],
                'customer.created', ['id_customer' => 8], 1],
            ['actionObjectCustomerUpdateAfter', ['object' => new Customer(['id' => 8, 'id_shop' => 3])],
                'customer.updated', ['id_customer' => 8], 3],
            ['actionObjectAddressAddAfter', ['object' => new Address(['id' => 11, 'id_customer' => 8])],
                'address.created', ['id_address' => 11, 'id_customer' => 8], null],
            ['actionObjectAddressUpdateAfter', ['object' => new Address(['id' => 11, 'id_customer' => 8])],
                'address.updated', ['id_address' => 11, 'id_customer' => 8], null],
            ['actionObjectAddressUpdateAfter', ['object' => new Address(['id' => 11, 'id_customer' => 8,
                'deleted' => 1])], 'address.deleted', ['id_address' => 11, 'id_customer' => 8], null],
            ['actionObjectAddressDeleteAfter', ['object' => new Address(['id' => 11, 'id_customer' => 8])],
                'address.deleted', ['id_address' => 11, 'id_customer' => 8], null],
            ['actionProductUpdate', ['id_product' => 27, 'product' => new Product(['id' => 27])],
                'product.updated', ['id_product' => 27], null],
            ['actionProductAdd', ['product' => new Product(['id' => 28])], 'product.updated', ['id_product' => 28],
                null],
            ['actionObjectProductUpdateAfter', ['object' => new Product(['id' => 27])], 'product.updated',
                ['id_product' => 27], null],
            ['actionObjectCombinationUpdateAfter', ['object' => new Combination(['id' => 40, 'id_product' => 27])],
                'combination.updated', ['id_product' => 27, 'id_product_attribute' => 40], null],
            ['actionUpdateQuantity', ['id_product' => 27, 'id_product_attribute' => 0, 'quantity' => 3],
                'stock.changed', ['id_product' => 27, 'id_product_attribute' => 0], null],
            ['actionUpdateQuantity', ['id_product' => 27, 'id_product_attribute' => 40, 'quantity' => 3,
                'id_shop' => 2], 'stock.changed', ['id_product' => 27, 'id_product_attribute' => 40], 2],
            ['actionObjectStockAvailableUpdateAfter', ['object' => new StockAvailable(['id' => 9, 'id_product' => 27,
                'id_product_attribute' => 40, 'id_shop' => 0])], 'stock.changed',
                ['id_product' => 27, 'id_product_attribute' => 40], null],
        ];
        foreach ($cases as $case) {
            list($hook, $params, $event, $ids, $shop) = $case;
            $this->assertSame([['event' => $event, 'ids' => $ids, 'id_shop' => $shop]],
                PsinforEvents::fromHook($hook, $params), $hook);
            $this->assertSame(PsinforEvents::CATALOGUE[$event], array_keys($ids), $event);
            $this->assertContains($event, PsinforEvents::HOOKS[$hook], $hook);
        }
    }

    public function testObjectsTheMiddlewareDoesNotFollowGiveNothing()
    {
        // a brand's or supplier's address, an unsaved object, a hook called without its parameters
        $this->assertSame([], PsinforEvents::fromHook('actionObjectAddressAddAfter',
            ['object' => new Address(['id' => 11, 'id_customer' => 0])]));
        $this->assertSame([], PsinforEvents::fromHook('actionObjectCustomerAddAfter', ['object' => new Customer()]));
        $this->assertSame([], PsinforEvents::fromHook('actionValidateOrder', []));
        $this->assertSame([], PsinforEvents::fromHook('actionObjectCombinationAddAfter',
            ['object' => new Combination(['id' => 0, 'id_product' => 27])]));
        $this->assertSame([], PsinforEvents::fromHook('actionSomethingElse', ['object' => new Order(['id' => 1])]));
    }

    public function testEveryRegisteredHookHasAMethodAndEveryEventAHook()
    {
        $produced = [];
        foreach (PsinforEvents::HOOKS as $hook => $events) {
            $this->assertTrue(method_exists('Psinfor', 'hook' . ucfirst($hook)), $hook);
            $produced = array_merge($produced, $events);
        }
        $this->assertEqualsCanonicalizing(PsinforEvents::names(), array_values(array_unique($produced)));
    }

    public function testTheBodyIsIdsOnlyInAFixedOrderWithAnOffsetTime()
    {
        date_default_timezone_set('Europe/Paris');
        $body = PsinforEvents::body('order.status_changed', 2, ['id_order' => '5', 'new_state' => 4], 1700000000);
        $this->assertSame('{"event":"order.status_changed","shop_id":2,"id_order":5,"new_state":4,'
            . '"occurred_at":"2023-11-14T23:13:20+01:00"}', $body);
        $this->assertSame('{"event":"ping","shop_id":1,"occurred_at":"2023-11-14T23:13:20+01:00"}',
            PsinforEvents::body(PsinforEvents::PING, 1, [], 1700000000));
    }
}
