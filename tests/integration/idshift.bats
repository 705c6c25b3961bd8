#!/usr/bin/env bats
# Moving a checkpoint to another id range (issue 10: a container migrating
# to a node where its range is taken). A real checkpoint of an unprivileged
# busybox container is shifted to another range and back with the
# test-only build/tests/vsd-test-idshift (vs_mig_image_shift_ids on the
# CRIU image, vs_fs_layer_shift on the image's copy of the layer): while
# shifted, the image names the other range and restore refuses it; after
# the round trip every file is byte for byte what the checkpoint wrote and
# the restore brings the container back with its memory. The restore on a
# node with another range is the migration code's test.
#
# Needs a criu that passes `criu check` (see checkpoint.bats); skipped
# otherwise. Each test destroys its containers in teardown.

load helpers
load cr-helpers

SHIFT_BIN="$VSD_REPO/build/tests/vsd-test-idshift"
# A range no container of this daemon gets (below 2^32 - 65536).
OTHER=3000000000

setup_file() {
	local why
	if why=$(cr_criu_unusable); then
		skip "checkpoint/restore unavailable: $why"
	fi
	[[ -x "$SHIFT_BIN" ]] || {
		echo "$SHIFT_BIN missing (run make test-tools)" >&2
		return 1
	}
	vsd_setup_file || return 1
	cr_restart_daemon "$CR_CRIU" || return 1
}
teardown_file() { vsd_teardown_file; }
teardown() { cr_teardown_test; }

# shift_ok KIND DIR FROM TO: run the tool, failing the test with its message.
shift_ok() {
	run --separate-stderr "$SHIFT_BIN" "$1" "$2" "$3" "$4" 65536
	[[ $status -eq 0 ]] || fail "vsd-test-idshift $*: status $status: $stderr"
}

@test "a checkpoint shifted to another id range and back is byte for byte the same and restores" {
	ct_create_started ids1 || fail "start ids1"
	local base img=$VSD_TMP/images/ids1 copy=$VSD_TMP/images/ids1.orig
	base=$(ct_field ids1 idmap.uid)
	[[ "$base" =~ ^[1-9][0-9]*$ ]] || fail "idmap.uid: $base"
	# The layer: a setuid file with a second link, a directory, a whiteout.
	in_ct ids1 sh -c 'mkdir /root/d && echo x >/root/d/f && ln /root/d/f /root/g &&
		chmod 4755 /root/d/f && rm /bin/true' || fail "write the layer"
	cr_start_counter ids1
	cr_wait_counter ids1 20
	mkdir -p "$VSD_TMP/images"
	run --separate-stderr vsctl checkpoint ids1 --dir "$img"
	assert_success
	assert_eq "$(ct_state ids1)" stopped state
	local frozen
	frozen=$(cr_counter ids1)
	cp -a "$img" "$copy"

	# Forward: the user namespace's maps name the other range, the files
	# vsd does not shift are untouched, restore refuses the image.
	shift_ok image "$img" "$base" "$OTHER"
	local f userns=0
	for f in "$copy"/*; do
		f=$(basename "$f")
		[[ -f "$copy/$f" ]] || continue
		case $f in
		userns-*.img)
			userns=$((userns + 1))
			! cmp -s "$copy/$f" "$img/$f" || fail "$f did not change"
			;;
		cgroup.img | netdev-*.img)
			# host ids only where CRIU recreates delegated cgroups or tuns
			cmp -s "$copy/$f" "$img/$f" || echo "$f: ids shifted"
			;;
		*) cmp "$copy/$f" "$img/$f" || fail "$f changed" ;;
		esac
	done
	((userns == 1)) || fail "expected one userns image, found $userns"
	shift_ok layer "$img/layer" "$base" "$OTHER"
	assert_eq "$(stat -c '%u:%g %a' "$img/layer/root/d/f")" "$((OTHER)):$((OTHER)) 4755" "shifted setuid file"
	assert_eq "$(stat -c '%h' "$img/layer/root/g")" 2 "links"
	assert_eq "$(stat -c '%u:%g %F %t:%T' "$img/layer/bin/true")" "0:0 character special file 0:0" "whiteout"
	run --separate-stderr vsctl restore ids1 --dir "$img"
	assert_failure 1
	assert_contains "$stderr" "image digest: "
	assert_eq "$(ct_state ids1)" stopped "state after the refused restore"

	# Back: every file of the image as the checkpoint wrote it.
	shift_ok image "$img" "$OTHER" "$base"
	shift_ok layer "$img/layer" "$OTHER" "$base"
	for f in "$copy"/*; do
		[[ -f "$f" ]] || continue
		cmp "$f" "$img/$(basename "$f")" || fail "$(basename "$f") differs after the round trip"
	done
	[[ "$(ls "$copy" | sort)" == "$(ls "$img" | sort)" ]] || fail "files differ: $(diff <(ls "$copy") <(ls "$img"))"
	assert_eq "$(stat -c '%u:%g %a' "$img/layer/root/d/f")" "$base:$base 4755" "setuid file back"
	assert_eq "$(stat -c '%u' "$img/layer/root")" "$base" "layer owner back"

	run --separate-stderr vsctl restore ids1 --dir "$img"
	assert_success
	assert_eq "$(cr_check_truth ids1)" running state
	cr_check_counter_continues ids1 "$frozen"
	run in_ct ids1 sh -c 'stat -c "%u %a" /root/d/f; test -e /bin/true || echo gone'
	assert_success
	assert_eq "$(squash "$output")" "0 4755 gone" "the layer inside after restore"
}

@test "vsd-test-idshift refuses an image and a layer outside the range, changing nothing" {
	ct_create_started ids2 || fail "start ids2"
	local base img=$VSD_TMP/images/ids2
	base=$(ct_field ids2 idmap.uid)
	mkdir -p "$VSD_TMP/images"
	run --separate-stderr vsctl checkpoint ids2 --dir "$img"
	assert_success
	cp -a "$img" "$img.orig"
	# A range the image is not in.
	run --separate-stderr "$SHIFT_BIN" image "$img" "$OTHER" "$base" 65536
	assert_failure 1
	assert_contains "$stderr" "is not inside the id range $OTHER-"
	# The layer's root is the container's: outside [OTHER, OTHER+65536).
	run --separate-stderr "$SHIFT_BIN" layer "$img/layer" "$OTHER" "$base" 65536
	assert_failure 1
	assert_contains "$stderr" "layer /"
	assert_contains "$stderr" "is outside the id range $OTHER-"
	local f
	for f in "$img.orig"/*; do
		[[ -f "$f" ]] || continue
		cmp "$f" "$img/$(basename "$f")" || fail "$(basename "$f") changed"
	done
	assert_eq "$(stat -c '%u' "$img/layer")" "$base" "layer owner"
	run --separate-stderr vsctl restore ids2 --dir "$img"
	assert_success
}
