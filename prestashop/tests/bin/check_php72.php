<?php
/**
 * Refuses syntax and functions newer than PHP 7.2 in the module (PrestaShop 1.7.8 runs on PHP 7.1-7.4, 8.x on
 * 7.2-8.3), since `php -l` on this machine's PHP 8 accepts them. Token-based; reports file:line: what.
 *
 * Usage: php check_php72.php FILE... ; exit status 1 when anything is found.
 */
const NEWER_FUNCTIONS = [
    // 7.3
    'array_key_first', 'array_key_last', 'hrtime', 'is_countable', 'net_get_interfaces',
    // 7.4
    'get_mangled_object_vars', 'mb_str_split', 'password_algos',
    // 8.0
    'str_contains', 'str_starts_with', 'str_ends_with', 'fdiv', 'get_debug_type', 'get_resource_id',
    'preg_last_error_msg',
    // 8.1+
    'array_is_list', 'enum_exists', 'json_validate', 'mb_str_pad', 'str_increment', 'str_decrement',
];
const NEWER_CONSTANTS = ['JSON_THROW_ON_ERROR', 'PASSWORD_ARGON2ID', 'MB_CASE_FOLD_SIMPLE'];
const NEWER_TYPES = ['mixed', 'never', 'null', 'false', 'true'];

function significant(array $tokens, $i, $step)
{
    for ($j = $i + $step; $j >= 0 && $j < count($tokens); $j += $step) {
        $t = $tokens[$j];
        if (is_array($t) && in_array($t[0], [T_WHITESPACE, T_COMMENT, T_DOC_COMMENT], true)) {
            continue;
        }

        return $j;
    }

    return null;
}

function text($token)
{
    return is_array($token) ? $token[1] : $token;
}

function is_token($token, $name)
{
    return is_array($token) && defined($name) && $token[0] === constant($name);
}

function check_file($path)
{
    $problems = [];
    $tokens = token_get_all(file_get_contents($path));
    $line = 1;
    $parens = []; // for each open "(" or "[": 'call', 'array', 'signature', 'catch', 'other'
    $signatureDepth = null;
    $inDefault = false;
    $classDepth = [];
    $braces = 0;
    foreach ($tokens as $i => $token) {
        if (is_array($token)) {
            $line = $token[2];
        }
        $prev = significant($tokens, $i, -1);
        $next = significant($tokens, $i, 1);
        $prevT = $prev === null ? null : $tokens[$prev];
        $nextT = $next === null ? null : $tokens[$next];
        $report = function ($what) use (&$problems, $path, &$line) {
            $problems[] = $path . ':' . $line . ': ' . $what;
        };

        foreach (['T_MATCH' => 'match (8.0)', 'T_NULLSAFE_OBJECT_OPERATOR' => 'nullsafe ?-> (8.0)',
            'T_FN' => 'arrow function fn (7.4)', 'T_COALESCE_EQUAL' => '??= (7.4)', 'T_ATTRIBUTE' => 'attribute (8.0)',
            'T_READONLY' => 'readonly (8.1)', 'T_ENUM' => 'enum (8.1)'] as $name => $what) {
            if (is_token($token, $name)) {
                $report($what);
            }
        }
        if ((is_token($token, 'T_LNUMBER') || is_token($token, 'T_DNUMBER')) && strpos($token[1], '_') !== false) {
            $report('numeric literal separator (7.4)');
        }
        if (is_token($token, 'T_END_HEREDOC') && preg_match('/^\s/', $token[1])) {
            $report('indented heredoc end (7.3)');
        }
        if (is_token($token, 'T_STRING')) {
            $name = strtolower($token[1]);
            $called = $nextT === '(' && !(is_token($prevT, 'T_OBJECT_OPERATOR') || is_token($prevT, 'T_DOUBLE_COLON')
                || is_token($prevT, 'T_FUNCTION') || is_token($prevT, 'T_NEW'));
            if ($called && in_array($name, NEWER_FUNCTIONS, true)) {
                $report($token[1] . '() (after 7.2)');
            }
            if (in_array($token[1], NEWER_CONSTANTS, true)) {
                $report($token[1] . ' (after 7.2)');
            }
            // named argument: "(name:" or ", name:" inside a call
            if ($nextT === ':' && ($prevT === '(' || $prevT === ',') && $parens && end($parens) === 'call') {
                $report('named argument ' . $token[1] . ': (8.0)');
            }
        }
        if (is_token($token, 'T_VARIABLE') && is_token($nextT, 'T_DOUBLE_COLON')) {
            $after = significant($tokens, $next, 1);
            if ($after !== null && is_token($tokens[$after], 'T_CLASS')) {
                $report('$object::class (8.0)');
            }
        }
        // typed property: a modifier followed by a type instead of the variable
        if (is_token($token, 'T_PUBLIC') || is_token($token, 'T_PROTECTED') || is_token($token, 'T_PRIVATE')
            || is_token($token, 'T_VAR')) {
            $j = $next;
            while ($j !== null && (is_token($tokens[$j], 'T_STATIC') || is_token($tokens[$j], 'T_ABSTRACT')
                || is_token($tokens[$j], 'T_FINAL'))) {
                $j = significant($tokens, $j, 1);
            }
            if ($j !== null && $classDepth && end($classDepth) === $braces && !is_token($tokens[$j], 'T_VARIABLE')
                && !is_token($tokens[$j], 'T_FUNCTION') && !is_token($tokens[$j], 'T_CONST')) {
                $report('typed property or promoted parameter (7.4/8.0)');
            }
        }
        if (is_token($token, 'T_CLASS') && !is_token($prevT, 'T_DOUBLE_COLON')) {
            $classDepth[] = $braces + 1;
        }
        if (is_token($token, 'T_ELLIPSIS') && $parens && end($parens) === 'array') {
            $report('spread in an array literal (7.4)');
        }
        if (is_token($token, 'T_FUNCTION')) {
            $signatureDepth = count($parens) + 1;
        }

        if ($token === '(' || $token === '[') {
            if ($token === '[') {
                $kind = 'array';
            } elseif ($signatureDepth === count($parens) + 1) {
                $kind = 'signature';
                $inDefault = false;
            } elseif (is_token($prevT, 'T_ARRAY') || is_token($prevT, 'T_LIST')) {
                $kind = 'array';
            } elseif (is_token($prevT, 'T_CATCH')) {
                $kind = 'catch';
            } elseif (is_token($prevT, 'T_STRING') || is_token($prevT, 'T_VARIABLE') || $prevT === ')'
                || $prevT === ']' || is_token($prevT, 'T_NAME_QUALIFIED') || is_token($prevT, 'T_NAME_FULLY_QUALIFIED')
                || is_token($prevT, 'T_ISSET') || is_token($prevT, 'T_UNSET') || is_token($prevT, 'T_EMPTY')) {
                $kind = 'call';
            } else {
                $kind = 'other';
            }
            $parens[] = $kind;
        } elseif ($token === ')' || $token === ']') {
            $kind = array_pop($parens);
            if ($prevT === ',' && $kind === 'signature') {
                $report('trailing comma in a parameter list (8.0)');
            } elseif ($prevT === ',' && $kind === 'call') {
                $report('trailing comma in a call (7.3)');
            }
            if ($kind === 'catch' && !is_token($prevT, 'T_VARIABLE')) {
                $report('catch without a variable (8.0)');
            }
            if ($kind === 'signature') {
                $signatureDepth = null;
                // return type: ": type" — look for union types and newer type names up to "{" or ";"
                if ($nextT === ':') {
                    for ($j = significant($tokens, $next, 1); $j !== null; $j = significant($tokens, $j, 1)) {
                        $t = $tokens[$j];
                        if ($t === '{' || $t === ';') {
                            break;
                        }
                        if ($t === '|') {
                            $report('union return type (8.0)');
                        }
                        if (is_token($t, 'T_STATIC') || (is_token($t, 'T_STRING')
                            && in_array(strtolower($t[1]), NEWER_TYPES, true))) {
                            $report('return type ' . text($t) . ' (8.0)');
                        }
                    }
                }
            }
        } elseif ($parens && end($parens) === 'signature' && count($parens) === ($signatureDepth ?: -1)) {
            if ($token === '=') {
                $inDefault = true;
            } elseif ($token === ',') {
                $inDefault = false;
            } elseif (!$inDefault && $token === '|') {
                $report('union parameter type (8.0)');
            } elseif (!$inDefault && is_token($token, 'T_STRING')
                && in_array(strtolower($token[1]), NEWER_TYPES, true)) {
                $report('parameter type ' . $token[1] . ' (8.0)');
            }
        }
        if ($token === '{' || is_token($token, 'T_CURLY_OPEN') || is_token($token, 'T_DOLLAR_OPEN_CURLY_BRACES')) {
            ++$braces;
        } elseif ($token === '}') {
            if ($classDepth && end($classDepth) === $braces) {
                array_pop($classDepth);
            }
            --$braces;
        }
    }

    return $problems;
}

$problems = [];
foreach (array_slice($argv, 1) as $path) {
    $problems = array_merge($problems, check_file($path));
}
foreach ($problems as $problem) {
    echo $problem, PHP_EOL;
}
exit($problems ? 1 : 0);
