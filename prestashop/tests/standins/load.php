<?php
/**
 * The module exactly as it ships, on the PrestaShop stand-ins (for PHPUnit and the CLI harness in bin/).
 */
error_reporting(E_ALL);
require __DIR__ . '/prestashop.php';
require dirname(dirname(__DIR__)) . '/psinfor/psinfor.php';
require dirname(dirname(__DIR__)) . '/psinfor/controllers/front/cron.php';
require __DIR__ . '/RecordingTransport.php';
