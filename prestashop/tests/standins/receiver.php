<?php
/**
 * A tiny HTTP receiver for `php -S` (TransportTest): /status/<code>[?retry_after=N], /slow, /redirect, /echo.
 */
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (preg_match('#^/status/(\d{3})$#', $path, $m)) {
    http_response_code((int) $m[1]);
    if (isset($_GET['retry_after'])) {
        header('Retry-After: ' . $_GET['retry_after']);
    }
    echo '{"status": ' . (int) $m[1] . '}';
} elseif ($path === '/slow') {
    sleep(1);
    echo 'late';
} elseif ($path === '/redirect') {
    header('Location: /echo', true, 302);
} elseif ($path === '/echo') {
    header('Content-Type: application/json');
    $headers = [];
    foreach ($_SERVER as $name => $value) {
        if (strpos($name, 'HTTP_') === 0 || $name === 'CONTENT_TYPE') {
            $headers[$name] = $value;
        }
    }
    http_response_code(202);
    echo json_encode(['method' => $_SERVER['REQUEST_METHOD'], 'headers' => $headers,
        'body' => file_get_contents('php://input')]);
} else {
    http_response_code(404);
}
