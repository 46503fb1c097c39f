#!/bin/bash
# The demo prints its commands so that pasting them runs them as they ran:
# each tricky word, printed by scripts/shell_quote.sh's shell_quote and
# read back by bash (history expansion on, as in an interactive shell),
# is the word it was. And scripts/demo.sh prints through it.
# usage: demo_quoting.sh SOURCE_DIR
set -euo pipefail
src=$1
. "$src/scripts/shell_quote.sh"
words=("Curiouser and curiouser!" "it's" '$HOME' 'a"b' "" 'x;y' $'tab\there'
       '!!' 'back\slash' '*' '~' 'plain' 'bob@b.example' '--json' $'new\nline')
line=$(shell_quote "${words[@]}")
got=$(bash -ic "set -H; printf '%s\0' $line" 2>/dev/null | od -An -c)
want=$(printf '%s\0' "${words[@]}" | od -An -c)
if [ "$got" != "$want" ]; then
	echo "pasting the printed line does not give the words back:"
	echo "line: $line"; echo "got:  $got"; echo "want: $want"
	exit 1
fi
# Safe words stay unquoted, readable.
[ "$(shell_quote plain bob@b.example --json)" = "plain bob@b.example --json" ]
grep -q 'shell_quote "\$@"' "$src/scripts/demo.sh" || {
	echo "scripts/demo.sh does not print its commands with shell_quote"
	exit 1
}
echo ok
