<?php
// Parses generated PHP and finds injected `pwned` names or text outside PHP mode.
// Usage: php check.php <file>...
$problems = 0;
foreach (array_slice($argv, 1) as $path) {
    $source = file_get_contents($path);
    try {
        $tokens = token_get_all($source, TOKEN_PARSE);
    } catch (ParseError $e) {
        $problems++;
        echo "PARSE $path: line {$e->getLine()}: {$e->getMessage()}\n";
        continue;
    }
    foreach ($tokens as $i => $token) {
        if (!is_array($token)) {
            continue;
        }
        [$id, $text, $line] = $token;
        if (($id === T_STRING || $id === T_NAME_QUALIFIED) && strcasecmp($text, 'pwned') === 0) {
            $problems++;
            echo "INJECTED $path: line $line\n";
        }
        // Everything after the opening tag is PHP; inline text means a closing tag escaped.
        if ($id === T_INLINE_HTML || ($id === T_CLOSE_TAG && $i < count($tokens) - 1)) {
            $problems++;
            echo "INJECTED $path: line $line leaves PHP mode\n";
        }
    }
}
exit($problems ? 1 : 0);
