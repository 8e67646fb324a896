<?php
use PHPUnit\Framework\TestCase;

/**
 * Fresh stand-ins for every test: an empty SQLite database, no configuration, shop 1 in context, no input.
 */
abstract class PsinforTestCase extends TestCase
{
    const SECRET = 'test-webhook-secret-0123456789';
    const URL = 'https://psinfor.test';

    /** @var int the module's clock */
    protected $now = 1700000000;

    /** @var RecordingTransport */
    protected $transport;

    protected function setUp(): void
    {
        date_default_timezone_set('UTC');
        Db::reset();
        Configuration::reset();
        Shop::reset();
        Shop::setContext(Shop::CONTEXT_SHOP, 1);
        Tools::$input = [];
        PrestaShopLogger::$logs = [];
        self::resetRequestState();
        $this->transport = new RecordingTransport();
    }

    protected function tearDown(): void
    {
        self::resetRequestState();
    }

    /**
     * Forget what the module remembers for the current request (a new test is a new request).
     */
    protected static function resetRequestState()
    {
        $class = new ReflectionClass('Psinfor');
        foreach (['written' => [], 'seen' => [], 'deliveryScheduled' => false] as $name => $value) {
            $property = $class->getProperty($name);
            $property->setAccessible(true);
            $property->setValue(null, $value);
        }
    }

    /**
     * A loopback port nobody listens on (a receiver that is down).
     */
    public static function freePort()
    {
        $socket = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($socket, false);
        fclose($socket);

        return (int) substr($name, strrpos($name, ':') + 1);
    }

    protected function module()
    {
        $module = new Psinfor();
        $module->setTransport($this->transport);
        $module->setClock(function () {
            return $this->now;
        });

        return $module;
    }

    protected function installedModule()
    {
        $module = $this->module();
        $this->assertTrue($module->install());

        return $module;
    }

    /**
     * Settings as the configuration page saves them, for one shop (null: the global defaults).
     */
    protected function configure(array $values = [], $idShop = null)
    {
        $values += ['enabled' => true, 'url' => self::URL, 'secret' => self::SECRET, 'connection' => 'default',
            'events' => PsinforEvents::names(), 'retention_days' => 14];
        $idGroup = $idShop ? Shop::getGroupFromShop($idShop) : null;
        $this->assertTrue(PsinforSettings::save($values, $idGroup, $idShop, $this->now));
    }

    protected function outbox()
    {
        return new PsinforOutbox();
    }

    /**
     * @return array[] every outbox row, oldest first
     */
    protected function rows()
    {
        return Db::getInstance()->executeS('SELECT * FROM `' . PsinforOutbox::table()
            . '` ORDER BY `id_psinfor_outbox`');
    }

    /**
     * Check a recorded request the way the receiver does, with an HMAC computed here independently.
     */
    protected function assertSigned(array $request, $secret = self::SECRET)
    {
        $headers = $request['headers'];
        $expected = 'v1,' . base64_encode(hash_hmac('sha256', $headers['Webhook-Id'] . '.'
            . $headers['Webhook-Timestamp'] . '.' . $request['body'], $secret, true));
        $this->assertSame($expected, $headers['Webhook-Signature']);
        $this->assertSame('application/json', $headers['Content-Type']);
        $this->assertLessThanOrEqual(128, strlen($headers['Webhook-Id']));
    }
}
