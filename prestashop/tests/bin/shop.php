<?php
/**
 * A shop in a CLI process: the module, installed on PrestaShop stand-ins with its outbox in an SQLite file,
 * its real cURL transport, hooks fired as PrestaShop fires them. For the end-to-end tests.
 *
 * stdin: {"db": "/path/outbox.sqlite", "settings": {"url", "secret", "connection"?},
 *         "steps": [{"hook": "actionValidateOrder", "params": {"order": {"class": "Order", "id": 5, "id_shop": 1}}},
 *                   {"send_now": true}, {"cron": true}]}
 * stdout (after the module's own after-response delivery has run): {"results": [...], "rows": [outbox rows]}
 */
require dirname(__DIR__) . '/standins/load.php';

function standin_params(array $params)
{
    foreach ($params as $name => $value) {
        if (is_array($value) && isset($value['class'])) {
            $class = $value['class'];
            unset($value['class']);
            $params[$name] = new $class($value);
        }
    }

    return $params;
}

$input = json_decode(stream_get_contents(STDIN), true);
Db::reset($input['db']);
$module = new Psinfor();
$module->install();
$settings = $input['settings'] + ['enabled' => true, 'connection' => 'default', 'events' => PsinforEvents::names(),
    'retention_days' => 14];
$checked = PsinforConfigForm::validate($settings, false);
if ($checked['errors']) {
    fwrite(STDERR, implode(PHP_EOL, $checked['errors']) . PHP_EOL);
    exit(2);
}
PsinforSettings::save($checked['values'], null, null, time());

$results = [];
foreach ($input['steps'] as $step) {
    if (isset($step['hook'])) {
        $method = 'hook' . ucfirst($step['hook']);
        $results[] = ['hook' => $step['hook'], 'result' => $module->$method(standin_params($step['params']))];
    } elseif (!empty($step['send_now'])) {
        $results[] = ['send_now' => $module->delivery()->run(['ignore_schedule' => true])];
    } elseif (!empty($step['cron'])) {
        $results[] = ['cron' => $module->runCron(PsinforSettings::cronToken())];
    }
}
// Registered after the module's own shutdown function, so it reports what the after-response delivery did.
register_shutdown_function(function () use (&$results) {
    $rows = Db::getInstance()->executeS('SELECT * FROM `' . PsinforOutbox::table() . '` ORDER BY `id_psinfor_outbox`');
    echo json_encode(['results' => $results, 'rows' => $rows]), PHP_EOL;
});
