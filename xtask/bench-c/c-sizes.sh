#!/bin/sh
# What the C decoders would cost in a loader's image (issue 23 item 4; docs/decoders.md
# "Against the C libraries"). rpvboot does not link them: this only measures the alternative.
#
#   xtask/bench-c/c-sizes.sh ZSTD_SRC LZ4_SRC XZ_EMBEDDED_SRC [RPVBOOT_ELF]
#
# with checkouts of github.com/facebook/zstd (tag v1.5.4, Debian 12's), github.com/lz4/lz4
# (v1.9.4) and github.com/tukaani-project/xz-embedded (Linux's lib/xz). Each decoder is compiled
# freestanding for x86_64 as a loader would build it (-Os -ffreestanding -fno-stack-protector
# -mno-red-zone -fPIC, one section per function), then linked with `ld -r --gc-sections` keeping
# only the entry points a one-buffer decode calls, so the encoders, streaming and dictionary
# code the loader would never call drop out. Prints .text + .rodata bytes (size -A) per variant.
# OPT=-O2 (or -O3) measures the speed-optimised build instead of -Os.
#
# RPVBOOT_ELF, an unstripped rpvboot (`CARGO_PROFILE_PV_STRIP=none CARGO_TARGET_DIR=target/symbols
# cargo build -p rpvboot --bin rpvboot --target x86_64-unknown-none --profile pv`: the same code
# as `cargo xtask build`, symbols kept), adds our decoders' bytes for comparison: the sizes of
# the code (t) and read-only data (r) symbols whose demangled names are in each decoder's
# crates. With LTO a function inlined into another counts where it was inlined (zstd-rs's frame
# decoder sits in `zstdframe::frame`, xz4rust's LZMA decoder in `kernelimage::xz`), and
# constants without a symbol are not counted.
set -eu
ZSTD=$1 LZ4=$2 XZE=$3 ELF=${4:-}
CC=${CC:-cc}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
FLAGS="${OPT:--Os} -ffreestanding -fno-stack-protector -mno-red-zone -fPIC -fno-asynchronous-unwind-tables \
-ffunction-sections -fdata-sections"

# name, roots (comma-separated), then cc arguments (sources and defines).
measure() {
	name=$1 roots=$2
	shift 2
	rm -f "$OUT"/*.o
	for src in "$@"; do
		case $src in
		-*) continue ;;
		esac
		defs=$(for a in "$@"; do case $a in -*) printf '%s ' "$a" ;; esac; done)
		# shellcheck disable=SC2086
		$CC $FLAGS $defs -c "$src" -o "$OUT/$(basename "$src" .c).o"
	done
	keep=$(echo "$roots" | tr ',' '\n' | sed 's/^/-u /' | tr '\n' ' ')
	# shellcheck disable=SC2086
	ld -r --gc-sections $keep -o "$OUT/all.o" "$OUT"/*.o
	size -A "$OUT/all.o" | awk -v n="$name" '
		$1 ~ /^\.text/ { t += $2 } $1 ~ /^\.rodata/ { r += $2 }
		END { printf "%-32s .text %7d  .rodata %6d  total %7d\n", n, t, r, t + r }'
}

ZC="$ZSTD/lib/common" ZD="$ZSTD/lib/decompress"
ZSRC="$ZC/entropy_common.c $ZC/error_private.c $ZC/fse_decompress.c $ZC/zstd_common.c $ZC/xxhash.c \
$ZC/debug.c $ZD/huf_decompress.c $ZD/zstd_ddict.c $ZD/zstd_decompress.c $ZD/zstd_decompress_block.c"
ZROOTS=ZSTD_createDCtx,ZSTD_decompressDCtx,ZSTD_freeDCtx
ZDEFS="-I$ZSTD/lib -I$ZC -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -DZSTD_NO_TRACE"
# shellcheck disable=SC2086
measure "zstd 1.5.4 decompress" $ZROOTS $ZDEFS $ZSRC
# ZSTD_LIB_MINIFY's size options (lib/libzstd.mk): one Huffman and one sequence decoder, no
# forced inlining, no error strings.
# shellcheck disable=SC2086
measure "zstd 1.5.4 decompress, minified" $ZROOTS $ZDEFS -DZSTD_NO_INLINE -DZSTD_STRIP_ERROR_STRINGS \
	-DHUF_FORCE_DECOMPRESS_X1 -DZSTD_FORCE_DECOMPRESS_SEQUENCES_SHORT $ZSRC
measure "lz4 1.9.4 LZ4_decompress_safe" LZ4_decompress_safe "$LZ4/lib/lz4.c"
# Linux's boot decompressor mode: single call into the output buffer, BCJ x86 (--x86).
XSRC="$XZE/linux/lib/xz"
# shellcheck disable=SC2086
measure "xz-embedded (single-call, x86)" xz_crc32_init,xz_dec_init,xz_dec_run,xz_dec_end \
	-I"$XZE/userspace" -I"$XZE/linux/include/linux" -DXZ_DEC_SINGLE -DXZ_DEC_X86 \
	$XSRC/xz_crc32.c $XSRC/xz_dec_stream.c $XSRC/xz_dec_lzma2.c $XSRC/xz_dec_bcj.c

[ -n "$ELF" ] || exit 0
# name, then an extended regex over demangled symbol names.
ours() {
	nm -S -C -t d "$ELF" | awk -v n="$1" -v re="$2" '
		NF >= 4 && ($3 ~ /^[tT]$/ || $3 ~ /^[rR]$/) {
			name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
			if (name ~ re) { s = $2 + 0; if ($3 ~ /[tT]/) t += s; else r += s }
		}
		END { printf "%-32s .text %7d  .rodata %6d  total %7d\n", n, t, r, t + r }'
}
ours "ours: zstd (zstd-rs, zstdframe)" 'zstd_rs::|zstdframe::|kernelimage::zstd'
ours "ours: lz4 (lz4_flex, lz4block)" 'lz4_flex::|lz4block::|kernelimage::lz4'
ours "ours: xz (xz4rust)" 'xz4rust::|kernelimage::xz'
ours "ours: gzip (miniz_oxide)" 'miniz_oxide::|kernelimage::gzip'
