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
 * The module's settings in PrestaShop's Configuration, per shop.
 *
 * Invariant: receiver URL, secret, connection, switch and events are read for one shop (a shop's own value, else
 * its group's, else the global one, as Configuration does), so every shop of a multistore can go to its own
 * connection. The cron token and the retention are global. The secret is only ever read to sign.
 */
class PsinforSettings
{
    const ENABLED = 'PSINFOR_ENABLED';
    const URL = 'PSINFOR_URL';
    const SECRET = 'PSINFOR_SECRET';
    const SECRET_SET_AT = 'PSINFOR_SECRET_SET_AT';
    const CONNECTION = 'PSINFOR_CONNECTION';
    const EVENTS = 'PSINFOR_EVENTS';
    const CRON_TOKEN = 'PSINFOR_CRON_TOKEN';
    const RETENTION_DAYS = 'PSINFOR_RETENTION_DAYS';

    const DEFAULT_CONNECTION = 'default';
    const DEFAULT_RETENTION_DAYS = 14;

    /**
     * @return string[] every key the module writes (removed at uninstall)
     */
    public static function keys()
    {
        return [self::ENABLED, self::URL, self::SECRET, self::SECRET_SET_AT, self::CONNECTION, self::EVENTS,
            self::CRON_TOKEN, self::RETENTION_DAYS];
    }

    /**
     * @param int $idShop
     *
     * @return array ['enabled' => bool, 'url' => string, 'secret' => string, 'connection' => string,
     *               'events' => string[], 'secret_set_at' => int]
     */
    public static function forShop($idShop)
    {
        $idShop = (int) $idShop;
        $idGroup = $idShop ? (int) Shop::getGroupFromShop($idShop, true) : null;
        $get = function ($key) use ($idGroup, $idShop) {
            $value = Configuration::get($key, null, $idGroup, $idShop ?: null);

            return $value === false || $value === null ? '' : (string) $value;
        };
        $events = $get(self::EVENTS) === '' ? [] : explode(',', $get(self::EVENTS));

        return [
            'enabled' => $get(self::ENABLED) === '1',
            'url' => $get(self::URL),
            'secret' => $get(self::SECRET),
            'connection' => $get(self::CONNECTION) !== '' ? $get(self::CONNECTION) : self::DEFAULT_CONNECTION,
            'events' => array_values(array_intersect($events, PsinforEvents::names())),
            'secret_set_at' => (int) $get(self::SECRET_SET_AT),
        ];
    }

    /**
     * Whether a shop's events are recorded at all: switched on, with a receiver and a secret.
     *
     * @param array $settings from forShop()
     *
     * @return bool
     */
    public static function isReady(array $settings)
    {
        return $settings['enabled'] && $settings['url'] !== '' && $settings['secret'] !== '';
    }

    /**
     * The webhook URL: {receiver}/webhooks/prestashop/{connection}.
     *
     * @param array $settings
     *
     * @return string
     */
    public static function endpoint(array $settings)
    {
        return rtrim($settings['url'], '/') . '/webhooks/prestashop/' . rawurlencode($settings['connection']);
    }

    /**
     * Save validated values for the shop context being edited (null ids: the global defaults). An empty secret
     * keeps the stored one.
     *
     * @param array $values from PsinforConfigForm::validate()
     * @param int|null $idShopGroup
     * @param int|null $idShop
     * @param int $now
     *
     * @return bool
     */
    public static function save(array $values, $idShopGroup, $idShop, $now)
    {
        $ok = Configuration::updateValue(self::ENABLED, $values['enabled'] ? '1' : '0', false, $idShopGroup, $idShop)
            && Configuration::updateValue(self::URL, $values['url'], false, $idShopGroup, $idShop)
            && Configuration::updateValue(self::CONNECTION, $values['connection'], false, $idShopGroup, $idShop)
            && Configuration::updateValue(self::EVENTS, implode(',', $values['events']), false, $idShopGroup, $idShop)
            && Configuration::updateGlobalValue(self::RETENTION_DAYS, (int) $values['retention_days']);
        if ($ok && $values['secret'] !== '') {
            $ok = Configuration::updateValue(self::SECRET, $values['secret'], false, $idShopGroup, $idShop)
                && Configuration::updateValue(self::SECRET_SET_AT, (int) $now, false, $idShopGroup, $idShop);
        }

        return (bool) $ok;
    }

    /**
     * @return int days
     */
    public static function retentionDays()
    {
        $days = (int) Configuration::getGlobalValue(self::RETENTION_DAYS);

        return $days > 0 ? $days : self::DEFAULT_RETENTION_DAYS;
    }

    /**
     * The cron token, created on first use.
     *
     * @return string
     */
    public static function cronToken()
    {
        $token = (string) Configuration::getGlobalValue(self::CRON_TOKEN);
        if ($token === '') {
            $token = bin2hex(random_bytes(24));
            Configuration::updateGlobalValue(self::CRON_TOKEN, $token);
        }

        return $token;
    }
}
