#!/usr/bin/env bash
# The documentation kept in step with the tool (host only, TAP):
#   - for every command `cowlab help` lists, and for cowlab itself, the long options that
#     `cowlab CMD --help` lists (in its usage lines, or at the start of an option line) and
#     those in the OPTIONS section of docs/cowlab-CMD.md are the same set; each one missing on
#     either side is named;
#   - every command has its page and every docs/cowlab-*.md page a command;
#   - every page has the title line and the man-page sections, in order;
#   - every page converts to a man page (tools/md2man) that man renders without a warning;
#   - the README stays at most 250 lines and starts with the two commands.
# usage: tests/unit/test_docs.sh [COWLAB_BINARY]   (default build/bin/cowlab)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cowlab=${1:-$top/build/bin/cowlab}
docs=$top/docs
readme=$top/README.md
sections=(NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO")

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; }

# Long options of a --help text (stdin): every --word of the usage paragraph (the lines from
# "usage:" to the first blank one), and the leading option words of each line that starts,
# after blanks, with '-' (the option list; description lines do not start with '-').
help_longopts() {
	awk '
		function take(s) {
			while (match(s, /--[a-z][a-z0-9-]*/)) {
				print substr(s, RSTART, RLENGTH)
				s = substr(s, RSTART + RLENGTH)
			}
		}
		/^usage:/ { inuse = 1 }
		inuse && /^[ \t]*$/ { inuse = 0 }
		inuse { take($0); next }
		/^[ \t]+-/ {
			for (i = 1; i <= NF; i++) {
				if ($i !~ /^-/ || $i == "--") break
				w = $i; sub(/[,=].*$/, "", w)
				if (w ~ /^--[a-z]/) print w
			}
		}' | sort -u
}

# Long options of a page's OPTIONS section (file $1): every --word outside the definitions'
# bodies (lines starting with ':' and their indented continuation) and outside code blocks.
doc_longopts() {
	awk '
		/^```/ { code = !code; next }
		code { next }
		/^# / { inopt = ($0 == "# OPTIONS"); next }
		!inopt { next }
		/^:/ || /^[ \t]/ { next }
		{
			s = $0; gsub(/[*`\\]/, "", s)
			while (match(s, /--[a-z][a-z0-9-]*/)) {
				print substr(s, RSTART, RLENGTH)
				s = substr(s, RSTART + RLENGTH)
			}
		}' "$1" | sort -u
}

if [ ! -x "$cowlab" ]; then
	echo "1..1"
	echo "not ok 1 $cowlab is not built (make tools)"
	exit 1
fi

mapfile -t cmds < <("$cowlab" help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
[ ${#cmds[@]} -gt 0 ] || { echo "1..1"; echo "not ok 1 cowlab help lists no commands"; exit 1; }

pages=("" "${cmds[@]}")	# "" is cowlab itself: docs/cowlab.md and `cowlab --help`
echo "1..$(( ${#pages[@]} * 2 + 4 ))"

for c in "${pages[@]}"; do
	page=$docs/cowlab${c:+-$c}.md
	name=cowlab${c:+ $c}
	label=docs/${page##*/}

	# options: --help against the page
	if [ ! -f "$page" ]; then
		not_ok "$name: no page $label"
	else
		# shellcheck disable=SC2086
		h=$("$cowlab" $c --help 2>&1 | help_longopts)
		d=$(doc_longopts "$page")
		only_help=$(comm -23 <(printf '%s\n' $h) <(printf '%s\n' $d) | tr '\n' ' ')
		only_doc=$(comm -13 <(printf '%s\n' $h) <(printf '%s\n' $d) | tr '\n' ' ')
		if [ -z "$only_help$only_doc" ]; then
			ok "$name: $label OPTIONS match --help ($(printf '%s\n' $h | grep -c .) long options)"
		else
			not_ok "$name: $label OPTIONS differ from --help:${only_help:+ in --help only: $only_help}${only_doc:+ in the page only: $only_doc}"
		fi
	fi

	# sections, in order, and the title line go-md2man reads
	if [ ! -f "$page" ]; then
		not_ok "$name: no page $label"
		continue
	fi
	upper=$(echo "cowlab${c:+-$c}" | tr '[:lower:]' '[:upper:]')
	miss=()
	head -1 "$page" | grep -q "^% $upper 1 " || miss+=("title line '% $upper 1 ...'")
	prev=0
	for s in "${sections[@]}"; do
		l=$(grep -n -x "# $s" "$page" | head -1 | cut -d: -f1)
		if [ -z "$l" ]; then
			miss+=("'# $s'")
		elif [ "$l" -lt "$prev" ]; then
			miss+=("'# $s' out of order")
		else
			prev=$l
		fi
	done
	if [ ${#miss[@]} = 0 ]; then
		ok "$name: $label has its title and sections"
	else
		not_ok "$name: $label lacks ${miss[*]}"
	fi
done

# no page without a command
stale=()
for f in "$docs"/cowlab-*.md; do
	[ -e "$f" ] || continue
	c=${f##*/cowlab-}; c=${c%.md}
	printf '%s\n' "${cmds[@]}" | grep -qx -- "$c" || stale+=("${f#"$top"/}")
done
if [ ${#stale[@]} = 0 ]; then
	ok "every docs/cowlab-*.md page is a command of cowlab help"
else
	not_ok "pages of no command: ${stale[*]}"
fi

# the man pages (make man) render
if ! command -v go-md2man >/dev/null || ! command -v man >/dev/null; then
	n=$((n + 1)); echo "ok $n # SKIP go-md2man or man missing (make deps)"
else
	tmp=$(mktemp -d)
	bad=()
	for f in "$docs"/cowlab*.md; do
		m=$tmp/$(basename "$f" .md).1
		if ! "$top/tools/md2man" "$f" "$m" 2>"$tmp/err"; then
			bad+=("${f#"$top"/}: $(head -1 "$tmp/err")")
			continue
		fi
		w=$(MANWIDTH=100 man --warnings -l "$m" 2>&1 >"$tmp/out" | head -1)
		[ -s "$tmp/out" ] || w=${w:-"nothing rendered"}
		[ -z "$w" ] || bad+=("${f#"$top"/}: $w")
	done
	rm -rf "$tmp"
	if [ ${#bad[@]} = 0 ]; then
		ok "every docs/cowlab*.md renders as a man page without warnings"
	else
		not_ok "man pages: ${bad[*]}"
	fi
fi

# the README: short, and the two commands first
lines=$(wc -l <"$readme")
if [ "$lines" -le 250 ]; then
	ok "README.md is $lines lines (at most 250)"
else
	not_ok "README.md is $lines lines (at most 250)"
fi
first=$(awk '/^```/ { if (on) exit; on = 1; next } on' "$readme" | head -2 | awk '{ print $1, $2 }' | tr '\n' ' ')
if [ "$first" = "make bench make check " ]; then
	ok "README.md's first code block is make bench, make check"
else
	not_ok "README.md's first code block is not make bench, make check (found: $first)"
fi

echo "# $((n - failed)) passed, $failed failed"
[ $failed = 0 ]
