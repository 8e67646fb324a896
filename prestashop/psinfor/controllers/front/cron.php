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
 * The cron endpoint: index.php?fc=module&module=psinfor&controller=cron&token=<token>.
 *
 * Invariant: without the right token (compared in constant time) it does nothing and answers 403; with it, it
 * retries the due outbox rows and prunes old ones, and answers a JSON summary. It runs in maintenance mode and
 * for any visitor country, since the caller is the shop's own crontab.
 */
class PsinforCronModuleFrontController extends ModuleFrontController
{
    public $ajax = true;
    public $auth = false;
    public $guestAllowed = true;

    public function initContent()
    {
        if (function_exists('set_time_limit')) {
            @set_time_limit(120);
        }
        $result = $this->module->runCron(Tools::getValue('token'));
        http_response_code($result['status']);
        header('Content-Type: application/json');
        header('Cache-Control: no-store');
        $this->ajaxRender(json_encode($result['body']));
    }

    protected function displayMaintenancePage()
    {
        // The crontab must keep working while the shop is in maintenance.
    }

    protected function displayRestrictedCountryPage()
    {
        // Geolocation rules are for customers, not for the shop's own crontab.
    }
}
