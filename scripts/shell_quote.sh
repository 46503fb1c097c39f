# Quotes words for a shell, so that a command printed for a person can be
# pasted back as it ran: a word of only safe characters stays as it is,
# any other is put in single quotes ('!', '$', spaces, quotes and all;
# a single quote becomes '\''). Sourced by scripts/demo.sh.

# shell_quote WORD...: the words, quoted, separated by spaces.
shell_quote() {
	local out="" w q
	for w in "$@"; do
		if [[ -n $w && $w =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
			q=$w
		else
			q="'${w//\'/\'\\\'\'}'"
		fi
		out+="${out:+ }$q"
	done
	printf '%s' "$out"
}
