<?php
/**
 * psinfor — PrestaShop module: signed, ids-only webhooks to the psinfor middleware.
 *
 * @license AGPL-3.0-or-later
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

/**
 * The events the module sends and the hooks they come from.
 *
 * Invariant: a body carries ids only — event, shop_id, the event's id fields (integers), occurred_at — because
 * the middleware re-reads every object through the webservice; nothing personal or priced leaves in a webhook.
 */
class PsinforEvents
{
    /** Event name => the id fields its body carries (the receiver's contract). */
    const CATALOGUE = [
        'order.created' => ['id_order'],
        'order.status_changed' => ['id_order', 'new_state'],
        'order.refunded' => ['id_order', 'id_order_slip'],
        'customer.created' => ['id_customer'],
        'customer.updated' => ['id_customer'],
        'address.created' => ['id_address', 'id_customer'],
        'address.updated' => ['id_address', 'id_customer'],
        'address.deleted' => ['id_address', 'id_customer'],
        'product.updated' => ['id_product'],
        'combination.updated' => ['id_product', 'id_product_attribute'],
        'stock.changed' => ['id_product', 'id_product_attribute'],
    ];

    /** The receiver's "send test event": verified, answered 200 {"pong": true}, never stored. */
    const PING = 'ping';

    /** Hook => the events it may produce (for the config page's help and for registration). */
    const HOOKS = [
        'actionValidateOrder' => ['order.created'],
        'actionOrderStatusPostUpdate' => ['order.status_changed'],
        'actionObjectOrderSlipAddAfter' => ['order.refunded'],
        'actionCustomerAccountAdd' => ['customer.created'],
        'actionObjectCustomerAddAfter' => ['customer.created'],
        'actionObjectCustomerUpdateAfter' => ['customer.updated'],
        'actionObjectAddressAddAfter' => ['address.created'],
        'actionObjectAddressUpdateAfter' => ['address.updated', 'address.deleted'],
        'actionObjectAddressDeleteAfter' => ['address.deleted'],
        'actionProductAdd' => ['product.updated'],
        'actionProductUpdate' => ['product.updated'],
        'actionObjectProductAddAfter' => ['product.updated'],
        'actionObjectProductUpdateAfter' => ['product.updated'],
        'actionObjectCombinationAddAfter' => ['combination.updated'],
        'actionObjectCombinationUpdateAfter' => ['combination.updated'],
        'actionUpdateQuantity' => ['stock.changed'],
        'actionObjectStockAvailableAddAfter' => ['stock.changed'],
        'actionObjectStockAvailableUpdateAfter' => ['stock.changed'],
    ];

    /**
     * @return string[]
     */
    public static function names()
    {
        return array_keys(self::CATALOGUE);
    }

    /**
     * @return string[]
     */
    public static function hooks()
    {
        return array_keys(self::HOOKS);
    }

    /**
     * A form-safe key for an event ("order.created" => "order_created": PHP turns dots in POST names into "_").
     *
     * @param string $event
     *
     * @return string
     */
    public static function formKey($event)
    {
        return str_replace('.', '_', $event);
    }

    /**
     * What one hook call means: a list of events, each ['event' => name, 'ids' => [field => int],
     * 'id_shop' => int|null]. A null shop is resolved by the caller (the order's shop, else the context's).
     * Objects the middleware does not follow (a brand's address, an unsaved object) give nothing.
     *
     * @param string $hook
     * @param array $params the hook's parameters as PrestaShop passes them
     *
     * @return array[]
     */
    public static function fromHook($hook, array $params)
    {
        $object = self::param($params, 'object');
        switch ($hook) {
            case 'actionValidateOrder':
                $order = self::param($params, 'order');

                if (!$order) {
                    return [];
                }

                $ids = ['id_order' => self::prop($order, 'id')];

                return self::one('order.created', $ids, self::prop($order, 'id_shop'));
            case 'actionOrderStatusPostUpdate':
                $state = self::param($params, 'newOrderStatus');
                $ids = [
                    'id_order' => isset($params['id_order']) ? (int) $params['id_order'] : 0,
                    'new_state' => $state ? self::prop($state, 'id') : 0,
                ];

                return self::one('order.status_changed', $ids, null);
            case 'actionObjectOrderSlipAddAfter':
                return $object ? self::one('order.refunded', [
                    'id_order' => self::prop($object, 'id_order'),
                    'id_order_slip' => self::prop($object, 'id'),
                ], null) : [];
            case 'actionCustomerAccountAdd':
                $customer = self::param($params, 'newCustomer');

                return $customer ? self::customer('customer.created', $customer) : [];
            case 'actionObjectCustomerAddAfter':
                return $object ? self::customer('customer.created', $object) : [];
            case 'actionObjectCustomerUpdateAfter':
                return $object ? self::customer('customer.updated', $object) : [];
            case 'actionObjectAddressAddAfter':
                return $object ? self::address('address.created', $object) : [];
            case 'actionObjectAddressUpdateAfter':
                // An address used by an order is never deleted: PrestaShop flags it deleted and saves it.
                $event = $object && self::prop($object, 'deleted') ? 'address.deleted' : 'address.updated';

                return $object ? self::address($event, $object) : [];
            case 'actionObjectAddressDeleteAfter':
                return $object ? self::address('address.deleted', $object) : [];
            case 'actionProductAdd':
            case 'actionProductUpdate':
                $product = self::param($params, 'product');
                $id = isset($params['id_product']) ? (int) $params['id_product'] : 0;
                if (!$id && $product) {
                    $id = self::prop($product, 'id');
                }

                return self::one('product.updated', ['id_product' => $id], null);
            case 'actionObjectProductAddAfter':
            case 'actionObjectProductUpdateAfter':
                return $object ? self::one('product.updated', ['id_product' => self::prop($object, 'id')], null) : [];
            case 'actionObjectCombinationAddAfter':
            case 'actionObjectCombinationUpdateAfter':
                return $object ? self::one('combination.updated', [
                    'id_product' => self::prop($object, 'id_product'),
                    'id_product_attribute' => self::prop($object, 'id'),
                ], null) : [];
            case 'actionUpdateQuantity':
                $ids = [
                    'id_product' => isset($params['id_product']) ? (int) $params['id_product'] : 0,
                    'id_product_attribute' => isset($params['id_product_attribute'])
                        ? (int) $params['id_product_attribute'] : 0,
                ];

                $shop = isset($params['id_shop']) ? (int) $params['id_shop'] : null;

                return self::one('stock.changed', $ids, $shop);
            case 'actionObjectStockAvailableAddAfter':
            case 'actionObjectStockAvailableUpdateAfter':
                // Shared stock rows have id_shop 0 (they belong to a shop group): the context's shop is used.
                return $object ? self::one('stock.changed', [
                    'id_product' => self::prop($object, 'id_product'),
                    'id_product_attribute' => self::prop($object, 'id_product_attribute'),
                ], self::prop($object, 'id_shop')) : [];
        }

        return [];
    }

    /**
     * The JSON body, fields in a fixed order: event, shop_id, the ids, occurred_at (ISO 8601 with its offset).
     *
     * @param string $event
     * @param int $shopId
     * @param array $ids
     * @param int $occurredAt unix seconds
     *
     * @return string
     */
    public static function body($event, $shopId, array $ids, $occurredAt)
    {
        $data = ['event' => (string) $event, 'shop_id' => (int) $shopId];
        foreach ($ids as $field => $value) {
            $data[$field] = (int) $value;
        }
        $data['occurred_at'] = date(DATE_ATOM, (int) $occurredAt);

        return json_encode($data, JSON_UNESCAPED_SLASHES);
    }

    private static function customer($event, $customer)
    {
        return self::one($event, ['id_customer' => self::prop($customer, 'id')], self::prop($customer, 'id_shop'));
    }

    private static function address($event, $address)
    {
        // Brands, suppliers and warehouses have addresses too (id_customer 0): not the middleware's concern.
        return self::one($event, [
            'id_address' => self::prop($address, 'id'),
            'id_customer' => self::prop($address, 'id_customer'),
        ], null);
    }

    /**
     * One event, or none when an id is missing (the receiver would refuse it): ids are >= 1, except a stock
     * change's id_product_attribute, which is 0 for a product without combinations.
     */
    private static function one($event, array $ids, $shopId)
    {
        foreach ($ids as $field => $value) {
            $minimum = ($field === 'id_product_attribute' && $event === 'stock.changed') ? 0 : 1;
            if ((int) $value < $minimum) {
                return [];
            }
        }

        return [['event' => $event, 'ids' => $ids, 'id_shop' => $shopId ? (int) $shopId : null]];
    }

    private static function param(array $params, $name)
    {
        return isset($params[$name]) && is_object($params[$name]) ? $params[$name] : null;
    }

    private static function prop($object, $name)
    {
        return isset($object->$name) ? (int) $object->$name : 0;
    }
}
