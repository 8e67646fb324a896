<?php
/**
 * PHPUnit bootstrap: the module on the PrestaShop stand-ins, and the tests' base class.
 */
require __DIR__ . '/standins/load.php';
require __DIR__ . '/unit/PsinforTestCase.php';
