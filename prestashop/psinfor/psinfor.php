<?php
/**
 * psinfor — PrestaShop module: signed, ids-only webhooks to the psinfor middleware.
 *
 * @license AGPL-3.0-or-later
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

require_once __DIR__ . '/classes/PsinforSigner.php';
require_once __DIR__ . '/classes/PsinforEvents.php';
require_once __DIR__ . '/classes/PsinforRetryPolicy.php';
require_once __DIR__ . '/classes/PsinforSettings.php';
require_once __DIR__ . '/classes/PsinforOutbox.php';
require_once __DIR__ . '/classes/PsinforTransport.php';
require_once __DIR__ . '/classes/PsinforDelivery.php';
require_once __DIR__ . '/classes/PsinforConfigForm.php';

/**
 * Sends PrestaShop's changes to psinfor as signed, ids-only webhooks (Standard Webhooks), through an outbox.
 *
 * Invariants: a hook never raises and never waits for the network — it writes an outbox row and returns; the
 * rows written in a request are sent after the response (fastcgi_finish_request where available) with short
 * timeouts; whatever was not acknowledged is retried with backoff by the cron endpoint or the back office's
 * "send pending now". Every event carries the shop it happened in, and uses that shop's settings.
 */
class Psinfor extends Module
{
    /** Rows sent after the response of the request that wrote them; the rest waits for the cron. */
    const AFTER_RESPONSE_LIMIT = 20;
    const AFTER_RESPONSE_BUDGET = 10;
    const CRON_LIMIT = 2000;
    const CRON_BUDGET = 25;
    const FAILED_SHOWN = 20;

    /** @var int[] outbox rows written in this request, not yet tried */
    private static $written = [];

    /** @var array<string, bool> events recorded in this request (one save fires several hooks) */
    private static $seen = [];

    /** @var bool */
    private static $deliveryScheduled = false;

    /** @var object|null a transport other than cURL (tests, the CLI harness) */
    private $transport;

    /** @var callable|null */
    private $clock;

    public function __construct()
    {
        $this->name = 'psinfor';
        $this->tab = 'administration';
        $this->version = '1.0.0';
        $this->author = 'psinfor';
        $this->need_instance = 0;
        $this->bootstrap = true;
        $this->ps_versions_compliancy = ['min' => '1.7.8.0', 'max' => '8.99.99'];
        parent::__construct();
        $this->displayName = $this->l('psinfor: webhooks to the ERP middleware');
        $this->description = $this->l('Sends signed webhooks (orders, customers, addresses, products, stock, '
            . 'refunds) to psinfor, with an outbox so that none is lost.');
        $this->confirmUninstall = $this->l('Events not yet delivered will be lost. Uninstall?');
    }

    // ---- install ------------------------------------------------------------------------------------------

    public function install()
    {
        if (Shop::isFeatureActive()) {
            Shop::setContext(Shop::CONTEXT_ALL);
        }

        return parent::install()
            && (new PsinforOutbox())->createTable()
            && $this->registerHook(PsinforEvents::hooks())
            && Configuration::updateGlobalValue(PsinforSettings::ENABLED, '1')
            && Configuration::updateGlobalValue(PsinforSettings::CONNECTION, PsinforSettings::DEFAULT_CONNECTION)
            && Configuration::updateGlobalValue(PsinforSettings::EVENTS, implode(',', PsinforEvents::names()))
            && Configuration::updateGlobalValue(
                PsinforSettings::RETENTION_DAYS,
                PsinforSettings::DEFAULT_RETENTION_DAYS
            )
            && PsinforSettings::cronToken() !== '';
    }

    public function uninstall()
    {
        if (!parent::uninstall()) {
            return false;
        }
        $ok = (new PsinforOutbox())->dropTable();
        foreach (PsinforSettings::keys() as $key) {
            $ok = Configuration::deleteByName($key) && $ok;
        }

        return $ok;
    }

    // ---- hooks: each records its events and returns at once ------------------------------------------------

    public function hookActionValidateOrder($params)
    {
        $this->handleHook('actionValidateOrder', $params);
    }

    public function hookActionOrderStatusPostUpdate($params)
    {
        $this->handleHook('actionOrderStatusPostUpdate', $params);
    }

    public function hookActionObjectOrderSlipAddAfter($params)
    {
        $this->handleHook('actionObjectOrderSlipAddAfter', $params);
    }

    public function hookActionCustomerAccountAdd($params)
    {
        $this->handleHook('actionCustomerAccountAdd', $params);
    }

    public function hookActionObjectCustomerAddAfter($params)
    {
        $this->handleHook('actionObjectCustomerAddAfter', $params);
    }

    public function hookActionObjectCustomerUpdateAfter($params)
    {
        $this->handleHook('actionObjectCustomerUpdateAfter', $params);
    }

    public function hookActionObjectAddressAddAfter($params)
    {
        $this->handleHook('actionObjectAddressAddAfter', $params);
    }

    public function hookActionObjectAddressUpdateAfter($params)
    {
        $this->handleHook('actionObjectAddressUpdateAfter', $params);
    }

    public function hookActionObjectAddressDeleteAfter($params)
    {
        $this->handleHook('actionObjectAddressDeleteAfter', $params);
    }

    public function hookActionProductAdd($params)
    {
        $this->handleHook('actionProductAdd', $params);
    }

    public function hookActionProductUpdate($params)
    {
        $this->handleHook('actionProductUpdate', $params);
    }

    public function hookActionObjectProductAddAfter($params)
    {
        $this->handleHook('actionObjectProductAddAfter', $params);
    }

    public function hookActionObjectProductUpdateAfter($params)
    {
        $this->handleHook('actionObjectProductUpdateAfter', $params);
    }

    public function hookActionObjectCombinationAddAfter($params)
    {
        $this->handleHook('actionObjectCombinationAddAfter', $params);
    }

    public function hookActionObjectCombinationUpdateAfter($params)
    {
        $this->handleHook('actionObjectCombinationUpdateAfter', $params);
    }

    public function hookActionUpdateQuantity($params)
    {
        $this->handleHook('actionUpdateQuantity', $params);
    }

    public function hookActionObjectStockAvailableAddAfter($params)
    {
        $this->handleHook('actionObjectStockAvailableAddAfter', $params);
    }

    public function hookActionObjectStockAvailableUpdateAfter($params)
    {
        $this->handleHook('actionObjectStockAvailableUpdateAfter', $params);
    }

    /**
     * Record what a hook call means. Never raises: a failure here is logged, and checkout goes on.
     *
     * @param string $hook
     * @param mixed $params
     *
     * @return int[] the outbox rows written
     */
    public function handleHook($hook, $params)
    {
        $written = [];
        try {
            foreach (PsinforEvents::fromHook($hook, is_array($params) ? $params : []) as $event) {
                try {
                    $id = $this->record($event);
                    if ($id !== null) {
                        $written[] = $id;
                    }
                } catch (Throwable $e) {
                    self::log('event ' . $event['event'] . ' from ' . $hook . ' not recorded: ' . $e->getMessage(), 3);
                }
            }
        } catch (Throwable $e) {
            self::log('hook ' . $hook . ' failed: ' . $e->getMessage(), 3);
        }

        return $written;
    }

    /**
     * Write one event into the outbox (when its shop sends it) and schedule delivery after the response.
     *
     * @param array $event from PsinforEvents::fromHook()
     *
     * @return int|null the row's id, or null when not recorded (switched off, not configured, already recorded)
     */
    public function record(array $event)
    {
        $idShop = $event['id_shop'] ?: $this->shopOf($event['ids']);
        $settings = PsinforSettings::forShop($idShop);
        if (!PsinforSettings::isReady($settings) || !in_array($event['event'], $settings['events'], true)) {
            return null;
        }
        $key = $idShop . '|' . $event['event'] . '|' . json_encode($event['ids']);
        if (isset(self::$seen[$key])) {
            return null;
        }
        $now = $this->now();
        $body = PsinforEvents::body($event['event'], $idShop, $event['ids'], $now);
        $id = (new PsinforOutbox())->enqueue($idShop, $event['event'], PsinforSigner::newWebhookId(), $body, $now);
        self::$seen[$key] = true;
        self::$written[] = $id;
        if (!self::$deliveryScheduled) {
            self::$deliveryScheduled = true;
            register_shutdown_function([$this, 'deliverAfterResponse']);
        }

        return $id;
    }

    /**
     * Shutdown function: finish the HTTP response first, then try this request's rows once, briefly.
     */
    public function deliverAfterResponse()
    {
        $ids = self::$written;
        self::$written = [];
        self::$seen = [];
        self::$deliveryScheduled = false;
        if (!$ids) {
            return;
        }
        try {
            ignore_user_abort(true);
            if (session_status() === PHP_SESSION_ACTIVE) {
                session_write_close();
            }
            if (function_exists('fastcgi_finish_request')) {
                fastcgi_finish_request();
            } elseif (function_exists('litespeed_finish_request')) {
                litespeed_finish_request();
            }
            $this->delivery()->run(['only_ids' => $ids, 'limit' => self::AFTER_RESPONSE_LIMIT,
                'budget' => self::AFTER_RESPONSE_BUDGET]);
        } catch (Throwable $e) {
            self::log('delivery after the response failed (the cron will retry): ' . $e->getMessage(), 2);
        }
    }

    /**
     * The cron endpoint's work: retry what is due, prune old rows. The token is compared in constant time.
     *
     * @param mixed $token
     *
     * @return array ['status' => int, 'body' => array]
     */
    public function runCron($token)
    {
        if (!is_string($token) || $token === '' || !hash_equals(PsinforSettings::cronToken(), $token)) {
            return ['status' => 403, 'body' => ['error' => 'invalid token']];
        }
        try {
            $summary = $this->delivery()->run(['limit' => self::CRON_LIMIT, 'budget' => self::CRON_BUDGET]);
            $outbox = new PsinforOutbox();
            $summary['pruned'] = $outbox->prune(PsinforSettings::retentionDays(), $this->now());
            $stats = $outbox->stats();
            $summary['pending'] = $stats[PsinforOutbox::PENDING];
            $summary['failed_total'] = $stats[PsinforOutbox::FAILED];

            return ['status' => 200, 'body' => $summary];
        } catch (Throwable $e) {
            self::log('cron run failed: ' . $e->getMessage(), 3);

            return ['status' => 500, 'body' => ['error' => 'the run failed; see the PrestaShop logs']];
        }
    }

    /**
     * @return PsinforDelivery
     */
    public function delivery()
    {
        return new PsinforDelivery(new PsinforOutbox(), $this->transport ?: new PsinforTransport(), null,
            $this->clock);
    }

    /**
     * Use another transport than cURL (the tests' receiver stand-in, the CLI harness).
     *
     * @param object $transport with post($url, array $headers, $body): array
     */
    public function setTransport($transport)
    {
        $this->transport = $transport;
    }

    /**
     * @param callable $clock returning unix seconds
     */
    public function setClock($clock)
    {
        $this->clock = $clock;
    }

    /**
     * The URL for the shop's crontab.
     *
     * @return string
     */
    public function cronUrl()
    {
        return $this->context->link->getModuleLink($this->name, 'cron', ['token' => PsinforSettings::cronToken()]);
    }

    // ---- back office ---------------------------------------------------------------------------------------

    public function getContent()
    {
        $output = '';
        if (Tools::isSubmit('submitPsinforSettings')) {
            $output .= $this->processSettings();
        } elseif (Tools::isSubmit('submitPsinforTest')) {
            $output .= $this->processTest();
        } elseif (Tools::isSubmit('submitPsinforSendNow')) {
            $output .= $this->processSendNow();
        } elseif (Tools::isSubmit('submitPsinforRetryFailed')) {
            $output .= $this->processRetryFailed();
        }

        return $output . $this->renderSettingsForm() . $this->renderOutboxPanel();
    }

    /**
     * @return string the messages to show
     */
    public function processSettings()
    {
        $input = [
            'enabled' => (bool) Tools::getValue(PsinforSettings::ENABLED),
            'url' => (string) Tools::getValue(PsinforSettings::URL, ''),
            'secret' => (string) Tools::getValue(PsinforSettings::SECRET, ''),
            'connection' => (string) Tools::getValue(PsinforSettings::CONNECTION, ''),
            'events' => [],
            'retention_days' => (string) Tools::getValue(PsinforSettings::RETENTION_DAYS, ''),
        ];
        foreach (PsinforEvents::names() as $event) {
            if (Tools::getValue('PSINFOR_EVENTS_' . PsinforEvents::formKey($event))) {
                $input['events'][] = $event;
            }
        }
        list($idGroup, $idShop) = $this->editedScope();
        $secretIsSet = (string) Configuration::get(PsinforSettings::SECRET, null, $idGroup, $idShop) !== '';
        $result = PsinforConfigForm::validate($input, $secretIsSet);
        if ($result['errors']) {
            return $this->displayError(implode('<br>', array_map([$this, 'escape'], $result['errors'])));
        }
        if (!PsinforSettings::save($result['values'], $idGroup, $idShop, $this->now())) {
            return $this->displayError($this->l('The settings could not be saved.'));
        }

        return $this->displayConfirmation($this->l('Settings saved.'));
    }

    /**
     * @return string
     */
    public function processTest()
    {
        $idShop = $this->displayedShop();
        $settings = PsinforSettings::forShop($idShop);
        if ($settings['url'] === '' || $settings['secret'] === '') {
            return $this->displayError($this->l('Save a receiver URL and a secret first.'));
        }
        try {
            $answer = $this->delivery()->ping($idShop, $settings);
        } catch (Throwable $e) {
            return $this->displayError($this->escape('The test event could not be sent: ' . $e->getMessage()));
        }
        $text = $answer['status']
            ? 'The receiver at ' . $answer['url'] . ' answered HTTP ' . $answer['status'] . ': ' . $answer['body']
            : 'No answer from ' . $answer['url'] . ': ' . $answer['error'];
        if (!$answer['ok'] && $answer['status'] >= 300) {
            $text .= ' (' . PsinforRetryPolicy::hint($answer['status']) . ')';
        }

        return $answer['ok'] ? $this->displayConfirmation($this->escape($text))
            : $this->displayError($this->escape($text));
    }

    /**
     * @return string
     */
    public function processSendNow()
    {
        try {
            $summary = $this->delivery()->run(['ignore_schedule' => true, 'limit' => self::CRON_LIMIT,
                'budget' => self::CRON_BUDGET]);
        } catch (Throwable $e) {
            return $this->displayError($this->escape('Sending failed: ' . $e->getMessage()));
        }
        $text = sprintf('Delivered %d, to retry %d, failed %d, waiting %d.', $summary['delivered'],
            $summary['retrying'], $summary['failed'], $summary['deferred']);
        if ($summary['errors']) {
            return $this->displayWarning($this->escape($text . ' ' . implode(' | ', $summary['errors'])));
        }

        return $this->displayConfirmation($this->escape($text));
    }

    /**
     * @return string
     */
    public function processRetryFailed()
    {
        list(, $idShop) = $this->editedScope();
        $count = (new PsinforOutbox())->requeueFailed($idShop, $this->now());

        return $this->displayConfirmation($this->escape(sprintf('%d failed event(s) queued again.', $count)));
    }

    /**
     * The settings form. The secret field is always empty: a saved secret is never sent back to the browser.
     *
     * @return string
     */
    public function renderSettingsForm()
    {
        list($idGroup, $idShop) = $this->editedScope();
        $get = function ($key) use ($idGroup, $idShop) {
            $value = Configuration::get($key, null, $idGroup, $idShop);

            return $value === false || $value === null ? '' : (string) $value;
        };
        $secretSetAt = (int) $get(PsinforSettings::SECRET_SET_AT);
        $secretHelp = $get(PsinforSettings::SECRET) !== ''
            ? sprintf($this->l('A secret is saved (since %s). It is never shown again: type a new one to replace it, '
                . 'or leave the field empty to keep it.'), $secretSetAt ? date('Y-m-d H:i', $secretSetAt) : '?')
            : $this->l('The WEBHOOK_SECRET of this connection in psinfor (at least 16 characters, or whsec_...).');
        $enabledEvents = $get(PsinforSettings::EVENTS) === '' ? [] : explode(',', $get(PsinforSettings::EVENTS));
        $options = [];
        $values = [
            PsinforSettings::ENABLED => $get(PsinforSettings::ENABLED) === '1',
            PsinforSettings::URL => $get(PsinforSettings::URL),
            PsinforSettings::SECRET => '',
            PsinforSettings::CONNECTION => $get(PsinforSettings::CONNECTION) ?: PsinforSettings::DEFAULT_CONNECTION,
            PsinforSettings::RETENTION_DAYS => PsinforSettings::retentionDays(),
        ];
        foreach (PsinforEvents::CATALOGUE as $event => $fields) {
            $options[] = ['id' => PsinforEvents::formKey($event),
                'name' => $event . ' (' . implode(', ', $fields) . ')'];
            $values['PSINFOR_EVENTS_' . PsinforEvents::formKey($event)] = in_array($event, $enabledEvents, true);
        }
        $form = ['form' => [
            'legend' => ['title' => $this->l('Webhooks to psinfor'), 'icon' => 'icon-cogs'],
            'description' => $this->scopeDescription(),
            'input' => [
                ['type' => 'switch', 'label' => $this->l('Send events'), 'name' => PsinforSettings::ENABLED,
                    'is_bool' => true, 'values' => [
                        ['id' => 'psinfor_on', 'value' => 1, 'label' => $this->l('Yes')],
                        ['id' => 'psinfor_off', 'value' => 0, 'label' => $this->l('No')],
                    ]],
                ['type' => 'text', 'label' => $this->l('Receiver URL'), 'name' => PsinforSettings::URL,
                    'required' => true, 'placeholder' => 'https://psinfor.example.com',
                    'desc' => $this->l('The base URL of the psinfor receiver; events go to '
                        . '{URL}/webhooks/prestashop/{connection}. Use https.')],
                ['type' => 'password', 'label' => $this->l('Webhook secret'), 'name' => PsinforSettings::SECRET,
                    'autocomplete' => false, 'desc' => $secretHelp],
                ['type' => 'text', 'label' => $this->l('Connection'), 'name' => PsinforSettings::CONNECTION,
                    'class' => 'fixed-width-xl',
                    'desc' => $this->l('The psinfor connection this shop belongs to ("default" unless psinfor '
                        . 'serves several shops).')],
                ['type' => 'checkbox', 'label' => $this->l('Events'), 'name' => 'PSINFOR_EVENTS',
                    'values' => ['query' => $options, 'id' => 'id', 'name' => 'name']],
                ['type' => 'text', 'label' => $this->l('Keep sent events (days)'),
                    'name' => PsinforSettings::RETENTION_DAYS, 'class' => 'fixed-width-sm',
                    'desc' => $this->l('Delivered and failed events are deleted after this many days (all shops). '
                        . 'Events not yet delivered are kept until they are.')],
            ],
            'submit' => ['title' => $this->l('Save'), 'name' => 'submitPsinforSettings'],
        ]];
        $helper = new HelperForm();
        $helper->module = $this;
        $helper->name_controller = $this->name;
        $helper->table = $this->name;
        $helper->identifier = 'id_module';
        $helper->token = Tools::getAdminTokenLite('AdminModules');
        $helper->currentIndex = $this->context->link->getAdminLink('AdminModules', false)
            . '&configure=' . $this->name . '&tab_module=' . $this->tab . '&module_name=' . $this->name;
        $helper->default_form_language = (int) Configuration::get('PS_LANG_DEFAULT');
        $helper->allow_employee_form_lang = (int) Configuration::get('PS_BO_ALLOW_EMPLOYEE_FORM_LANG');
        $helper->submit_action = 'submitPsinforSettings';
        $helper->show_toolbar = false;
        $helper->fields_value = $values;

        return $helper->generateForm([$form]);
    }

    /**
     * The outbox panel: counts, the latest error, the failed rows, the actions and the cron line.
     *
     * @return string
     */
    public function renderOutboxPanel()
    {
        list(, $idShop) = $this->editedScope();
        $outbox = new PsinforOutbox();
        $stats = $outbox->stats($idShop);
        $e = [$this, 'escape'];
        $html = '<div class="panel" id="psinfor-outbox"><h3><i class="icon-envelope"></i> '
            . $e($this->l('Outbox')) . ($idShop ? '' : ' (' . $e($this->l('all shops')) . ')') . '</h3>';
        $html .= '<p>' . $e(sprintf($this->l('Pending: %d (%d being retried)%s. Failed, not retried: %d. '
            . 'Delivered and kept: %d.'), $stats['pending'], $stats['retrying'],
            $stats['oldest_pending_at'] ? ', ' . sprintf($this->l('oldest from %s'),
                date('Y-m-d H:i', $stats['oldest_pending_at'])) : '', $stats['failed'], $stats['delivered'])) . '</p>';
        if ($stats['last_error']) {
            $last = $stats['last_error'];
            $html .= '<div class="alert alert-warning">' . $e(sprintf($this->l('Last error (%s, event #%d %s): %s'),
                date('Y-m-d H:i', (int) $last['updated_at']), (int) $last['id_psinfor_outbox'], $last['event'],
                $last['last_error'])) . '</div>';
        }
        $failed = $outbox->rows(PsinforOutbox::FAILED, self::FAILED_SHOWN, $idShop);
        if ($failed) {
            $html .= '<table class="table"><thead><tr><th>#</th><th>' . $e($this->l('Shop')) . '</th><th>'
                . $e($this->l('Event')) . '</th><th>' . $e($this->l('Created')) . '</th><th>'
                . $e($this->l('Attempts')) . '</th><th>' . $e($this->l('Answer')) . '</th></tr></thead><tbody>';
            foreach ($failed as $row) {
                $html .= '<tr><td>' . (int) $row['id_psinfor_outbox'] . '</td><td>' . (int) $row['id_shop']
                    . '</td><td>' . $e($row['body']) . '</td><td>' . $e(date('Y-m-d H:i', (int) $row['created_at']))
                    . '</td><td>' . (int) $row['attempts'] . '</td><td>' . $e((string) $row['last_error'])
                    . '</td></tr>';
            }
            $html .= '</tbody></table>';
        }
        $action = $this->context->link->getAdminLink('AdminModules', true, [], ['configure' => $this->name]);
        $html .= '<form method="post" action="' . $e($action) . '" class="form-inline" style="margin-top:1em">'
            . '<button type="submit" name="submitPsinforSendNow" class="btn btn-primary">'
            . $e($this->l('Send pending now')) . '</button> '
            . '<button type="submit" name="submitPsinforRetryFailed" class="btn btn-default">'
            . $e($this->l('Queue failed events again')) . '</button> '
            . '<button type="submit" name="submitPsinforTest" class="btn btn-default">'
            . $e($this->l('Send test event')) . '</button></form>';
        $html .= '<h4>' . $e($this->l('Cron')) . '</h4><p>' . $e($this->l('Retries go out when this URL is called. '
            . 'Add this line to the shop server\'s crontab (every 5 minutes):')) . '</p><pre>'
            . $e('*/5 * * * * curl -fsS --max-time 60 "' . $this->cronUrl() . '" >/dev/null') . '</pre></div>';

        return $html;
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /**
     * @param string $text
     *
     * @return string
     */
    public function escape($text)
    {
        return htmlspecialchars((string) $text, ENT_QUOTES, 'UTF-8');
    }

    /**
     * The shop an event belongs to when its hook did not say: an order's own shop, else the context's.
     */
    private function shopOf(array $ids)
    {
        if (!empty($ids['id_order'])) {
            $idShop = (int) Db::getInstance()->getValue('SELECT `id_shop` FROM `' . _DB_PREFIX_ . 'orders`
                WHERE `id_order` = ' . (int) $ids['id_order']);
            if ($idShop > 0) {
                return $idShop;
            }
        }

        return $this->displayedShop();
    }

    /**
     * The context's shop, or the default shop when a group or all shops are selected.
     */
    private function displayedShop()
    {
        $idShop = (int) Shop::getContextShopID();
        if (!$idShop && isset($this->context->shop->id)) {
            $idShop = (int) $this->context->shop->id;
        }

        return $idShop ?: (int) Configuration::get('PS_SHOP_DEFAULT');
    }

    /**
     * The (group, shop) the configuration page edits: a shop, a group, or (null, null) for all shops.
     */
    private function editedScope()
    {
        $idShop = Shop::getContextShopID(true);
        $idGroup = Shop::getContextShopGroupID(true);

        return [$idGroup === null ? null : (int) $idGroup, $idShop === null ? null : (int) $idShop];
    }

    private function scopeDescription()
    {
        if (!Shop::isFeatureActive()) {
            return '';
        }
        list(, $idShop) = $this->editedScope();

        return $idShop
            ? sprintf($this->l('Multistore: these settings apply to the shop "%s" only.'), $this->context->shop->name)
            : $this->l('Multistore: these values are the defaults of every shop without its own settings. '
                . 'Select a shop to give it its own receiver, secret or connection.');
    }

    private function now()
    {
        return (int) ($this->clock ? call_user_func($this->clock) : time());
    }

    private static function log($message, $severity)
    {
        if (class_exists('PrestaShopLogger')) {
            PrestaShopLogger::addLog('psinfor: ' . $message, $severity, null, 'Psinfor', 0, true);
        }
    }
}
