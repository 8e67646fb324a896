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
 * The configuration page's rules, as a pure function of the submitted values.
 *
 * Invariant: nothing is saved unless every field is valid, and no error message ever repeats the secret.
 */
class PsinforConfigForm
{
    const MIN_SECRET_LENGTH = 16;
    const MAX_SECRET_LENGTH = 255;
    const MAX_URL_LENGTH = 255;
    const CONNECTION_PATTERN = '/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/';

    /**
     * @param array $input ['enabled' => bool, 'url' => string, 'secret' => string (empty: keep),
     *                     'connection' => string, 'events' => string[], 'retention_days' => string|int]
     * @param bool $secretIsSet whether this shop already has a secret
     *
     * @return array ['values' => array, 'errors' => string[]] (values are normalised; errors empty when valid)
     */
    public static function validate(array $input, $secretIsSet)
    {
        $errors = [];
        $enabled = !empty($input['enabled']);

        $url = trim(isset($input['url']) ? (string) $input['url'] : '');
        $urlError = self::urlError($url);
        if ($urlError !== null && ($url !== '' || $enabled)) {
            $errors[] = $urlError;
        }
        $url = rtrim($url, '/');

        $secret = isset($input['secret']) ? (string) $input['secret'] : '';
        if ($secret !== '') {
            $secretError = self::secretError($secret);
            if ($secretError !== null) {
                $errors[] = $secretError;
            }
        } elseif ($enabled && !$secretIsSet) {
            $errors[] = 'Enter the webhook secret (the WEBHOOK_SECRET of this connection in the middleware).';
        }

        $connection = trim(isset($input['connection']) ? (string) $input['connection'] : '');
        if ($connection === '') {
            $connection = PsinforSettings::DEFAULT_CONNECTION;
        } elseif (!preg_match(self::CONNECTION_PATTERN, $connection)) {
            $errors[] = 'The connection name has 1 to 64 letters, digits, "_", "-" or "." (for example "default").';
        }

        $events = [];
        $given = isset($input['events']) && is_array($input['events']) ? $input['events'] : [];
        foreach ($given as $event) {
            if (!in_array($event, PsinforEvents::names(), true)) {
                $errors[] = 'Unknown event "' . self::printable($event) . '".';
            } elseif (!in_array($event, $events, true)) {
                $events[] = $event;
            }
        }

        $days = isset($input['retention_days']) ? trim((string) $input['retention_days']) : '';
        if ($days === '') {
            $days = (string) PsinforSettings::DEFAULT_RETENTION_DAYS;
        }
        if (!ctype_digit($days) || (int) $days < 1 || (int) $days > 365) {
            $errors[] = 'Keep sent events for 1 to 365 days.';
        }

        return [
            'values' => [
                'enabled' => $enabled,
                'url' => $url,
                'secret' => $secret,
                'connection' => $connection,
                'events' => $events,
                'retention_days' => (int) $days,
            ],
            'errors' => $errors,
        ];
    }

    /**
     * @param string $url
     *
     * @return string|null why the receiver URL is not usable
     */
    public static function urlError($url)
    {
        if ($url === '') {
            return 'Enter the receiver URL (for example https://psinfor.example.com).';
        }
        if (strlen($url) > self::MAX_URL_LENGTH) {
            return 'The receiver URL is longer than ' . self::MAX_URL_LENGTH . ' characters.';
        }
        $parts = parse_url($url);
        if ($parts === false || !filter_var($url, FILTER_VALIDATE_URL) || empty($parts['host'])
            || !isset($parts['scheme']) || !in_array(strtolower($parts['scheme']), ['http', 'https'], true)) {
            return 'The receiver URL must be an http:// or https:// address.';
        }
        if (isset($parts['user']) || isset($parts['pass'])) {
            return 'The receiver URL must not contain a user name or password.';
        }
        if (isset($parts['query']) || isset($parts['fragment'])) {
            return 'The receiver URL must not have a query string or a fragment.';
        }
        if (isset($parts['path']) && preg_match('#/webhooks(/|$)#', $parts['path'])) {
            return 'Enter the receiver\'s base URL only: the module adds /webhooks/prestashop/<connection> itself.';
        }

        return null;
    }

    /**
     * @param string $secret
     *
     * @return string|null why the secret is not usable (never containing the secret)
     */
    public static function secretError($secret)
    {
        if (strlen($secret) < self::MIN_SECRET_LENGTH || strlen($secret) > self::MAX_SECRET_LENGTH) {
            return 'The secret has ' . self::MIN_SECRET_LENGTH . ' to ' . self::MAX_SECRET_LENGTH . ' characters.';
        }
        if (preg_match('/\s/', $secret)) {
            return 'The secret must not contain spaces or line breaks.';
        }
        if (!preg_match('//u', $secret)) {
            return 'The secret must be UTF-8 text.';
        }
        if (strpos($secret, PsinforSigner::WHSEC_PREFIX) === 0) {
            $key = PsinforSigner::strictBase64Decode(substr($secret, strlen(PsinforSigner::WHSEC_PREFIX)));
            if ($key === null || strlen($key) < self::MIN_SECRET_LENGTH) {
                return 'A "whsec_" secret is followed by base64 of at least ' . self::MIN_SECRET_LENGTH . ' bytes.';
            }
        }

        return null;
    }

    private static function printable($value)
    {
        $text = is_scalar($value) ? (string) $value : gettype($value);

        return substr(preg_replace('/[^\x20-\x7e]/', '?', $text), 0, 64);
    }
}
