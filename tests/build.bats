#!/usr/bin/env bats
# The build on a fresh machine: make demo, the README's first command,
# must install the packages (make deps) before it asks pkg-config for their
# flags, and a library still missing must stop the build with the name of
# its Debian package.  The fresh machine is simulated in a copy of the
# tree: pkg-config, dpkg-query, apt-get and id on PATH are stand-ins that
# hide libarchive-dev and libisal-dev until the stand-in apt-get has
# "installed" them (the real headers stay where they are).

load helper

setup() {
	gb_setup
	unset MAKEFLAGS MFLAGS MAKELEVEL GNUPGHOME GB_CATALOG
	SRC=$W/src
	mkdir -p "$SRC"
	(cd "$TOP" && cp -r Makefile lib src share scripts bin tests "$SRC"/)
	make -s -C "$SRC" clean >/dev/null
	FAKE=$W/fake
	mkdir -p "$FAKE/bin" "$FAKE/pc"
	# pkg-config's modules without libarchive and libisal
	for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
		if [ -d "$d" ]; then
			find "$d" -maxdepth 1 -name '*.pc' -exec cp {} "$FAKE/pc" \;
		fi
	done
	rm -f "$FAKE/pc/libarchive.pc" "$FAKE/pc/libisal.pc"
	cat >"$FAKE/bin/pkg-config" <<-EOF
	#!/bin/sh
	[ -e "$FAKE/installed" ] || export PKG_CONFIG_LIBDIR="$FAKE/pc"
	exec /usr/bin/pkg-config "\$@"
	EOF
	cat >"$FAKE/bin/dpkg-query" <<-EOF
	#!/bin/sh
	case "\$*" in
	*libarchive-dev|*libisal-dev) [ -e "$FAKE/installed" ] || exit 1;;
	esac
	exec /usr/bin/dpkg-query "\$@"
	EOF
	cat >"$FAKE/bin/apt-get" <<-EOF
	#!/bin/sh
	echo "apt-get \$*" >>"$FAKE/apt.log"
	case "\$1" in install) touch "$FAKE/installed";; esac
	EOF
	printf '#!/bin/sh\necho 0\n' >"$FAKE/bin/id"
	chmod +x "$FAKE"/bin/*
	FRESH_PATH="$FAKE/bin:$PATH"
}
teardown() { gb_teardown; }

@test "make demo on a fresh machine: deps installs the libraries, then the first run builds and runs the demo" {
	PATH=$FRESH_PATH DEMO_ROWS=300 run -0 make -C "$SRC" demo CFLAGS=-O0
	assert_output --partial 'deps: installing: libarchive-dev libisal-dev'
	assert_output --partial 'demo: all steps passed'
	# apt-get ran once, before anything was compiled
	run -0 cat "$FAKE/apt.log"
	assert_line --index 0 'apt-get update -qq'
	assert_line --index 1 --regexp '^apt-get install -y -qq --no-install-recommends +libarchive-dev libisal-dev$'
	assert_equal "${#lines[@]}" 2
	run -0 "$SRC/bin/gb-pack" -h
	# and make install keeps working
	PATH=$FRESH_PATH run -0 make -C "$SRC" install PREFIX=/usr DESTDIR="$W/stage"
	[ -x "$W/stage/usr/bin/gb-restore" ]
	[ -f "$W/stage/usr/share/man/man5/gb-manifest.5" ]
	[ -f "$W/stage/usr/share/gymbackup/gymbackup.conf" ]
}

@test "a library pkg-config cannot find stops the build at once, naming its Debian package" {
	PATH=$FRESH_PATH run -2 make -C "$SRC" all
	assert_output --partial 'pkg-config cannot find libarchive libisal: install the Debian packages libarchive-dev libisal-dev (make deps does, as root) and run make again.  Stop.'
	refute_output --partial 'error:'	# no compiler ran
	run -0 find "$SRC" -name '*.o'
	assert_output ''
	# no pkg-config at all
	mkdir "$FAKE/nopc"
	for t in sh cc gcc make rm mkdir sed mv ar cat; do
		ln -s "$(command -v "$t")" "$FAKE/nopc/$t"
	done
	PATH=$FAKE/nopc run -2 make -C "$SRC" all
	assert_output --partial 'there is no pkg-config: install the Debian packages pkg-config'
}

@test "make demo installs no benchmark tool (restic); make bench installs its own (scripts/deps.sh groups)" {
	# restic, GNU time and valgrind not installed either
	cat >"$FAKE/bin/dpkg-query" <<-EOF
	#!/bin/sh
	case "\$*" in
	*restic|*" time"|*valgrind) exit 1;;
	*libarchive-dev|*libisal-dev) [ -e "$FAKE/installed" ] || exit 1;;
	esac
	exec /usr/bin/dpkg-query "\$@"
	EOF
	run -0 make -n -C "$SRC" demo bench memcheck
	assert_line --regexp '^sh scripts/deps.sh demo$'
	assert_line --regexp '^sh scripts/deps.sh bench$'
	assert_line --regexp '^sh scripts/deps.sh memcheck$'
	(cd "$SRC" && PATH=$FRESH_PATH run -0 sh scripts/deps.sh demo)
	run -0 cat "$FAKE/apt.log"
	assert_line --index 1 --regexp '^apt-get install -y -qq --no-install-recommends +libarchive-dev libisal-dev$'
	rm -f "$FAKE/apt.log" "$FAKE/installed"
	(cd "$SRC" && PATH=$FRESH_PATH run -0 sh scripts/deps.sh bench)
	run -0 cat "$FAKE/apt.log"
	assert_line --index 1 --regexp '^apt-get install -y -qq --no-install-recommends +libarchive-dev libisal-dev time restic$'
	rm -f "$FAKE/apt.log" "$FAKE/installed"
	(cd "$SRC" && PATH=$FRESH_PATH run -0 sh scripts/deps.sh)
	run -0 cat "$FAKE/apt.log"
	assert_line --index 1 --regexp '^apt-get install -y -qq --no-install-recommends +libarchive-dev libisal-dev time$'
}
