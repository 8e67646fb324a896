<?php
/**
 * Signs webhook bodies with the module's own classes, for the cross-language contract test.
 *
 * stdin: {"secret": "...", "requests": [{"event", "shop_id", "ids": {...}, "occurred_at": unix,
 *         "webhook_id"?: "...", "timestamp"?: unix}]}
 * stdout: [{"body": "...", "headers": {...}}, ...]
 * With --catalogue: the module's events and their id fields.
 */
require dirname(__DIR__) . '/standins/load.php';

if (in_array('--catalogue', $argv, true)) {
    echo json_encode(PsinforEvents::CATALOGUE), PHP_EOL;
    exit(0);
}
$input = json_decode(stream_get_contents(STDIN), true);
$out = [];
foreach ($input['requests'] as $request) {
    $body = PsinforEvents::body($request['event'], $request['shop_id'], $request['ids'],
        isset($request['occurred_at']) ? $request['occurred_at'] : time());
    $id = isset($request['webhook_id']) ? $request['webhook_id'] : PsinforSigner::newWebhookId();
    $timestamp = isset($request['timestamp']) ? $request['timestamp'] : null;
    $out[] = ['body' => $body, 'headers' => PsinforSigner::headers($input['secret'], $id, $body, $timestamp)];
}
echo json_encode($out), PHP_EOL;
