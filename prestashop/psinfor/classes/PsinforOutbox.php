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
 * The outbox table: every event is a row written in the request that caused it, before any delivery is tried.
 *
 * Invariants: a row keeps its Webhook-Id for life (so a retried delivery is recognised by the receiver); a row
 * leaves "pending" only on a 2xx ("delivered") or a non-retryable answer ("failed"); pending rows are never
 * pruned; delivered and failed rows are deleted once older than the retention. A row is sent by one process at a
 * time: it is claimed with a short lease (locked_until) by a conditional UPDATE. Times are unix seconds, computed
 * in PHP, so the SQL is plain and portable.
 */
class PsinforOutbox
{
    const TABLE = 'psinfor_outbox';
    const PENDING = 'pending';
    const DELIVERED = 'delivered';
    const FAILED = 'failed';
    const LEASE_SECONDS = 120;
    const ERROR_LENGTH = 255;

    /** @var Db */
    private $db;

    /**
     * @param Db|null $db
     */
    public function __construct($db = null)
    {
        $this->db = $db ?: Db::getInstance();
    }

    /**
     * @return string the table's full name
     */
    public static function table()
    {
        return _DB_PREFIX_ . self::TABLE;
    }

    /**
     * @return bool
     */
    public function createTable()
    {
        return (bool) $this->db->execute('CREATE TABLE IF NOT EXISTS `' . self::table() . '` (
            `id_psinfor_outbox` INT(10) UNSIGNED NOT NULL AUTO_INCREMENT,
            `id_shop` INT(10) UNSIGNED NOT NULL,
            `webhook_id` VARCHAR(128) NOT NULL,
            `event` VARCHAR(64) NOT NULL,
            `body` TEXT NOT NULL,
            `status` VARCHAR(16) NOT NULL,
            `attempts` INT(10) UNSIGNED NOT NULL DEFAULT 0,
            `next_attempt_at` INT(10) UNSIGNED NOT NULL DEFAULT 0,
            `locked_until` INT(10) UNSIGNED NOT NULL DEFAULT 0,
            `last_status` INT(10) NOT NULL DEFAULT 0,
            `last_error` VARCHAR(255) NULL,
            `created_at` INT(10) UNSIGNED NOT NULL,
            `updated_at` INT(10) UNSIGNED NOT NULL,
            `delivered_at` INT(10) UNSIGNED NULL,
            PRIMARY KEY (`id_psinfor_outbox`),
            UNIQUE KEY `psinfor_outbox_webhook_id` (`webhook_id`),
            KEY `psinfor_outbox_due` (`status`, `next_attempt_at`)
        ) ENGINE=' . _MYSQL_ENGINE_ . ' DEFAULT CHARSET=utf8mb4');
    }

    /**
     * @return bool
     */
    public function dropTable()
    {
        return (bool) $this->db->execute('DROP TABLE IF EXISTS `' . self::table() . '`');
    }

    /**
     * Write one event, due at once.
     *
     * @param int $idShop
     * @param string $event
     * @param string $webhookId
     * @param string $body the exact JSON that will be signed and sent
     * @param int $now
     *
     * @return int the row's id
     */
    public function enqueue($idShop, $event, $webhookId, $body, $now)
    {
        $ok = $this->db->execute('INSERT INTO `' . self::table() . '`
            (`id_shop`, `webhook_id`, `event`, `body`, `status`, `attempts`, `next_attempt_at`, `locked_until`,
             `last_status`, `created_at`, `updated_at`)
            VALUES (' . (int) $idShop . ", '" . pSQL($webhookId) . "', '" . pSQL($event) . "', '"
            . pSQL($body, true) . "', '" . self::PENDING . "', 0, " . (int) $now . ', 0, 0, ' . (int) $now . ', '
            . (int) $now . ')');
        if (!$ok) {
            throw new RuntimeException('psinfor: the outbox row could not be written');
        }

        return (int) $this->db->Insert_ID();
    }

    /**
     * Pending rows that may be sent now, oldest first, after `$afterId` (a cursor, so skipped rows are not read
     * again in the same run).
     *
     * @param int $now
     * @param int $limit
     * @param bool $ignoreSchedule true for "send pending now": do not wait for the backoff
     * @param int $afterId
     * @param int[]|null $onlyIds only these rows (the ones this request wrote)
     *
     * @return array[]
     */
    public function due($now, $limit, $ignoreSchedule = false, $afterId = 0, $onlyIds = null)
    {
        $where = ["`status` = '" . self::PENDING . "'", '`locked_until` <= ' . (int) $now,
            '`id_psinfor_outbox` > ' . (int) $afterId];
        if (!$ignoreSchedule) {
            $where[] = '`next_attempt_at` <= ' . (int) $now;
        }
        if ($onlyIds !== null) {
            if (!$onlyIds) {
                return [];
            }
            $where[] = '`id_psinfor_outbox` IN (' . implode(',', array_map('intval', $onlyIds)) . ')';
        }
        $rows = $this->db->executeS('SELECT * FROM `' . self::table() . '` WHERE ' . implode(' AND ', $where)
            . ' ORDER BY `id_psinfor_outbox` ASC LIMIT ' . max(1, (int) $limit));

        return is_array($rows) ? $rows : [];
    }

    /**
     * Take a row for one delivery attempt; false when another process has it (or it is no longer pending).
     *
     * @param int $id
     * @param int $now
     *
     * @return bool
     */
    public function claim($id, $now)
    {
        $this->db->execute('UPDATE `' . self::table() . '` SET `locked_until` = ' . ((int) $now + self::LEASE_SECONDS)
            . ' WHERE `id_psinfor_outbox` = ' . (int) $id . " AND `status` = '" . self::PENDING . "'"
            . ' AND `locked_until` <= ' . (int) $now);

        return (int) $this->db->Affected_Rows() === 1;
    }

    /**
     * @param int $id
     * @param int $httpStatus
     * @param int $now
     */
    public function markDelivered($id, $httpStatus, $now)
    {
        $this->update($id, '`status` = \'' . self::DELIVERED . '\', `attempts` = `attempts` + 1, `last_status` = '
            . (int) $httpStatus . ', `last_error` = NULL, `delivered_at` = ' . (int) $now, $now);
    }

    /**
     * @param int $id
     * @param int $httpStatus 0 when no answer came
     * @param string $error
     * @param int $nextAttemptAt
     * @param int $now
     */
    public function markRetry($id, $httpStatus, $error, $nextAttemptAt, $now)
    {
        $this->update($id, '`attempts` = `attempts` + 1, `last_status` = ' . (int) $httpStatus
            . ", `last_error` = '" . pSQL(self::clip($error)) . "', `next_attempt_at` = " . (int) $nextAttemptAt, $now);
    }

    /**
     * @param int $id
     * @param int $httpStatus
     * @param string $error
     * @param int $now
     */
    public function markFailed($id, $httpStatus, $error, $now)
    {
        $this->update($id, '`status` = \'' . self::FAILED . '\', `attempts` = `attempts` + 1, `last_status` = '
            . (int) $httpStatus . ", `last_error` = '" . pSQL(self::clip($error)) . "'", $now);
    }

    /**
     * Give a claimed row back untouched (not attempted in this run).
     *
     * @param int $id
     */
    public function release($id)
    {
        $this->db->execute('UPDATE `' . self::table() . '` SET `locked_until` = 0 WHERE `id_psinfor_outbox` = '
            . (int) $id);
    }

    /**
     * Failed rows go back to pending, due now (after the operator fixed the cause).
     *
     * @param int|null $idShop
     * @param int $now
     *
     * @return int rows re-queued
     */
    public function requeueFailed($idShop, $now)
    {
        $this->db->execute('UPDATE `' . self::table() . "` SET `status` = '" . self::PENDING . "', `next_attempt_at` = "
            . (int) $now . ', `locked_until` = 0, `updated_at` = ' . (int) $now . " WHERE `status` = '"
            . self::FAILED . "'" . self::shopFilter($idShop));

        return (int) $this->db->Affected_Rows();
    }

    /**
     * Delete delivered and failed rows last touched more than `$days` days ago. Pending rows stay.
     *
     * @param int $days
     * @param int $now
     *
     * @return int rows deleted
     */
    public function prune($days, $now)
    {
        $cutoff = (int) $now - max(1, (int) $days) * 86400;
        $this->db->execute('DELETE FROM `' . self::table() . "` WHERE `status` IN ('" . self::DELIVERED . "', '"
            . self::FAILED . "') AND `updated_at` < " . $cutoff);

        return (int) $this->db->Affected_Rows();
    }

    /**
     * Counts per status, the oldest pending row's age and the latest error, for the back office.
     *
     * @param int|null $idShop null: every shop
     *
     * @return array
     */
    public function stats($idShop = null)
    {
        $stats = [self::PENDING => 0, self::DELIVERED => 0, self::FAILED => 0, 'retrying' => 0,
            'oldest_pending_at' => null, 'last_error' => null];
        $filter = self::shopFilter($idShop);
        $rows = $this->db->executeS('SELECT `status`, COUNT(*) AS `n`, MIN(`created_at`) AS `oldest`,
            SUM(CASE WHEN `attempts` > 0 THEN 1 ELSE 0 END) AS `tried`
            FROM `' . self::table() . '` WHERE 1 = 1' . $filter . ' GROUP BY `status`');
        foreach (is_array($rows) ? $rows : [] as $row) {
            $stats[$row['status']] = (int) $row['n'];
            if ($row['status'] === self::PENDING) {
                $stats['oldest_pending_at'] = (int) $row['oldest'];
                $stats['retrying'] = (int) $row['tried'];
            }
        }
        $last = $this->db->getRow('SELECT `id_psinfor_outbox`, `event`, `last_status`, `last_error`, `updated_at`
            FROM `' . self::table() . "` WHERE `last_error` IS NOT NULL AND `status` <> '" . self::DELIVERED . "'"
            . $filter . ' ORDER BY `updated_at` DESC, `id_psinfor_outbox` DESC');
        if (is_array($last) && $last) {
            $stats['last_error'] = $last;
        }

        return $stats;
    }

    /**
     * The newest rows in one status (the back office lists the failed ones).
     *
     * @param string $status
     * @param int $limit
     * @param int|null $idShop
     *
     * @return array[]
     */
    public function rows($status, $limit, $idShop = null)
    {
        $rows = $this->db->executeS('SELECT * FROM `' . self::table() . "` WHERE `status` = '" . pSQL($status) . "'"
            . self::shopFilter($idShop) . ' ORDER BY `id_psinfor_outbox` DESC LIMIT ' . max(1, (int) $limit));

        return is_array($rows) ? $rows : [];
    }

    /**
     * @param int $id
     *
     * @return array|null
     */
    public function find($id)
    {
        $row = $this->db->getRow('SELECT * FROM `' . self::table() . '` WHERE `id_psinfor_outbox` = ' . (int) $id);

        return is_array($row) && $row ? $row : null;
    }

    private function update($id, $set, $now)
    {
        $this->db->execute('UPDATE `' . self::table() . '` SET ' . $set . ', `locked_until` = 0, `updated_at` = '
            . (int) $now . ' WHERE `id_psinfor_outbox` = ' . (int) $id);
    }

    private static function shopFilter($idShop)
    {
        return $idShop ? ' AND `id_shop` = ' . (int) $idShop : '';
    }

    private static function clip($text)
    {
        $text = trim(preg_replace('/\s+/', ' ', (string) $text));

        return function_exists('mb_substr') ? mb_substr($text, 0, self::ERROR_LENGTH, 'UTF-8')
            : substr($text, 0, self::ERROR_LENGTH);
    }
}
