<?php
/**
 * PHPUnit (and CLI harness) bootstrap: PrestaShop stand-ins, then the module exactly as it ships.
 */
error_reporting(E_ALL);
require __DIR__ . '/standins/prestashop.php';
require dirname(__DIR__) . '/psinfor/psinfor.php';
require dirname(__DIR__) . '/psinfor/controllers/front/cron.php';
require __DIR__ . '/standins/RecordingTransport.php';
require __DIR__ . '/unit/PsinforTestCase.php';
