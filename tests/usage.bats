#!/usr/bin/env bats
# Every tool's conventions: --version, -h and --help, usage errors, and a
# usage text that is its man page's SYNOPSIS, every option in it described
# in the page.  The SYNOPSIS is read from the mdoc macros themselves (no
# mandoc on the machine): Nm starts a line, Op and Oo/Oc bracket, Fl
# prefixes a dash; spacing is normalised on both sides.

load helper

TOOLS="gb-export gb-pack gb-seal gb-write gb-verify gb-restore gb-catalog
gb-demodata gb-backup"

# synopsis TOOL: the SYNOPSIS of share/man/TOOL.1 as plain text
synopsis() {
	awk -v nm="$1" '
	/^\.Sh / { in_syn = ($2 == "SYNOPSIS"); next }
	!in_syn || !/^\./ { next }
	{
		sub(/^\./, "")
		n = split($0, w, /[ \t]+/)
		line = ""; close_op = 0; mode = ""
		for (i = 1; i <= n; i++) {
			t = w[i]
			if (t == "Nm") { out = out "\n" nm; continue }
			if (t == "Op") { line = line " ["; close_op++; continue }
			if (t == "Oo") { line = line " ["; continue }
			if (t == "Oc") { line = line " ]"; continue }
			if (t == "Fl" || t == "Ar" || t == "Cm") {
				mode = t
				if (t == "Fl" && (i == n || w[i + 1] ~ /^(\||Oc|Fl|Ar|Cm)$/))
					line = line " -"
				continue
			}
			if (t == "|" || t == "...") { line = line " " t; continue }
			line = line " " (mode == "Fl" ? "-" : "") t
		}
		for (; close_op > 0; close_op--)
			line = line " ]"
		out = out line
	}
	END { print substr(out, 2) }
	' "$TOP/share/man/$1.1" | norm
}

# norm: one space between words, none inside brackets or around a bar
norm() {
	tr -s ' \t\n' '   ' | sed -e 's/\[ /[/g' -e 's/ \]/]/g' -e 's/ *| */|/g' \
	    -e 's/^ //' -e 's/ $//'
}

# usage_of TOOL: its usage text without "usage:"
usage_of() {
	"$1" -h | sed -e 's/^usage: //' | norm
}

@test "usage: every tool prints its man page's SYNOPSIS as usage" {
	bad=
	for t in $TOOLS; do
		u=$(usage_of "$t")
		s=$(synopsis "$t")
		[ -n "$s" ] || fail "$t: no SYNOPSIS read"
		if [ "$u" != "$s" ]; then
			bad="$bad
$t usage:    $u
$t SYNOPSIS: $s"
		fi
	done
	[ -z "$bad" ] || fail "usage and SYNOPSIS differ:$bad"
}

@test "usage: every option of a usage text is described in the man page" {
	bad=
	for t in $TOOLS; do
		page="$TOP/share/man/$t.1"
		for o in $(usage_of "$t" | grep -oE '(^|[[ |])--?[A-Za-z][-A-Za-z]*' |
		    sed 's/^[[ |]//' | sort -u); do
			case $o in
			--*) want=("${o#--}") ;;
			# -qv: -q and -v, each
			*) want=($(echo "${o#-}" | grep -o .)) ;;
			esac
			for f in "${want[@]}"; do
				[ "$o" = "${o#--}" ] || f="-$f"
				# described: an .It of the option list, or text
				# past the SYNOPSIS that names it
				awk -v f="$f" '
				/^\.Sh / { past = ($2 != "NAME" && $2 != "SYNOPSIS") }
				past && /^\.(It|Fl|Op|Nm)/ {
					n = split($0, w, /[ \t]+/)
					for (i = 1; i < n; i++)
						if (w[i] == "Fl" && w[i + 1] == f)
							found = 1
				}
				END { exit !found }' "$page" ||
				    bad="$bad $t:-$f"
			done
		done
	done
	[ -z "$bad" ] || fail "options in usage but not described:$bad"
}

@test "usage: --version of every tool prints the one version, as the manifest's creator" {
	v=$(sed -n 's/^#define GB_VERSION "\(.*\)"/\1/p' "$TOP/lib/gb.h")
	[ -n "$v" ]
	for t in $TOOLS; do
		run --separate-stderr "$t" --version
		assert_success
		assert_output "$t (gymbackup) $v"
		[ -z "$stderr" ] || fail "$t: stderr: $stderr"
	done
	make_gym_db gym.db
	gb-export -s "sqlite:$W/gym.db" -o out
	grep -qx "creator	gymbackup $v" out/MANIFEST ||
	    fail "MANIFEST: $(grep creator out/MANIFEST)"
}

@test "usage: -h and --help print usage on stdout and exit 0; a bad option exits 2 with usage on stderr" {
	for t in $TOOLS; do
		for h in -h --help; do
			run --separate-stderr "$t" $h
			assert_success
			assert_line --index 0 --regexp "^usage: $t "
			[ -z "$stderr" ] || fail "$t $h: stderr: $stderr"
		done
		run --separate-stderr "$t" --no-such-option
		assert_failure 2
		[ -z "$output" ] || fail "$t: stdout: $output"
		[[ "$stderr" == *"usage: $t "* ]] || fail "$t: no usage on stderr: $stderr"
	done
}

@test "man pages: groff formats every page without a warning (non-ASCII text as \\[uXXXX] escapes, so no preconv is needed)" {
	command -v groff >/dev/null || skip "no groff"
	run --separate-stderr env LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$TOP"/share/man/*.[157]
	assert_success
	assert_equal "$stderr" ""
	# the Chinese of gb-catalog(1) and gb-demodata(1) comes out as it is
	run env LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$TOP/share/man/gb-catalog.1"
	assert_output --partial "quarterly assessment of growth (季度评估)"
	run env LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou "$TOP/share/man/gb-demodata.1"
	assert_output --partial "Chinese names such as ‘张伟’ and ‘欧阳娜娜’,"
}
