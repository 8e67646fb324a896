<?php
/**
 * Small stand-ins for the PrestaShop classes the module uses, so its code runs under php-cli and PHPUnit.
 *
 * They follow PrestaShop 1.7.8 / 8.x signatures and behaviour where the module depends on it: Configuration's
 * shop > group > global lookup, Db's execute/executeS/getRow/getValue/Insert_ID/Affected_Rows (on a real SQL
 * engine, SQLite through PDO, after turning the module's MySQL DDL into SQLite's), pSQL escaping, and Module's
 * install/registerHook/display* helpers. Nothing here is part of the module.
 */
if (!defined('_PS_VERSION_')) {
    define('_PS_VERSION_', '8.1.7');
}
if (!defined('_DB_PREFIX_')) {
    define('_DB_PREFIX_', 'ps_');
}
if (!defined('_MYSQL_ENGINE_')) {
    define('_MYSQL_ENGINE_', 'InnoDB');
}

class PrestaShopException extends Exception
{
}

class PrestaShopDatabaseException extends PrestaShopException
{
}

/**
 * Db on SQLite. `failing` makes every query throw, as a lost MySQL connection does.
 */
class Db
{
    /** @var Db|null */
    private static $instance;

    /** @var PDO */
    public $pdo;

    /** @var bool */
    public $failing = false;

    /** @var string[] */
    public $queries = [];

    private $affected = 0;

    public function __construct($path)
    {
        $this->pdo = new PDO('sqlite:' . $path);
        $this->pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
        $this->pdo->setAttribute(PDO::ATTR_TIMEOUT, 10);
    }

    public static function getInstance($master = true)
    {
        if (self::$instance === null) {
            $path = getenv('PSINFOR_STANDIN_DB');
            self::$instance = new Db($path ? $path : ':memory:');
        }

        return self::$instance;
    }

    public static function reset($path = ':memory:')
    {
        self::$instance = new Db($path);

        return self::$instance;
    }

    public function execute($sql, $useCache = true)
    {
        $this->affected = $this->run(function () use ($sql) {
            return $this->pdo->exec(self::translate($sql));
        });

        return true;
    }

    public function executeS($sql, $array = true, $useCache = true)
    {
        return $this->run(function () use ($sql) {
            return $this->pdo->query(self::translate($sql))->fetchAll(PDO::FETCH_ASSOC);
        });
    }

    public function getRow($sql, $useCache = true)
    {
        if (!preg_match('/\bLIMIT\s+\d+\s*$/i', $sql)) {
            $sql .= ' LIMIT 1';
        }
        $rows = $this->executeS($sql);

        return $rows ? $rows[0] : false;
    }

    public function getValue($sql, $useCache = true)
    {
        $row = $this->getRow($sql);

        return $row ? reset($row) : false;
    }

    public function Insert_ID()
    {
        return (int) $this->pdo->lastInsertId();
    }

    public function Affected_Rows()
    {
        return $this->affected;
    }

    public function escape($string, $htmlOK = false)
    {
        $string = str_replace("'", "''", (string) $string);

        return $htmlOK ? $string : strip_tags($string);
    }

    public function tableExists($table)
    {
        return (bool) $this->pdo->query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = "
            . $this->pdo->quote($table))->fetch();
    }

    private function run($query)
    {
        if ($this->failing) {
            throw new PrestaShopDatabaseException('Link to database cannot be established.');
        }
        try {
            return $query();
        } catch (PDOException $e) {
            throw new PrestaShopDatabaseException($e->getMessage());
        }
    }

    /**
     * MySQL DDL to SQLite: the auto-increment key, integer types, inline unique keys, no secondary keys, no ENGINE.
     */
    public static function translate($sql)
    {
        if (!preg_match('/^\s*CREATE TABLE/i', $sql)) {
            return $sql;
        }
        $sql = preg_replace('/INT\(10\) UNSIGNED NOT NULL AUTO_INCREMENT/', 'INTEGER PRIMARY KEY AUTOINCREMENT', $sql);
        $sql = preg_replace('/,\s*PRIMARY KEY \([^)]*\)/', '', $sql);
        $sql = preg_replace('/INT\(\d+\)( UNSIGNED)?/', 'INTEGER', $sql);
        $sql = preg_replace('/UNIQUE KEY `\w+` \(/', 'UNIQUE (', $sql);
        $sql = preg_replace('/,\s*KEY `\w+` \([^)]*\)/', '', $sql);

        return preg_replace('/\)\s*ENGINE=\w+(\s+DEFAULT CHARSET=\w+)?\s*$/', ')', $sql);
    }
}

function pSQL($string, $htmlOK = false)
{
    return Db::getInstance()->escape($string, $htmlOK);
}

function bqSQL($string)
{
    return str_replace('`', '\`', pSQL($string));
}

/**
 * Configuration with PrestaShop's lookup order: the shop's value, else its group's, else the global one.
 */
class Configuration
{
    /** @var array key => ['global' => ?string, 'group' => [id => string], 'shop' => [id => string]] */
    public static $values = [];

    public static function reset()
    {
        self::$values = [];
    }

    public static function get($key, $idLang = null, $idShopGroup = null, $idShop = null, $default = false)
    {
        if ($idShop === null) {
            $idShop = Shop::getContextShopID(true);
        }
        if ($idShopGroup === null) {
            $idShopGroup = Shop::getContextShopGroupID(true);
        }
        if (!isset(self::$values[$key])) {
            return $default;
        }
        $entry = self::$values[$key];
        if ($idShop && isset($entry['shop'][$idShop])) {
            return $entry['shop'][$idShop];
        }
        if ($idShopGroup && isset($entry['group'][$idShopGroup])) {
            return $entry['group'][$idShopGroup];
        }

        return isset($entry['global']) ? $entry['global'] : $default;
    }

    public static function updateValue($key, $values, $html = false, $idShopGroup = null, $idShop = null)
    {
        if ($idShop === null) {
            $idShop = Shop::getContextShopID(true);
        }
        if ($idShopGroup === null) {
            $idShopGroup = Shop::getContextShopGroupID(true);
        }
        $value = (string) $values;
        if ($idShop) {
            self::$values[$key]['shop'][$idShop] = $value;
        } elseif ($idShopGroup) {
            self::$values[$key]['group'][$idShopGroup] = $value;
        } else {
            self::$values[$key]['global'] = $value;
        }

        return true;
    }

    public static function updateGlobalValue($key, $values, $html = false)
    {
        self::$values[$key]['global'] = (string) $values;

        return true;
    }

    public static function getGlobalValue($key, $idLang = null)
    {
        return isset(self::$values[$key]['global']) ? self::$values[$key]['global'] : false;
    }

    public static function deleteByName($key)
    {
        unset(self::$values[$key]);

        return true;
    }
}

class Shop
{
    const CONTEXT_SHOP = 1;
    const CONTEXT_GROUP = 2;
    const CONTEXT_ALL = 4;

    public static $featureActive = false;
    public static $contextType = self::CONTEXT_SHOP;
    public static $contextShopId = 1;
    public static $contextGroupId = 1;
    /** @var array<int, int> shop => its group */
    public static $groups = [1 => 1];

    public $id;
    public $id_shop_group;
    public $name;

    public function __construct($id = 1, $name = 'Shop 1')
    {
        $this->id = $id;
        $this->id_shop_group = isset(self::$groups[$id]) ? self::$groups[$id] : 1;
        $this->name = $name;
    }

    public static function reset()
    {
        self::$featureActive = false;
        self::$contextType = self::CONTEXT_SHOP;
        self::$contextShopId = 1;
        self::$contextGroupId = 1;
        self::$groups = [1 => 1];
    }

    public static function isFeatureActive()
    {
        return self::$featureActive;
    }

    public static function setContext($type, $id = null)
    {
        self::$contextType = $type;
        if ($type === self::CONTEXT_SHOP) {
            self::$contextShopId = (int) $id;
            self::$contextGroupId = isset(self::$groups[$id]) ? self::$groups[$id] : 1;
        } elseif ($type === self::CONTEXT_GROUP) {
            self::$contextShopId = null;
            self::$contextGroupId = (int) $id;
        } else {
            self::$contextShopId = null;
            self::$contextGroupId = null;
        }
        Context::getContext()->shop = new Shop(self::$contextShopId ?: 1, 'Shop ' . (self::$contextShopId ?: 1));
    }

    public static function getContext()
    {
        return self::$contextType;
    }

    public static function getContextShopID($nullValueWithoutMultishop = false)
    {
        if ($nullValueWithoutMultishop && !self::$featureActive) {
            return null;
        }

        return self::$contextType === self::CONTEXT_SHOP ? self::$contextShopId : null;
    }

    public static function getContextShopGroupID($nullValueWithoutMultishop = false)
    {
        if ($nullValueWithoutMultishop && !self::$featureActive) {
            return null;
        }

        return self::$contextType === self::CONTEXT_ALL ? null : self::$contextGroupId;
    }

    public static function getGroupFromShop($shopId, $asId = true)
    {
        return isset(self::$groups[$shopId]) ? self::$groups[$shopId] : 1;
    }
}

class Link
{
    const BASE = 'https://shop.test';

    public function getModuleLink($module, $controller = 'default', array $params = [], $ssl = null)
    {
        return self::BASE . '/index.php?' . http_build_query(
            ['fc' => 'module', 'module' => $module, 'controller' => $controller] + $params
        );
    }

    public function getAdminLink($controller, $withToken = true, $sfRouteParams = [], $params = [])
    {
        $query = ['controller' => $controller] + ($withToken ? ['token' => Tools::getAdminTokenLite($controller)] : [])
            + $params;

        return self::BASE . '/admin-dev/index.php?' . http_build_query($query);
    }
}

class Context
{
    /** @var Context|null */
    private static $instance;

    /** @var Shop */
    public $shop;

    /** @var Link */
    public $link;

    public static function getContext()
    {
        if (self::$instance === null) {
            self::$instance = new Context();
            self::$instance->shop = new Shop(1, 'Shop 1');
            self::$instance->link = new Link();
        }

        return self::$instance;
    }
}

/**
 * The request's input (what PrestaShop reads from $_POST and $_GET).
 */
class Tools
{
    /** @var array */
    public static $input = [];

    public static function getValue($key, $defaultValue = false)
    {
        return array_key_exists($key, self::$input) ? self::$input[$key] : $defaultValue;
    }

    public static function isSubmit($submit)
    {
        return array_key_exists($submit, self::$input);
    }

    public static function getAdminTokenLite($tab)
    {
        return 'token' . md5($tab);
    }
}

class PrestaShopLogger
{
    /** @var array[] */
    public static $logs = [];

    public static function addLog($message, $severity = 1, $errorCode = null, $objectType = null, $objectId = null,
        $allowDuplicate = false, $idEmployee = null)
    {
        self::$logs[] = ['message' => $message, 'severity' => $severity];

        return true;
    }
}

class Module
{
    public $name;
    public $tab;
    public $version;
    public $author;
    public $need_instance;
    public $bootstrap;
    public $displayName;
    public $description;
    public $confirmUninstall;
    public $ps_versions_compliancy;
    /** @var Context */
    public $context;
    /** @var string[] */
    public $registeredHooks = [];
    public $installed = false;

    public function __construct()
    {
        $this->context = Context::getContext();
    }

    public function install()
    {
        $this->installed = true;

        return true;
    }

    public function uninstall()
    {
        $this->installed = false;

        return true;
    }

    public function registerHook($hookName, $shopList = null)
    {
        foreach ((array) $hookName as $hook) {
            $this->registeredHooks[] = $hook;
        }

        return true;
    }

    public function l($string, $specific = false, $locale = null)
    {
        return $string;
    }

    public function displayConfirmation($string)
    {
        return '<div class="alert alert-success">' . $string . '</div>';
    }

    public function displayError($error)
    {
        return '<div class="alert alert-danger">' . (is_array($error) ? implode('<br>', $error) : $error) . '</div>';
    }

    public function displayWarning($warning)
    {
        return '<div class="alert alert-warning">' . (is_array($warning) ? implode('<br>', $warning) : $warning)
            . '</div>';
    }
}

class ModuleFrontController
{
    /** @var Module */
    public $module;
    public $ajax = false;

    protected function ajaxRender($value = null, $controller = null, $method = null)
    {
        echo $value;
    }
}

/**
 * Renders the fields it is given, values included, so a test sees exactly what would reach the browser.
 */
class HelperForm
{
    public $module;
    public $name_controller;
    public $table;
    public $identifier;
    public $token;
    public $currentIndex;
    public $default_form_language;
    public $allow_employee_form_lang;
    public $submit_action;
    public $show_toolbar;
    public $fields_value = [];

    public function generateForm($forms)
    {
        $html = '<form action="' . htmlspecialchars($this->currentIndex . '&token=' . $this->token) . '">';
        foreach ($forms as $form) {
            if (!empty($form['form']['description'])) {
                $html .= '<div class="alert alert-info">' . htmlspecialchars($form['form']['description']) . '</div>';
            }
            foreach ($form['form']['input'] as $input) {
                $name = $input['name'];
                if ($input['type'] === 'checkbox') {
                    foreach ($input['values']['query'] as $option) {
                        $key = $name . '_' . $option[$input['values']['id']];
                        $checked = !empty($this->fields_value[$key]) ? ' checked' : '';
                        $html .= '<input type="checkbox" name="' . htmlspecialchars($key) . '"' . $checked . '>';
                    }
                    continue;
                }
                $value = isset($this->fields_value[$name]) ? (string) $this->fields_value[$name] : '';
                $html .= '<label>' . htmlspecialchars($input['label']) . '</label><input type="' . $input['type']
                    . '" name="' . htmlspecialchars($name) . '" value="' . htmlspecialchars($value) . '">';
                if (isset($input['desc'])) {
                    $html .= '<p class="help-block">' . htmlspecialchars($input['desc']) . '</p>';
                }
            }
            $html .= '<button name="' . htmlspecialchars($this->submit_action) . '">Save</button>';
        }

        return $html . '</form>';
    }
}

/**
 * PrestaShop objects as the hooks pass them: only their public fields matter to the module.
 */
class StandInObject extends stdClass
{
    public $id;

    public function __construct(array $fields = [])
    {
        foreach ($fields as $name => $value) {
            $this->$name = $value;
        }
    }
}

class Order extends StandInObject
{
    public $id_shop;
}

class OrderState extends StandInObject
{
}

class OrderSlip extends StandInObject
{
    public $id_order;
}

class Customer extends StandInObject
{
    public $id_shop;
}

class Address extends StandInObject
{
    public $id_customer;
    public $deleted = 0;
}

class Product extends StandInObject
{
}

class Combination extends StandInObject
{
    public $id_product;
}

class StockAvailable extends StandInObject
{
    public $id_product;
    public $id_product_attribute;
    public $id_shop;
}
